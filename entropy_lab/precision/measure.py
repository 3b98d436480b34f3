"""Measured ratio bias of a precision pipeline, streamed block by block over sampled tokens.

For each block of R context rows (logits ``[R, K]`` from a source), the sampler path runs one
forward pass per row and M tokens per row are drawn from *its* distribution π_s (``sampling=
"faithful"``, the default; ``"exact_pi_diagnostic"`` draws from the exact π instead, see
:mod:`entropy_lab.precision.sampling`), with the sampler's log-probs ℓ_s reported from that pass.
The trainer path runs one forward pass per row (its network noise ξ_t is drawn once and shared by
the update and a recompute, as a deterministic network evaluated twice); the old-log-prob
``convention`` (:mod:`entropy_lab.algorithms.conventions`) says what the ratio divides by:

    r = exp(ℓ_θ − old),   old = ℓ_s (rollout) or the trainer's recompute at θ_old,
    w = the convention's importance weight (1, TIS min(ρ, C), IcePop 1[α ≤ ρ ≤ β]),

and r is compared with the exact one, r_exact = exp(ℓ_t − ℓ) in float64 (= 1 when the trainer sees
the same policy). Per bin of the exact log-prob ℓ the block adds to running sums:

    n,  Σ b,  Σ b²  (b = r/r_exact − 1),  #{r ≠ r_exact},  #{r > 1+ε_h},  #{r < 1−ε_l},
    Σ r·1[r ≤ 1+ε_h]  (PPO gradient weight of an A>0 token),  Σ r·1[r ≥ 1−ε_l]  (A<0),
    Σ b_w (b_w = w·r/r_exact − 1, the weighted ratio),  #{w truncated or masked},
    Σ (ℓ_t − ℓ_s)²  (the trainer–engine log-prob gap at θ_old on the same tokens),

so memory is O(R·K) whatever the number of tokens. Each block draws from its own generator
seeded by (seed, block index), so a block's numbers do not depend on how many blocks run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch

from entropy_lab.algorithms.conventions import get_convention
from entropy_lab.precision.pipelines import get_pipeline
from entropy_lab.precision.sampling import get_sampling
from entropy_lab.validation import InputError, check_number

F64 = torch.float64
LOGP_EDGES = (-math.inf, -20.0, -15.0, -10.0, -7.0, -5.0, -3.0, -2.0, -1.0, -0.5, -0.1,
              -0.01, 0.0)
SUMS = ("n", "sum_b", "sum_b2", "n_ne", "n_upper", "n_lower", "sum_w_pos", "sum_w_neg",
        "n_upper_exact", "n_lower_exact", "sum_bw", "n_corrected", "sum_d2",
        "sum_S2", "sum_Sn", "sum_n2", "sum_W2", "sum_Wn")


def block_generator(seed: int, block: int) -> torch.Generator:
    """The generator of block ``block``, seeded by (seed, block): blocks reproducible alone."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(block))


@dataclass(frozen=True)
class TokenRatios:
    """Per-token results of one block, all ``[R, M]`` float64 (M tokens per context row):
    exact log-prob ℓ, ratio r, its exact value, the convention's weight w, whether w truncated or
    masked the token, and the trainer–sampler log-prob gap ℓ_t − ℓ_s at θ_old."""

    logp: torch.Tensor
    ratio: torch.Tensor
    exact: torch.Tensor
    weight: torch.Tensor
    corrected: torch.Tensor
    gap: torch.Tensor


@dataclass(frozen=True)
class BlockPasses:
    """One block's forward passes, ``[R, M]`` float64 per token: exact ℓ, the sampler's reported
    ℓ_s, the trainer at θ_old (update layout) and at θ_new, its recompute in the other layout
    (None unless asked for), and the exact ratio."""

    logp: torch.Tensor
    sampler: torch.Tensor
    at_old: torch.Tensor
    new: torch.Tensor
    reordered: torch.Tensor | None
    exact: torch.Tensor


