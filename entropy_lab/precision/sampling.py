"""Which distribution the rollout's tokens are drawn from: the sampler path's, or (diagnostic) π.

An inference engine draws y ~ π_s from *its own* distribution — its logits after its network
noise, its casts and its log-softmax, exponentiated in its compute dtype — and reports log π_s(y)
from the same forward pass. That is ``"faithful"``, the default everywhere. Then the bypass ratio
has E_{y∼π_s}[π_t(y)/π_s(y)] = Σ_y π_t(y) = 1 in population, whatever the mismatch (Theorem 3,
:mod:`entropy_lab.precision.theorem3`).

``"exact_pi_diagnostic"`` draws y from the exact float64 π = softmax(z) and still reports the
sampler path's log π_s(y): the bypass ratio then averages Σ_y π π_t/π_s = 1 + χ²-like excess, an
upward bias that no engine has. It stays available, under this name only, to show that effect.

Both return the sampler's full pass (``[R, K]`` log-probs in its compute dtype) so that the reported
log-probs come from the very forward pass the tokens were drawn from. The diagnostic draws its
tokens before the sampler's noise, so its random stream is the one of the earlier measurements.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from entropy_lab.registry import Registry

F64 = torch.float64
SamplerPass = Callable[[], torch.Tensor]
SAMPLINGS: Registry = Registry("token sampling")


def sampler_distribution(sampler_all: torch.Tensor) -> torch.Tensor:
    """π_s ``[..., K]`` float64: exp of the sampler's log-probs ``[..., K]`` taken in their own
    dtype (as an engine exponentiates), then normalised in float64."""
    p = torch.exp(sampler_all).to(F64)
    return p / p.sum(-1, keepdim=True)


@SAMPLINGS.register("faithful")
def faithful(logits: torch.Tensor, sampler_pass: SamplerPass, tokens_per_row: int,
             generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the sampler pass, then draw M tokens per row ``[R, M]`` from π_s (with replacement)."""
    sampler_all = sampler_pass()
    actions = torch.multinomial(sampler_distribution(sampler_all), tokens_per_row,
                                replacement=True, generator=generator)
    return actions, sampler_all


@SAMPLINGS.register("exact_pi_diagnostic")
def exact_pi_diagnostic(logits: torch.Tensor, sampler_pass: SamplerPass, tokens_per_row: int,
                        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Diagnostic: draw M tokens per row ``[R, M]`` from the exact π = softmax(z) (float64), then
    run the sampler pass whose log-probs are reported for them."""
    actions = torch.multinomial(torch.softmax(logits.to(F64), -1), tokens_per_row,
                                replacement=True, generator=generator)
    return actions, sampler_pass()


def get_sampling(name: str) -> Callable:
    """The token-sampling rule ``name`` ("faithful" or "exact_pi_diagnostic")."""
    return SAMPLINGS.get(name)


def sampling_names() -> list[str]:
    """The registered token-sampling rules, sorted."""
    return SAMPLINGS.names()
