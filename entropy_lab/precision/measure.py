"""Measured ratio bias of a precision pipeline, streamed block by block over sampled tokens.

For each block of R context rows (logits ``[R, K]`` from a source), one token per row is
sampled from π = softmax(z) (float64), both paths compute its log-prob, and the pipeline's
ratio r is compared with the exact one, r_exact = exp(ℓ_t − ℓ_s) in float64 (= 1 when the trainer
sees the same policy). Per bin of the exact log-prob ℓ the block adds to running sums:

    n,  Σ b,  Σ b²  (b = r/r_exact − 1),  #{r ≠ r_exact},  #{r > 1+ε_h},  #{r < 1−ε_l},
    Σ r·1[r ≤ 1+ε_h]  (PPO gradient weight of an A>0 token),  Σ r·1[r ≥ 1−ε_l]  (A<0),

so memory is O(R·K) whatever the number of tokens. Each block draws from its own generator
seeded by (seed, block index), so a block's numbers do not depend on how many blocks run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch

from entropy_lab.precision.pipelines import get_pipeline
from entropy_lab.validation import InputError, check_number

F64 = torch.float64
LOGP_EDGES = (-math.inf, -20.0, -15.0, -10.0, -7.0, -5.0, -3.0, -2.0, -1.0, -0.5, -0.1,
              -0.01, 0.0)
SUMS = ("n", "sum_b", "sum_b2", "n_ne", "n_upper", "n_lower", "sum_w_pos", "sum_w_neg",
        "n_upper_exact", "n_lower_exact", "sum_S2", "sum_Sn", "sum_n2")


def block_generator(seed: int, block: int) -> torch.Generator:
    """The generator of block ``block``, seeded by (seed, block): blocks reproducible alone."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(block))


@dataclass(frozen=True)
class TokenRatios:
    """Per-token results of one block, all ``[R, M]`` float64 (M tokens per context row)."""

    logp: torch.Tensor
    ratio: torch.Tensor
    exact: torch.Tensor


def sample_block(source, n_rows: int, tokens_per_row: int, generator):
    """Logits ``[R, K]`` from ``source``, M = ``tokens_per_row`` tokens per row sampled from
    π (with replacement), and their exact log-probs: ``(logits, actions [R, M], logp [R, M])``."""
    logits = source(n_rows, generator)
    logp_all = torch.log_softmax(logits, -1)
    actions = torch.multinomial(logp_all.exp(), tokens_per_row, replacement=True,
                                generator=generator)
    return logits, actions, logp_all.gather(-1, actions)


def block_ratios(pipeline, source, n_rows: int, generator, policy_step=None,
                 tokens_per_row: int = 1) -> TokenRatios:
    """Sample tokens on ``source(n_rows, generator)`` rows and compute their ratios ``[R, M]``.

    ``policy_step(logits [R, K]) -> [R, K]`` gives the trainer's logits (default: unchanged).
    """
    pipe = get_pipeline(pipeline)
    logits, actions, logp = sample_block(source, n_rows, tokens_per_row, generator)
    new_logits = logits if policy_step is None else policy_step(logits)
    ratio = pipe.ratios(logits, actions, generator, trainer_logits=new_logits)
    if policy_step is None:
        exact = torch.ones_like(ratio)
    else:
        exact = torch.exp(torch.log_softmax(new_logits, -1).gather(-1, actions) - logp)
    return TokenRatios(logp, ratio, exact)