def block_passes(pipeline, source, n_rows: int, generator, policy_step=None,
                 tokens_per_row: int = 1, sampling: str = "faithful",
                 reordered: bool = False) -> BlockPasses:
    """Draw ``source(n_rows, generator)`` rows, sample M tokens per row and run both paths."""
    pipe = get_pipeline(pipeline)
    draw = get_sampling(sampling)
    logits = source(n_rows, generator)
    actions, sampler_all = draw(logits, lambda: pipe.sampler.all_logprobs(logits, generator),
                                tokens_per_row, generator)
    logp = torch.log_softmax(logits.to(F64), -1).gather(-1, actions)
    trainer = pipe.trainer
    with torch.no_grad():
        old_s = pipe.sampler.report(sampler_all, actions)
        xi_t = trainer.noise(logits, generator)
        z_t = trainer.perturb(logits, generator, xi_t)
        at_old = trainer.report(trainer.head(z_t), actions)
        new_logits = None if policy_step is None else policy_step(logits)
        new = at_old if new_logits is None else trainer.logprobs(new_logits, actions, generator,
                                                                 xi_t)
        other = trainer.reordered()
        recomputed = other.report(other.head(z_t), actions) if reordered else None
    if new_logits is None:
        exact = torch.ones_like(at_old)
    else:
        exact = torch.exp(torch.log_softmax(new_logits.to(F64), -1).gather(-1, actions) - logp)
    return BlockPasses(logp, old_s, at_old, new, recomputed, exact)


def convention_ratios(pipeline, convention, passes: BlockPasses) -> TokenRatios:
    """The ratios ``[R, M]`` of one block's passes under an old-log-prob ``convention``."""
    pipe, conv = get_pipeline(pipeline), get_convention(convention)
    recompute = None
    if conv.recomputes:
        recompute = passes.at_old if conv.layout == "same" else passes.reordered
        if recompute is None:
            raise InputError(f"convention {conv.name!r} with layout='reordered' needs passes "
                             "made with reordered=True")
    ratio = pipe.ratio(passes.new, conv.old_logp(passes.sampler, recompute))
    return TokenRatios(passes.logp, ratio, passes.exact, conv.is_weight(passes.sampler, recompute),
                       conv.corrected(passes.sampler, recompute), passes.at_old - passes.sampler)


def block_ratios(pipeline, source, n_rows: int, generator, policy_step=None,
                 tokens_per_row: int = 1, sampling: str = "faithful",
                 convention="rollout") -> TokenRatios:
    """Sample tokens on ``source(n_rows, generator)`` rows and compute their ratios ``[R, M]``.

    ``policy_step(logits [R, K]) -> [R, K]`` gives the trainer's logits (default: unchanged).
    ``convention``: a name or :class:`~entropy_lab.algorithms.conventions.Convention`.
    """
    conv = get_convention(convention)
    passes = block_passes(pipeline, source, n_rows, generator, policy_step, tokens_per_row,
                          sampling, reordered=conv.recomputes and conv.layout == "reordered")
    return convention_ratios(pipeline, conv, passes)


