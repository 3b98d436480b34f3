"""Network-level disagreement from a real bf16 matmul: the unembedding z = h·W computed in two
reduction orders (docs/precision.md, "Mechanisms (a)–(f)", e — the matmul emulation).

Construction (fixed, deterministic; no generator is drawn from):

* W ``[D, K]``: the unembedding, W_db = (scale/√D)·g_db, g ~ N(0, 1) from
  ``torch.Generator().manual_seed(seed)``, stored in ``dtype`` (bf16). Both paths hold the same
  weights (synchronised), so the rounding of W is shared and cancels in r.
* h ``[..., D]``: the hidden state *derived from the given logits*: the least-squares solution of
  h·W = z (h = z·Wᵀ(W·Wᵀ)⁻¹ in float64), rounded to ``dtype``. For logits made by
  :class:`MatmulSource` (z = h₀·W exactly) this recovers h₀; for any other z it is the part of z a
  D-dimensional hidden state can carry, and the rest ρ = z − h·W (exact) is carried unrounded and
  identically on both paths.
* Each path's logits: z' = z + (order(h, W) − h·W), the bracket being the path's rounding error:
  ``order`` is a real torch matmul in ``dtype`` (registry ``ORDERS``) and h·W the float64 value of
  the same bf16 inputs (products of bf16 numbers are exact in float64). The error is added
  detached, so the trainer's log-probs stay differentiable w.r.t. z (straight-through).

Orders: "whole" — one GEMM over all rows (the CPU kernel accumulates in fp32 and rounds the
output to bf16 once); "rows" — one GEMM per row (a different batching; the same kernel);
"split_d" — D split into ``chunks`` equal slices, each slice's GEMM output rounded to bf16 and the
partial logits summed left to right in bf16 (a tensor-parallel row-split layer with a bf16
all-reduce, or a split-K kernel with bf16 partials). Identical orders give identical logits, so
r = 1 exactly; the size of the disagreement is a measurement (see :func:`logit_disagreement`),
not an assumption as in the relative-noise model z·(1 + ε·ξ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from entropy_lab.precision.logits import boost_top
from entropy_lab.registry import Registry
from entropy_lab.validation import check_choice, check_number, check_tensor

F64 = torch.float64
ORDERS: Registry = Registry("matmul reduction order")


@ORDERS.register("whole")
def _whole(h: torch.Tensor, w: torch.Tensor, chunks: int) -> torch.Tensor:
    """One GEMM ``[M, D] @ [D, K]`` in the inputs' dtype."""
    return h @ w


@ORDERS.register("rows")
def _rows(h: torch.Tensor, w: torch.Tensor, chunks: int) -> torch.Tensor:
    """One GEMM per row (batch of 1): a different batching of the same products."""
    return torch.cat([h[i:i + 1] @ w for i in range(h.shape[0])])


@ORDERS.register("split_d")
def _split_d(h: torch.Tensor, w: torch.Tensor, chunks: int) -> torch.Tensor:
    """Σ_c (h_c @ W_c) with each partial GEMM rounded to the dtype and summed in it, in order."""
    total = None
    for h_c, w_c in zip(h.tensor_split(chunks, -1), w.tensor_split(chunks, 0), strict=True):
        part = h_c @ w_c
        total = part if total is None else total + part
    return total


@lru_cache(maxsize=8)
def unembedding(vocab: int, dim: int, scale: float, seed: int,
                dtype: torch.dtype = torch.bfloat16) -> tuple[torch.Tensor, torch.Tensor]:
    """W ``[D, K]`` in ``dtype`` and the Cholesky factor ``[D, D]`` of W·Wᵀ (float64), cached."""
    g = torch.Generator().manual_seed(seed)
    w = (scale / math.sqrt(dim)) * torch.randn(dim, vocab, generator=g, dtype=F64)
    w = w.to(dtype)
    w64 = w.to(F64)
    return w, torch.linalg.cholesky(w64 @ w64.T)


