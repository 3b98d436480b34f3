"""Logit generators for rounding measurements: LLM-like next-token distributions and tabular rows.

Zipf-like rows (temperature 1):

    z_a = −α·log(rank_a) + σ·ξ_a,   ξ ~ N(0, 1),   then shifted so that mean_a z_a = 0,

with rank_a = a + 1 (token 0 is the mode; a permutation would change nothing here but the order
of the reductions). "peaked" rows add a boost to the top token so that its
probability is drawn log-uniformly in 1 − p_top ∈ [1e-4, 0.5]: most positions of a trained LLM
are nearly deterministic, a few are spread out. The zero-mean shift matters only for the
relative network noise of the pipelines (z·(1 + c·ε·ξ)); it mimics LLM logits whose bulk sits
near 0 with the top tokens at +10…+30. These are modelling choices, stated here, not fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from entropy_lab.validation import check_choice, check_number, check_tensor, fail

KINDS = ("peaked", "zipf")


@dataclass(frozen=True)
class LogitSource:
    """Draws ``[R, K]`` float64 logit rows; ``source(n_rows, generator)``.

    Attributes:
        vocab: K, the vocabulary size (32k–152k for LLMs; any K >= 2 allowed).
        kind: "zipf" (power-law probabilities) or "peaked" (Zipf tail + dominant top token).
        alpha: Zipf exponent α (p ∝ rank^-α before noise).
        jitter: σ of the Gaussian jitter on each logit.
    """

    vocab: int = 32_000
    kind: str = "peaked"
    alpha: float = 1.1
    jitter: float = 1.0

    def __post_init__(self):
        check_number("vocab", self.vocab, lo=2, hi=1_000_000, integer=True)
        check_choice("kind", self.kind, KINDS)
        check_number("alpha", self.alpha, lo=0.0, hi=10.0)
        check_number("jitter", self.jitter, lo=0.0, hi=20.0)

    def __call__(self, n_rows: int, generator: torch.Generator) -> torch.Tensor:
        check_number("n_rows", n_rows, lo=1, integer=True)
        k = self.vocab
        z = -self.alpha * torch.log1p(torch.arange(k, dtype=torch.float64)).expand(n_rows, k)
        z = z + self.jitter * torch.randn(n_rows, k, generator=generator, dtype=torch.float64)
        if self.kind == "peaked":
            z = boost_top(z, generator)
        return z - z.mean(-1, keepdim=True)


def boost_top(z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Raise each row's top logit so that 1 − p_top is log-uniform on [1e-4, 0.5]."""
    n = z.shape[0]
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    rest = torch.exp(math.log(1e-4) + u * (math.log(0.5) - math.log(1e-4)))
    top = z.argmax(-1, keepdim=True)
    others = z.scatter(-1, top, -math.inf)
    lse_rest = torch.logsumexp(others, -1, keepdim=True)
    # p_top = 1 − rest  ⇔  z_top = lse_rest + log((1 − rest)/rest)
    new_top = lse_rest + torch.log((1 - rest) / rest).unsqueeze(-1)
    return z.scatter(-1, top, new_top)


@dataclass(frozen=True)
class TableSource:
    """Rows drawn uniformly with replacement from a logits table ``[..., K]`` (tabular problems)."""

    logits: torch.Tensor

    def __post_init__(self):
        check_tensor("logits", self.logits, min_ndim=1, last_dim_min=2, axes="[..., K]")
        if self.logits.numel() == 0:
            raise fail("logits", self.logits, "a non-empty table [..., K]")
        object.__setattr__(
            self, "logits",
            self.logits.detach().to(torch.float64).reshape(-1, self.logits.shape[-1]))

    @property
    def vocab(self) -> int:
        return self.logits.shape[-1]

    def __call__(self, n_rows: int, generator: torch.Generator) -> torch.Tensor:
        check_number("n_rows", n_rows, lo=1, integer=True)
        idx = torch.randint(self.logits.shape[0], (n_rows,), generator=generator)
        return self.logits[idx]
