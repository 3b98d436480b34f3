"""Old-log-prob conventions: which log-prob a PPO-style ratio divides by, and the IS weight.

A rollout carries the sampler's (inference engine's) log-probs ℓ_s of the tokens it drew. Before
the update a trainer either uses them as π_old or recomputes π_old with its own forward pass at
θ_old (ℓ_old). With ℓ_θ the trainer's log-prob in the update, the clipped ratio and the extra
per-token weight are

    convention          ratio r = exp(ℓ_θ − old)    weight w (multiplies the token's loss)
    rollout             old = ℓ_s (bypass)          1
    recompute           old = ℓ_old                 1
    recompute+tis       old = ℓ_old                 min(ρ, C),  ρ = exp(ℓ_old − ℓ_s)
    recompute+icepop    old = ℓ_old                 1[α ≤ ρ ≤ β]

``rollout`` is the "bypass" mode of frameworks that trust the engine's log-probs; ``recompute`` is
verl's default (the ratio at the first minibatch is 1 only if the recompute is batch-invariant:
``layout="reordered"`` recomputes in another reduction order, so that batch variance is real
arithmetic); TIS (truncated importance sampling, cap C = 2) and IcePop (mask tokens whose ρ leaves
[α, β] = [0.5, 5]) act on the recompute's sampler/trainer mismatch ρ with the weights of the losses
``tis`` and ``icepop`` in their verl layout (:mod:`entropy_lab.algorithms.corrections`, same
defaults). What each does to E[r] is :mod:`entropy_lab.precision.theorem3` (``docs/theory.md``,
"Theorem 3").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from entropy_lab.registry import Registry
from entropy_lab.validation import check_choice, check_number, fail

OLD_SOURCES = ("sampler", "recompute")
TRAINING_CONVENTIONS = ("rollout", "recompute")
"""The conventions a training step runs (``old_logp`` of SimConfig / HarnessConfig); the
weighted ones are the ``tis`` / ``icepop`` losses under ``recompute``."""
WEIGHTS = ("none", "tis", "icepop")
LAYOUTS = ("same", "reordered")


@dataclass(frozen=True)
class Convention:
    """How π_old and the sampler/trainer importance weight are formed.

    Attributes:
        name: registry name.
        description: one line on what the convention is and who uses it.
        old: "sampler" (the rollout's log-probs) or "recompute" (trainer forward at θ_old).
        weight: "none", "tis" (truncated at ``tis_cap``) or "icepop" (masked outside
            ``icepop_band``).
        layout: for ``old="recompute"``: "same" (the recompute is the update's own forward pass,
            so r = 1 exactly at the first minibatch) or "reordered" (another reduction order).
        tis_cap: C > 0, the truncation of ρ for "tis".
        icepop_band: (α, β) with 0 ≤ α < 1 < β, the band of ρ kept by "icepop".
    """

    name: str
    description: str
    old: str = "sampler"
    weight: str = "none"
    layout: str = "same"
    tis_cap: float = 2.0
    icepop_band: tuple[float, float] = (0.5, 5.0)

    def __post_init__(self):
        check_choice("old", self.old, OLD_SOURCES)
        check_choice("weight", self.weight, WEIGHTS)
        check_choice("layout", self.layout, LAYOUTS)
        check_number("tis_cap", self.tis_cap, lo=0.0, lo_open=True)
        band = tuple(self.icepop_band)
        if (len(band) != 2 or not all(isinstance(b, (int, float)) for b in band)
                or not 0 <= band[0] < 1 < band[1]):
            raise fail("icepop_band", self.icepop_band, "a pair (α, β) with 0 ≤ α < 1 < β")
        object.__setattr__(self, "icepop_band", (float(band[0]), float(band[1])))
        if self.old == "sampler" and self.weight != "none":
            raise fail("weight", self.weight, "'none' when old='sampler' (the sampler's "
                       "log-probs need no sampler/trainer weight)")

    @property
    def recomputes(self) -> bool:
        """Whether the trainer runs a forward pass at θ_old before the update."""
        return self.old == "recompute"

    def old_logp(self, sampler_logp: torch.Tensor, recompute_logp: torch.Tensor | None):
        """π_old's log-prob ``[...]``: the sampler's, or the trainer's recompute at θ_old."""
        if not self.recomputes:
            return sampler_logp
        if recompute_logp is None:
            raise fail("recompute_logp", None, f"a tensor: convention {self.name!r} divides by "
                       "the trainer's recompute at θ_old")
        return recompute_logp

    def _rho(self, sampler_logp: torch.Tensor, recompute_logp: torch.Tensor | None):
        """ρ = exp(ℓ_old − ℓ_s) ``[...]`` in float64."""
        return torch.exp(self.old_logp(sampler_logp, recompute_logp).to(torch.float64)
                         - sampler_logp.to(torch.float64))

    def is_weight(self, sampler_logp: torch.Tensor, recompute_logp: torch.Tensor | None):
        """w ``[...]`` float64: 1, min(ρ, C) or 1[α ≤ ρ ≤ β] with ρ = exp(ℓ_old − ℓ_s)."""
        if self.weight == "none":
            return torch.ones_like(sampler_logp, dtype=torch.float64)
        rho = self._rho(sampler_logp, recompute_logp)
        if self.weight == "tis":
            return rho.clamp(max=self.tis_cap)
        lo, hi = self.icepop_band
        return ((rho >= lo) & (rho <= hi)).to(torch.float64)

    def corrected(self, sampler_logp: torch.Tensor, recompute_logp: torch.Tensor | None):
        """Bool ``[...]``: tokens whose weight the correction changed (TIS: ρ > C truncated;
        IcePop: ρ outside [α, β] masked); all False without a correction."""
        if self.weight == "none":
            return torch.zeros_like(sampler_logp, dtype=torch.bool)
        rho = self._rho(sampler_logp, recompute_logp)
        if self.weight == "tis":
            return rho > self.tis_cap
        lo, hi = self.icepop_band
        return (rho < lo) | (rho > hi)


CONVENTIONS: Registry[Convention] = Registry("old-log-prob convention")
for _c in (
    Convention("rollout", "bypass: π_old = the sampler's log-probs (trust the engine)"),
    Convention("recompute", "π_old recomputed by the trainer at θ_old (verl's default)",
               old="recompute"),
    Convention("recompute+tis", "recompute, loss weighted by min(π_old/π_sampler, C)",
               old="recompute", weight="tis"),
    Convention("recompute+icepop", "recompute, tokens with π_old/π_sampler outside [α, β] "
               "masked", old="recompute", weight="icepop"),
):
    CONVENTIONS.register(_c.name, _c)


def get_convention(name: str | Convention, **overrides) -> Convention:
    """The registered convention ``name`` (unknown names list the choices), with field
    ``overrides`` (e.g. ``layout="reordered"``, ``tis_cap=5``) validated like the fields."""
    conv = name if isinstance(name, Convention) else CONVENTIONS.get(name)
    return replace(conv, **overrides) if overrides else conv


def convention_names() -> list[str]:
    """The registered convention names, sorted."""
    return CONVENTIONS.names()