@dataclass(frozen=True)
class LogitMatmul:
    """One path's unembedding matmul z' = z + (order(h, W) − h·W); see the module docstring.

    Attributes:
        order: a name in ``ORDERS`` ("whole", "rows", "split_d").
        chunks: number of D slices for "split_d" (e.g. the tensor-parallel degree).
        dim: D, the hidden size.
        scale: the typical |z| of the matmul's logits (W_db has standard deviation scale/√D).
        seed: seed of W.
        dtype: the matmul's input and output dtype.
    """

    order: str = "whole"
    chunks: int = 8
    dim: int = 512
    scale: float = 2.0
    seed: int = 0
    dtype: torch.dtype = torch.bfloat16

    def __post_init__(self):
        ORDERS.get(self.order)
        check_number("chunks", self.chunks, lo=1, integer=True)
        check_number("dim", self.dim, lo=1, integer=True)
        check_number("scale", self.scale, lo=0.0, lo_open=True)
        check_number("seed", self.seed, lo=0, integer=True)
        check_number("chunks", self.chunks, hi=self.dim, integer=True)
        if self.dtype not in (torch.bfloat16, torch.float16, torch.float32):
            check_choice("dtype", self.dtype, (torch.bfloat16, torch.float16, torch.float32))

    def weights(self, vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
        """W ``[D', K]`` and its Gram's Cholesky factor, D' = min(D, K) so that h·W = z is
        solvable (a tabular K below D gets a square, invertible W: all of z goes through it)."""
        return unembedding(vocab, min(self.dim, vocab), float(self.scale), self.seed, self.dtype)

    def hidden(self, logits: torch.Tensor) -> torch.Tensor:
        """h ``[M, D]`` in ``dtype``: least-squares h·W = z for logits ``[..., K]`` (flattened)."""
        w, chol = self.weights(logits.shape[-1])
        z = logits.detach().to(F64).reshape(-1, logits.shape[-1])
        rhs = (z @ w.to(F64).T).T
        return torch.cholesky_solve(rhs, chol).T.to(self.dtype)

    def error(self, logits: torch.Tensor) -> torch.Tensor:
        """order(h, W) − h·W ``[..., K]`` float64: this path's rounding error of the logits."""
        check_tensor("logits", logits, min_ndim=1, last_dim_min=2, axes="[..., K]")
        w, _ = self.weights(logits.shape[-1])
        h = self.hidden(logits)
        low = ORDERS.get(self.order)(h, w, min(self.chunks, w.shape[0])).to(F64)
        return (low - h.to(F64) @ w.to(F64)).reshape(logits.shape)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """z' ``[..., K]`` float64: the logits as this path's matmul computes them."""
        return logits + self.error(logits)


@dataclass(frozen=True)
class MatmulSource:
    """Rows z = h₀·W ``[R, K]`` of the unembedding of ``matmul`` (so the whole logit goes through
    the matmul): h₀ ~ N(0, 1) ``[R, D]``; for "peaked" rows h₀ also moves along W's column of the
    top token so that its logit rises to the value giving 1 − p_top log-uniform on [1e-4, 0.5]
    (as in :class:`LogitSource`; approximate here, since the move shifts the other logits by
    O(1/√D) of it). h₀ is rounded to the matmul's dtype and z is its exact float64 product."""

    vocab: int = 32_000
    kind: str = "peaked"
    matmul: LogitMatmul = LogitMatmul()

    def __post_init__(self):
        check_number("vocab", self.vocab, lo=2, hi=1_000_000, integer=True)
        check_choice("kind", self.kind, ("peaked", "gaussian"))

    def __call__(self, n_rows: int, generator: torch.Generator) -> torch.Tensor:
        check_number("n_rows", n_rows, lo=1, integer=True)
        w, _ = self.matmul.weights(self.vocab)
        w64 = w.to(F64)
        h = torch.randn(n_rows, w.shape[0], generator=generator, dtype=F64)
        if self.kind == "peaked":
            z0 = h @ w64
            top = z0.argmax(-1)
            rise = (boost_top(z0, generator) - z0).gather(-1, top[:, None])
            col = w64[:, top].T
            h = h + rise * col / (col**2).sum(-1, keepdim=True)
        return h.to(self.matmul.dtype).to(F64) @ w64


def logit_disagreement(sampler: LogitMatmul, trainer: LogitMatmul, logits: torch.Tensor) -> dict:
    """How far the two paths' logits ``[..., K]`` are apart, relative to the logits.

    Returns ``rel_rms`` = rms(z'_s − z'_t)/rms(z) (the relative-noise model z·(1 + c·ε·ξ) on both
    paths gives √2·c·ε), ``c_equiv`` = rel_rms/(√2·ε_bf16) (the noise scale c that model would
    need), ``rel_top`` = rms over rows of (z'_s − z'_t)/|z| at each row's top logit, and
    ``frac_differ`` (fraction of logits not bitwise equal).
    """
    z = logits.to(F64)
    diff = sampler(z) - trainer(z)
    rel = (diff.pow(2).mean() / z.pow(2).mean()).sqrt().item()
    top = z.argmax(-1, keepdim=True)
    rel_top = (diff.gather(-1, top) / z.gather(-1, top)).pow(2).mean().sqrt().item()
    eps = torch.finfo(torch.bfloat16).eps
    return {"rel_rms": rel, "c_equiv": rel / (math.sqrt(2) * eps), "rel_top": rel_top,
            "frac_differ": (diff != 0).to(F64).mean().item()}