def bin_sums(tok: TokenRatios, edges=LOGP_EDGES, eps_low=0.2, eps_high=0.28,
             mask: torch.Tensor | None = None) -> torch.Tensor:
    """The running sums ``[n_bins, len(SUMS)]`` of one block, binned by exact log-prob.

    ``sum_S2``, ``sum_Sn``, ``sum_n2`` (and ``sum_W2``, ``sum_Wn`` for b_w) are over rows of
    (Σ b, count) per row and bin: tokens of one row share its forward pass, so the standard error
    treats rows, not tokens, as independent. ``mask`` (bool ``[R, M]``, default all) keeps only
    the real tokens (a transformer's response positions up to the first EOS).
    """
    n_bins = len(edges) - 1
    idx = torch.bucketize(tok.logp, torch.tensor(edges[1:-1], dtype=F64))
    r, ex = tok.ratio, tok.exact
    b = r / ex - 1
    bw = tok.weight * r / ex - 1
    up, lo = 1 + eps_high, 1 - eps_low
    one = torch.ones_like(r)
    cols = [one, b, b**2, (r != ex).to(F64), (r > up).to(F64), (r < lo).to(F64),
            r * (r <= up), r * (r >= lo), (ex > up).to(F64), (ex < lo).to(F64),
            bw, tok.corrected.to(F64), tok.gap**2]
    real = one if mask is None else mask.to(F64)
    cols = [c * real for c in cols]
    out = torch.zeros(n_bins, len(cols), dtype=F64)
    out.index_add_(0, idx.reshape(-1), torch.stack(cols, -1).reshape(-1, len(cols)))
    rows = r.shape[0]
    row_bin = (torch.arange(rows)[:, None] * n_bins + idx).reshape(-1)
    per_row = torch.zeros(rows * n_bins, 3, dtype=F64)
    per_row.index_add_(0, row_bin, (torch.stack([b, one, bw], -1) * real[..., None]).reshape(-1, 3))
    s_rb, n_rb, w_rb = per_row.view(rows, n_bins, 3).unbind(-1)
    cluster = torch.stack([(s_rb**2).sum(0), (s_rb * n_rb).sum(0), (n_rb**2).sum(0),
                           (w_rb**2).sum(0), (w_rb * n_rb).sum(0)], -1)
    return torch.cat([out, cluster], -1)