def bin_sums(tok: TokenRatios, edges=LOGP_EDGES, eps_low=0.2, eps_high=0.28) -> torch.Tensor:
    """The running sums ``[n_bins, len(SUMS)]`` of one block, binned by exact log-prob.

    ``sum_S2``, ``sum_Sn``, ``sum_n2`` are over rows of (Σ b, count) per row and bin: tokens of one
    row share its forward pass, so the standard error treats rows, not tokens, as independent.
    """
    n_bins = len(edges) - 1
    idx = torch.bucketize(tok.logp, torch.tensor(edges[1:-1], dtype=F64))
    r, ex = tok.ratio, tok.exact
    b = r / ex - 1
    up, lo = 1 + eps_high, 1 - eps_low
    one = torch.ones_like(r)
    cols = [one, b, b**2, (r != ex).to(F64), (r > up).to(F64), (r < lo).to(F64),
            r * (r <= up), r * (r >= lo), (ex > up).to(F64), (ex < lo).to(F64)]
    out = torch.zeros(n_bins, len(cols), dtype=F64)
    out.index_add_(0, idx.reshape(-1), torch.stack(cols, -1).reshape(-1, len(cols)))
    rows = r.shape[0]
    row_bin = (torch.arange(rows)[:, None] * n_bins + idx).reshape(-1)
    per_row = torch.zeros(rows * n_bins, 2, dtype=F64)
    per_row.index_add_(0, row_bin, torch.stack([b, one], -1).reshape(-1, 2))
    s_rb, n_rb = per_row.view(rows, n_bins, 2).unbind(-1)
    cluster = torch.stack([(s_rb**2).sum(0), (s_rb * n_rb).sum(0), (n_rb**2).sum(0)], -1)
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
                       tokens_per_row: int = 1) -> RatioBias:
    """E[r] − 1 by log-prob bin, fractions of tokens touched and out of band, clip weights.

    Args:
        pipeline: a pipeline or its registered name.
        source: ``source(n_rows, generator) -> [R, K]`` float64 logits (e.g. ``LogitSource``).
        n_tokens: number of sampled tokens (rounded up to whole rows).
        block_rows: rows per block (default: about 32 MB of float64 logits per block).
        tokens_per_row: tokens sampled per context row (one forward pass per row and path).
    """
    pipe = get_pipeline(pipeline)
    check_number("n_tokens", n_tokens, lo=1, integer=True)
    check_number("eps_low", eps_low, lo=0.0, hi=1.0, hi_open=True)
    check_number("eps_high", eps_high, lo=0.0)
    check_number("tokens_per_row", tokens_per_row, lo=1, integer=True)
    rows = block_rows or default_block_rows(source.vocab)
    check_number("block_rows", rows, lo=1, integer=True)
    total = torch.zeros(len(edges) - 1, len(SUMS), dtype=F64)
    for block, n_rows in enumerate(block_sizes(n_tokens, tokens_per_row, rows)):
        tok = block_ratios(pipe, source, n_rows, block_generator(seed, block), policy_step,
                           tokens_per_row)
        total += bin_sums(tok, edges, eps_low, eps_high)
    return summarise(total, pipe.name, edges)


def summarise(total: torch.Tensor, name: str, edges=LOGP_EDGES) -> RatioBias:
    """Turn the sums ``[n_bins, len(SUMS)]`` into the tidy ``by_bin`` and ``summary`` frames."""
    if total.shape != (len(edges) - 1, len(SUMS)):
        raise InputError(f"total has shape {list(total.shape)}; expected "
                         f"[{len(edges) - 1}, {len(SUMS)}]")
    sums = pd.DataFrame(total.numpy(), columns=list(SUMS))
    sums.insert(0, "logp_hi", edges[1:])
    sums.insert(0, "logp_lo", edges[:-1])
    by_bin = _rates(sums)
    by_bin.insert(0, "pipeline", name)
    whole = _rates(sums[list(SUMS)].sum().to_frame().T)
    whole.insert(0, "pipeline", name)
    return RatioBias(by_bin, whole)


def _rates(s: pd.DataFrame) -> pd.DataFrame:
    n = s["n"].where(s["n"] > 0)
    mean = s["sum_b"] / n
    # cluster-robust (rows independent): Var(mean) = Σ_rows (S_r − mean·n_r)² / n²
    var_mean = (s["sum_S2"] - 2 * mean * s["sum_Sn"] + mean**2 * s["sum_n2"]).clip(lower=0) / n**2
    out = s.drop(columns=list(SUMS)).copy()
    out["n"] = s["n"].astype("int64")
    out["measured_bias"] = mean
    out["bias_se"] = var_mean**0.5
    out["frac_ne1"] = s["n_ne"] / n
    out["frac_out"] = (s["n_upper"] + s["n_lower"]) / n
    out["frac_upper"] = s["n_upper"] / n
    out["frac_lower"] = s["n_lower"] / n
    out["frac_out_exact"] = (s["n_upper_exact"] + s["n_lower_exact"]) / n
    out["w_pos"] = s["sum_w_pos"] / n
    out["w_neg"] = s["sum_w_neg"] / n
    return out.reset_index(drop=True)
