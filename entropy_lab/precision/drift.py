"""What a measured ratio bias implies: entropy drift (Theorem 1) and the predicted bias per bin.

Entropy drift. A PPO token's gradient is r·A·∇log π where the token is inside the band for the
sign of A, 0 where clipped. With the per-bin mean weights w₊ = E[r·1(r ≤ 1+ε_h)] (A > 0) and
w₋ = E[r·1(r ≥ 1−ε_l)] (A < 0) measured for a pipeline, the expected vanilla PG step on logits z
with advantages A becomes

    Δz_a = π_a (w_a A_a − E_π[w A])        (exact arithmetic: w ≡ 1)

and Theorem 1 gives ΔH ≈ −Cov_π(log π, Δz). We use the calibrated advantage
A = L = log π − E_π log π (what the model prefers is rewarded; the case where entropy falls)
and report the drift ΔH_biased − ΔH_exact per unit step size, averaged over context rows.
"""

from __future__ import annotations

import pandas as pd
import torch

from entropy_lab.precision.measure import (
    LOGP_EDGES,
    block_generator,
    block_sizes,
    default_block_rows,
)
from entropy_lab.precision.pipelines import get_pipeline
from entropy_lab.precision.predict import predict_token_bias
from entropy_lab.precision.sampling import exact_pi_diagnostic
from entropy_lab.theory import centered_logprob, first_order_entropy_change
from entropy_lab.validation import check_number

F64 = torch.float64


def _bin_lookup(values, logp, edges) -> torch.Tensor:
    idx = torch.bucketize(logp, torch.tensor(edges[1:-1], dtype=F64))
    table = torch.tensor(pd.Series(values).fillna(1.0).to_numpy(), dtype=F64)
    return table[idx]


def implied_entropy_drift(by_bin: pd.DataFrame, logits: torch.Tensor,
                          edges=LOGP_EDGES) -> dict:
    """First-order entropy change of a calibrated PG step with and without the biased weights.

    Args:
        by_bin: a ``RatioBias.by_bin`` frame (columns ``w_pos``, ``w_neg``; empty bins count as 1).
        logits: ``[R, K]`` context rows on which to evaluate the step.
    Returns:
        ``{"dH_exact", "dH_biased", "drift", "rel_drift"}`` (means over rows, per unit step).
    """
    z = logits.to(F64)
    logp = torch.log_softmax(z, -1)
    p = logp.exp()
    adv = centered_logprob(z)
    w = torch.where(adv > 0, _bin_lookup(by_bin["w_pos"], logp, edges),
                    _bin_lookup(by_bin["w_neg"], logp, edges))
    step_exact = p * (adv - (p * adv).sum(-1, keepdim=True))
    wa = w * adv
    step_biased = p * (wa - (p * wa).sum(-1, keepdim=True))
    dh_exact = first_order_entropy_change(z, step_exact).mean().item()
    dh_biased = first_order_entropy_change(z, step_biased).mean().item()
    drift = dh_biased - dh_exact
    return {"dH_exact": dh_exact, "dH_biased": dh_biased, "drift": drift,
            "rel_drift": drift / abs(dh_exact) if dh_exact else float("nan")}


def predicted_by_bin(pipeline, source, n_tokens: int, *, seed: int = 0, block_rows=None,
                     edges=LOGP_EDGES, tokens_per_row: int = 1) -> pd.DataFrame:
    """Mean predicted E[r] − 1 per log-prob bin over tokens drawn from the exact π.

    The rounding models of :mod:`entropy_lab.precision.predict` give E[r | y] for a *given*
    token, before any selection by the sampler, so they predict the ``"exact_pi_diagnostic"``
    measurement; it uses the same per-block generators as :func:`measure_ratio_bias` with that
    sampling, so tokens coincide. (Under faithful sampling the token-conditional mean is tilted by
    the sampler's selection, Theorem 3 (iii) in :mod:`entropy_lab.precision.theorem3`.)
    """
    pipe = get_pipeline(pipeline)
    check_number("n_tokens", n_tokens, lo=1, integer=True)
    rows = block_rows or default_block_rows(source.vocab)
    sums = torch.zeros(len(edges) - 1, 2, dtype=F64)
    bins = torch.tensor(edges[1:-1], dtype=F64)
    for block, n_rows in enumerate(block_sizes(n_tokens, tokens_per_row, rows)):
        gen = block_generator(seed, block)
        logits = source(n_rows, gen)
        actions, _ = exact_pi_diagnostic(logits, lambda: None, tokens_per_row, gen)
        logp = torch.log_softmax(logits.to(F64), -1).gather(-1, actions)
        pred = predict_token_bias(pipe, logits, actions, gen).reshape(-1)
        idx = torch.bucketize(logp, bins).reshape(-1)
        sums.index_add_(0, idx, torch.stack([torch.ones_like(pred), pred], -1))
    n = sums[:, 0]
    return pd.DataFrame({
        "pipeline": pipe.name, "logp_lo": edges[:-1], "logp_hi": edges[1:],
        "predicted_bias": (sums[:, 1] / n.where(n > 0, torch.nan)).numpy()})