def default_block_rows(vocab: int) -> int:
    """Rows per block so that one ``[R, K]`` float64 tensor is about 32 MB."""
    return max(1, (1 << 22) // vocab)


def block_sizes(n_tokens: int, tokens_per_row: int, block_rows: int) -> list[int]:
    """Rows in each block: ⌈n_tokens / tokens_per_row⌉ rows in blocks of ``block_rows``."""
    n_rows = -(-n_tokens // tokens_per_row)
    return [min(block_rows, n_rows - start) for start in range(0, n_rows, block_rows)]


@dataclass(frozen=True)
class RatioBias:
    """Measurement result: ``by_bin`` (one row per log-prob bin) and ``summary`` (one row)."""

    by_bin: pd.DataFrame
    summary: pd.DataFrame


def measure_ratio_bias(pipeline, source, n_tokens: int, *, seed: int = 0,
                       block_rows: int | None = None, eps_low: float = 0.2,
                       eps_high: float = 0.28, edges=LOGP_EDGES, policy_step=None,
                       tokens_per_row: int = 1, sampling: str = "faithful",
                       convention="rollout") -> RatioBias:
    """E[r] − 1 by log-prob bin, fractions of tokens touched and out of band, clip weights.

    Args:
        pipeline: a pipeline or its registered name.
        source: ``source(n_rows, generator) -> [R, K]`` float64 logits (e.g. ``LogitSource``).
        n_tokens: number of sampled tokens (rounded up to whole rows).
        block_rows: rows per block (default: about 32 MB of float64 logits per block).
        tokens_per_row: tokens sampled per context row (one forward pass per row and path).
        sampling: "faithful" (tokens from the sampler's π_s, as an engine) or
            "exact_pi_diagnostic" (from the exact π; a diagnostic, labelled as such in the output).
        convention: the old-log-prob convention ("rollout", "recompute", "recompute+tis",
            "recompute+icepop") or a ``Convention``.
    """
    return measure_conventions(pipeline, source, n_tokens, [convention], seed=seed,
                               block_rows=block_rows, eps_low=eps_low, eps_high=eps_high,
                               edges=edges, policy_step=policy_step,
                               tokens_per_row=tokens_per_row, sampling=sampling)[0]


def measure_conventions(pipeline, source, n_tokens: int, conventions, *, seed: int = 0,
                        block_rows: int | None = None, eps_low: float = 0.2,
                        eps_high: float = 0.28, edges=LOGP_EDGES, policy_step=None,
                        tokens_per_row: int = 1, sampling: str = "faithful") -> list[RatioBias]:
    """:func:`measure_ratio_bias` for several conventions over the same tokens and passes (one
    sampler and one trainer pass per row serve them all); one result per convention, in order."""
    pipe = get_pipeline(pipeline)
    convs = [get_convention(c) for c in conventions]
    if not convs:
        raise InputError("conventions=[] is not allowed: expected at least one convention")
    get_sampling(sampling)
    check_number("n_tokens", n_tokens, lo=1, integer=True)
    check_number("eps_low", eps_low, lo=0.0, hi=1.0, hi_open=True)
    check_number("eps_high", eps_high, lo=0.0)
    check_number("tokens_per_row", tokens_per_row, lo=1, integer=True)
    rows = block_rows or default_block_rows(source.vocab)
    check_number("block_rows", rows, lo=1, integer=True)
    reordered = any(c.recomputes and c.layout == "reordered" for c in convs)
    totals = [torch.zeros(len(edges) - 1, len(SUMS), dtype=F64) for _ in convs]
    for block, n_rows in enumerate(block_sizes(n_tokens, tokens_per_row, rows)):
        passes = block_passes(pipe, source, n_rows, block_generator(seed, block), policy_step,
                              tokens_per_row, sampling, reordered)
        for total, conv in zip(totals, convs, strict=True):
            total += bin_sums(convention_ratios(pipe, conv, passes), edges, eps_low, eps_high)
    return [summarise(total, pipe.name, edges, sampling=sampling,
                      convention=conv.name + ("" if conv.layout == "same" else "/reordered"))
            for total, conv in zip(totals, convs, strict=True)]


def summarise(total: torch.Tensor, name: str, edges=LOGP_EDGES, sampling: str = "faithful",
              convention: str = "rollout") -> RatioBias:
    """Turn the sums ``[n_bins, len(SUMS)]`` into the tidy ``by_bin`` and ``summary`` frames."""
    if total.shape != (len(edges) - 1, len(SUMS)):
        raise InputError(f"total has shape {list(total.shape)}; expected "
                         f"[{len(edges) - 1}, {len(SUMS)}]")
    sums = pd.DataFrame(total.numpy(), columns=list(SUMS))
    sums.insert(0, "logp_hi", edges[1:])
    sums.insert(0, "logp_lo", edges[:-1])
    frames = [_rates(sums), _rates(sums[list(SUMS)].sum().to_frame().T)]
    for frame in frames:
        for col, value in (("convention", convention), ("sampling", sampling), ("pipeline", name)):
            frame.insert(0, col, value)
    return RatioBias(*frames)


def _rates(s: pd.DataFrame) -> pd.DataFrame:
    n = s["n"].where(s["n"] > 0)
    mean = s["sum_b"] / n
    # cluster-robust (rows independent): Var(mean) = Σ_rows (S_r − mean·n_r)² / n²
    var_mean = (s["sum_S2"] - 2 * mean * s["sum_Sn"] + mean**2 * s["sum_n2"]).clip(lower=0) / n**2
    out = s.drop(columns=list(SUMS)).copy()
    out["n"] = s["n"].astype("int64")
    out["measured_bias"] = mean
    out["bias_se"] = var_mean**0.5
    wmean = s["sum_bw"] / n
    wvar = (s["sum_W2"] - 2 * wmean * s["sum_Wn"] + wmean**2 * s["sum_n2"]).clip(lower=0) / n**2
    out["weighted_bias"] = wmean
    out["weighted_se"] = wvar**0.5
    out["frac_corrected"] = s["n_corrected"] / n
    out["gap_rms"] = (s["sum_d2"] / n) ** 0.5
    out["frac_ne1"] = s["n_ne"] / n
    out["frac_out"] = (s["n_upper"] + s["n_lower"]) / n
    out["frac_upper"] = s["n_upper"] / n
    out["frac_lower"] = s["n_lower"] / n
    out["frac_out_exact"] = (s["n_upper_exact"] + s["n_lower_exact"]) / n
    out["w_pos"] = s["sum_w_pos"] / n
    out["w_neg"] = s["sum_w_neg"] / n
    return out.reset_index(drop=True)
