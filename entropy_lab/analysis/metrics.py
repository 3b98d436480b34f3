"""Metrics on simulator and harness results: cumulative entropy, correlations with bootstrap
confidence intervals, exact pass@k curves, convergence orders and tidy per-step summaries.

Everything here takes numpy arrays or pandas DataFrames (the edge of the package,
docs/architecture.md, "Dependency direction") and
returns numpy arrays, dicts or DataFrames; nothing here plots.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from entropy_lab import passk
from entropy_lab.validation import InputError, check_choice, check_number

BANDS = ("sem", "std", "ci95", "none")


def _as_float_array(name: str, values, ndim: int | None = None) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().to(torch.float64).numpy()
    arr = np.asarray(values, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise InputError(f"{name} has shape {arr.shape}: expected {ndim} dimension(s)")
    return arr


def _require_columns(df: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"columns {missing} are not in the frame: it has {sorted(map(str, df.columns))}"
        )


def cumulative_entropy(entropy_t) -> np.ndarray:
    """C_t = Σ_{s ≤ t} H_s, the running sum of entropy over training steps.

    Args:
        entropy_t: ``[T]`` (or ``[..., T]``) entropy per step, steps on the last axis.
    Returns:
        ``[..., T]`` float64 running sums (the last entry is the run's cumulative entropy).
    """
    h = _as_float_array("entropy_t", entropy_t)
    if h.ndim == 0:
        raise InputError("entropy_t is a scalar: expected at least one step axis [T]")
    return np.cumsum(h, axis=-1)


def correlation(x, y, method: str = "pearson", n_boot: int = 2000, level: float = 0.95,
                seed: int = 0) -> dict:
    """ρ(x, y) with a percentile bootstrap confidence interval (pairs resampled with replacement).

    Pearson's r = Cov(x, y)/(σ_x σ_y); Spearman's ρ is Pearson's r on the ranks.

    Args:
        x, y: ``[N]`` paired observations, N >= 3.
        method: ``"pearson"`` or ``"spearman"``.
        n_boot: bootstrap resamples (>= 100).
        level: coverage of the interval in (0, 1).
        seed: seed of the bootstrap's numpy generator (the CI is reproducible).
    Returns:
        ``{"r", "lo", "hi", "n", "method", "level"}``; resamples with a constant column (undefined
        correlation) are dropped before the percentiles are taken.
    """
    check_choice("method", method, ("pearson", "spearman"))
    check_number("n_boot", n_boot, lo=100, integer=True)
    check_number("level", level, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    x_n = _as_float_array("x", x, ndim=1)
    y_n = _as_float_array("y", y, ndim=1)
    if x_n.shape != y_n.shape or x_n.size < 3:
        raise InputError(
            f"x and y have shapes {x_n.shape}, {y_n.shape}: expected equal [N], N >= 3"
        )
    if method == "spearman":
        from scipy.stats import rankdata

        x_n, y_n = rankdata(x_n), rankdata(y_n)
    r = _pearson(x_n[None], y_n[None])[0]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x_n.size, size=(n_boot, x_n.size))
    xb, yb = x_n[idx], y_n[idx]
    if method == "spearman":
        from scipy.stats import rankdata

        xb, yb = rankdata(xb, axis=1), rankdata(yb, axis=1)
    rb = _pearson(xb, yb)
    rb = rb[np.isfinite(rb)]
    alpha = (1.0 - level) / 2.0
    lo, hi = (np.quantile(rb, [alpha, 1.0 - alpha]) if rb.size else (np.nan, np.nan))
    return {"r": float(r), "lo": float(lo), "hi": float(hi), "n": int(x_n.size),
            "method": method, "level": level}


def _pearson(x_rn: np.ndarray, y_rn: np.ndarray) -> np.ndarray:
    """Row-wise Pearson r of ``[R, N]`` arrays; NaN where a row is constant."""
    xc = x_rn - x_rn.mean(axis=1, keepdims=True)
    yc = y_rn - y_rn.mean(axis=1, keepdims=True)
    den = np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (xc * yc).sum(axis=1) / np.where(den > 0, den, 1.0), np.nan)


def pass_at_k_curve(success_prob, ks, prompt_probs=None) -> np.ndarray:
    """pass@k = Σ_c w_c·(1 − (1 − p_c)^k), exact from per-prompt success probabilities, for
    several k (``entropy_lab.passk.exact_pass_at_k``, the simulator's and the harness's definition).

    Args:
        success_prob: ``[..., C]`` probability that one sample from prompt c is correct.
        ks: ``[M]`` budgets k >= 1.
        prompt_probs: ``[C]`` prompt weights w (summing to 1); uniform when omitted.
    Returns:
        ``[..., M]`` float64 pass@k for each k, computed as 1 − exp(k·log1p(−p)) so p near 0 keeps
        its precision.
    """
    p = _as_float_array("success_prob", success_prob)
    if p.ndim == 0 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise InputError(
            f"success_prob={success_prob!r} is not allowed: expected [..., C] in [0, 1]"
        )
    k = np.asarray(ks)
    if k.ndim != 1 or k.size == 0 or k.dtype.kind not in "iu" or np.any(k < 1):
        raise InputError(f"ks={ks!r} is not allowed: expected a 1-d list of integers >= 1")
    if prompt_probs is None:
        w = np.full(p.shape[-1], 1.0 / p.shape[-1])
    else:
        w = _as_float_array("prompt_probs", prompt_probs, ndim=1)
        if w.shape[0] != p.shape[-1] or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-9:
            raise InputError(
                f"prompt_probs={prompt_probs!r} is not allowed: expected [C={p.shape[-1]}] "
                "non-negative weights summing to 1"
            )
    p_t, w_t = torch.from_numpy(p), torch.from_numpy(np.asarray(w, dtype=np.float64))
    return np.stack([passk.exact_pass_at_k(p_t, int(kk), w_t).numpy() for kk in k], axis=-1)


def convergence_order(step_sizes, errors) -> float:
    """The slope p of log|error| = p·log η + c (least squares): the observed order of an error.

    Theorem 1's first-order prediction has error O(η²), so p ≈ 2 is the expected reading.

    Args:
        step_sizes: ``[M]`` positive step sizes η, M >= 2.
        errors: ``[M]`` errors at those step sizes (their absolute values are used; zeros raise).
    """
    eta = _as_float_array("step_sizes", step_sizes, ndim=1)
    err = np.abs(_as_float_array("errors", errors, ndim=1))
    if eta.shape != err.shape or eta.size < 2 or np.any(eta <= 0) or np.any(err == 0):
        raise InputError(
            f"step_sizes {eta.shape} and errors {err.shape}: expected equal [M], M >= 2, "
            "positive step sizes and non-zero errors"
        )
    slope, _ = np.polyfit(np.log(eta), np.log(err), 1)
    return float(slope)


def summarize(df: pd.DataFrame, value: str, by=("algorithm",), x: str = "step",
              band: str = "sem") -> pd.DataFrame:
    """Mean of ``value`` over seeds at each (group, x), with a band half-width.

    Args:
        df: one row per (seed, step, group…).
        value: the column to average (e.g. ``"entropy"``).
        by: group columns (one line per group); may be empty.
        x: the x column (usually ``"step"``).
        band: ``"sem"`` (σ/√n), ``"std"`` (σ), ``"ci95"`` (1.96·σ/√n) or ``"none"`` (0);
            σ is the sample standard deviation (ddof 1, 0 for a single seed).
    Returns:
        A frame with columns ``*by, x, mean, lo, hi, n`` sorted by group then x; NaN values
        (e.g. update metrics at step 0, before any update) are left out, and an x where every
        value is NaN has no row.
    """
    check_choice("band", band, BANDS)
    by = list(by)
    _require_columns(df, [*by, x, value])
    g = df[df[value].notna()].groupby([*by, x], sort=True)[value]
    out = g.agg(mean="mean", sd="std", n="count").reset_index()
    sd = out["sd"].fillna(0.0).to_numpy()
    n = out["n"].to_numpy().astype(np.float64)
    half = {"sem": sd / np.sqrt(n), "std": sd, "ci95": 1.96 * sd / np.sqrt(n),
            "none": np.zeros_like(sd)}[band]
    out["lo"] = out["mean"] - half
    out["hi"] = out["mean"] + half
    return out.drop(columns="sd")[[*by, x, "mean", "lo", "hi", "n"]]


def final_summary(df: pd.DataFrame, by=("algorithm",), seed: str = "seed", step: str = "step",
                  entropy: str = "entropy", values=("J",), last: int = 1) -> pd.DataFrame:
    """One row per (group, seed): cumulative entropy Σ_t H_t, initial and final entropy, and the
    mean of each of ``values`` over the last ``last`` steps.

    Args:
        df: one row per (group…, seed, step).
        by: group columns (e.g. ``("algorithm",)``).
        seed, step, entropy: the seed, step and entropy column names.
        values: performance columns to report at the end of training (e.g. ``("J", "pass@8")``).
        last: how many final steps to average (smooths sampled noise).
    Returns:
        Columns ``*by, seed, cum_entropy, entropy_initial, entropy_final, *values`` (the values
        under their own names, meaning their final averages).
    """
    check_number("last", last, lo=1, integer=True)
    by = list(by)
    values = list(values)
    _require_columns(df, [*by, seed, step, entropy, *values])
    rows = []
    for key, run in df.sort_values(step).groupby([*by, seed], sort=True):
        key = key if isinstance(key, tuple) else (key,)
        h = run[entropy].to_numpy(dtype=np.float64)
        row = dict(zip([*by, seed], key))
        row.update(cum_entropy=float(cumulative_entropy(h)[-1]), entropy_initial=float(h[0]),
                   entropy_final=float(h[-1]))
        for v in values:
            row[v] = float(run[v].to_numpy(dtype=np.float64)[-last:].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def band_exit_fraction(ratio_min, ratio_max, eps_low: float, eps_high: float) -> float:
    """Fraction of updates with some ratio outside [1 − ε_low, 1 + ε_high] (Theorem 2's premise).

    Args:
        ratio_min, ratio_max: ``[U]`` the smallest and largest ratio π_new/π_old of each update.
        eps_low, eps_high: the clip band.
    """
    check_number("eps_low", eps_low, lo=0.0, hi=1.0)
    check_number("eps_high", eps_high, lo=0.0)
    lo = _as_float_array("ratio_min", ratio_min, ndim=1)
    hi = _as_float_array("ratio_max", ratio_max, ndim=1)
    if lo.shape != hi.shape or lo.size == 0:
        raise InputError(f"ratio_min {lo.shape} and ratio_max {hi.shape}: expected equal [U], U>0")
    outside = (lo < 1.0 - eps_low) | (hi > 1.0 + eps_high)
    return float(outside.mean())


def sampled_logp_quantile(problem, logits, q: float = 0.5) -> np.ndarray:
    """The q-quantile of |log π(a|s)| over the tokens a rollout samples, exactly, per replica.

    A sampled token is at state s with probability v_s / Σ_s' v_s' (v = ``problem.visits``, the
    expected visits per episode) and is action a with probability π(a|s), so the tokens' |log π|
    has the discrete distribution with weights w_sa = v_s π(a|s) / Σ_s' v_s'. Returned: the
    lower weighted quantile, min{x : Σ_{|log π_sa| ≤ x} w_sa ≥ q}.

    Args:
        problem: a tabular problem (``visits``).
        logits: ``[B, S, K]`` policy logits.
        q: the quantile in (0, 1) (0.5: the median).
    Returns:
        ``[B]`` float64.
    """
    check_number("q", q, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    z = problem.check_logits(torch.as_tensor(logits)).to(torch.float64)
    logp = torch.log_softmax(z, -1)
    v = problem.visits(z)
    w = (v / v.sum(-1, keepdim=True))[..., None] * logp.exp()
    x = (-logp).flatten(1)
    order = torch.argsort(x, dim=-1)
    cum = torch.cumsum(torch.gather(w.flatten(1), -1, order), -1)
    cum = cum / cum[:, -1:]
    first = torch.searchsorted(cum, torch.full((cum.shape[0], 1), q, dtype=cum.dtype))
    first = first.clamp(max=cum.shape[-1] - 1)
    return torch.gather(torch.gather(x, -1, order), -1, first).squeeze(-1).numpy()
