"""Entropy controllers: one hyperparameter per replica, stepped once per iteration toward a target.

Every controller holds explicit tensor state of shape ``[...]`` (one entry per replica; 0-d for a
single run), is reset from the initial entropy (the default target, docs/theory.md, "REPO and β*")
and round-trips
through ``state_dict`` / ``load_state_dict`` for checkpoint and resume. ``update(entropy)`` takes
the measured entropy ``[...]`` of the iteration that just ran. Entropy exactly at the target
leaves the value unchanged.

    ZetaController        ζ of REPO-R / REPO-D (docs/theory.md, "REPO and β*")
    EpsHighController     ε_high of ADAPO (step rule unpublished: configurable)
    EntropyCoefController the entropy-bonus coefficient, Skywork-OR1 style (additive steps)

``key`` names the hyperparameter a controller drives and ``owner`` whose hyperparameters it
belongs to ("shaping" or "loss"); :class:`~entropy_lab.algorithms.recipe.Algorithm` routes it.
"""

from __future__ import annotations

import torch

from entropy_lab.registry import Registry
from entropy_lab.validation import InputError, check_choice, check_number, check_tensor, fail

CONTROLLERS: Registry = Registry("controller")


class Controller:
    """Base: a value and a target per replica; subclasses define ``_step`` and their config."""

    key: str = ""
    owner: str = ""

    def __init__(self, target: float | None = None):
        if target is not None:
            check_number("target", target, lo=0)
        self.target_hp = target
        self.value: torch.Tensor | None = None
        self.target: torch.Tensor | None = None
        self.steps = 0

    def _initial_value(self) -> float:
        raise NotImplementedError

    def _step(self, value: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        """New value given direction +1 (entropy below target: raise entropy), −1 or 0."""
        raise NotImplementedError

    def config(self) -> dict:
        raise NotImplementedError

    def reset(self, initial_entropy: torch.Tensor) -> None:
        """Start from the configured value; target = ``target`` or the initial entropy ``[...]``."""
        h = check_tensor("initial_entropy", initial_entropy, axes="[...]").detach()
        h = h.to(torch.float64)
        self.target = h.clone() if self.target_hp is None else torch.full_like(h, self.target_hp)
        self.value = torch.full_like(h, self._initial_value())
        self.steps = 0

    def update(self, entropy: torch.Tensor) -> torch.Tensor:
        """One step per replica toward the target; returns the new value ``[...]``."""
        if self.value is None:
            raise InputError(f"{type(self).__name__}.update called before reset(initial_entropy)")
        h = check_tensor("entropy", entropy, axes="[...]").detach().to(self.value)
        if h.shape != self.value.shape:
            raise fail("entropy", entropy, f"shape {list(self.value.shape)} (one per replica)")
        direction = (h < self.target).to(h.dtype) - (h > self.target).to(h.dtype)
        self.value = self._step(self.value, direction)
        self.steps += 1
        return self.value

    def state_dict(self) -> dict:
        return {
            "controller": self.key,
            "config": self.config(),
            "value": None if self.value is None else self.value.clone(),
            "target": None if self.target is None else self.target.clone(),
            "steps": self.steps,
        }

    def load_state_dict(self, d: dict) -> None:
        if d.get("controller") != self.key:
            raise fail("state_dict['controller']", d.get("controller"), repr(self.key))
        if d.get("config") != self.config():
            raise fail("state_dict['config']", d.get("config"), f"{self.config()} (this config)")
        self.value = None if d["value"] is None else d["value"].clone().to(torch.float64)
        self.target = None if d["target"] is None else d["target"].clone().to(torch.float64)
        self.steps = int(d["steps"])


@CONTROLLERS.register("zeta")
class ZetaController(Controller):
    """REPO ζ controller (docs/theory.md, "REPO and β*"; the flip rule is our reading of a one-line
    description).

    Entropy below target → push toward more entropy; above → toward less. With ζ > 0 "more" means
    |ζ|·factor (capped at ζ_max) and "less" means |ζ|/factor; with ζ < 0 (which lowers entropy)
    the roles swap. When |ζ| would fall below ζ_min the sign flips and |ζ| restarts at ζ_min
    (``sign_flip=True``, two-way control) or |ζ| stays at ζ_min (``sign_flip=False``).

    Args:
        zeta: initial ζ, ζ_min ≤ |ζ| ≤ ζ_max (default 1e-3).
        zeta_min, zeta_max: bounds on |ζ| (defaults 1e-4, 0.05: the reconstructed |ζ| ∈ [1e-4,
        0.05],
            "defaults to expose, not certain").
        factor: multiplicative step > 1 (2: doubling/halving).
        sign_flip: allow the sign change below ζ_min.
        target: fixed target entropy; None = the initial entropy.
    """

    key, owner = "zeta", "shaping"

    def __init__(self, zeta: float = 1e-3, zeta_min: float = 1e-4, zeta_max: float = 0.05,
                 factor: float = 2.0, sign_flip: bool = True, target: float | None = None):
        super().__init__(target)
        check_number("zeta_min", zeta_min, lo=0, lo_open=True)
        check_number("zeta_max", zeta_max, lo=zeta_min)
        check_number("zeta", abs(zeta), lo=zeta_min, hi=zeta_max)
        if zeta == 0:
            raise fail("zeta", zeta, f"|zeta| in [{zeta_min:g}, {zeta_max:g}]")
        check_number("factor", factor, lo=1, lo_open=True)
        check_choice("sign_flip", sign_flip, (True, False))
        self.zeta0, self.zeta_min, self.zeta_max = float(zeta), float(zeta_min), float(zeta_max)
        self.factor, self.sign_flip = float(factor), sign_flip

    def _initial_value(self) -> float:
        return self.zeta0

    def config(self) -> dict:
        return {"zeta": self.zeta0, "zeta_min": self.zeta_min, "zeta_max": self.zeta_max,
                "factor": self.factor, "sign_flip": self.sign_flip, "target": self.target_hp}

    def _step(self, value, direction):
        sign, mag = torch.sign(value), value.abs()
        toward = direction * sign
        mag = torch.where(toward > 0, (mag * self.factor).clamp(max=self.zeta_max), mag)
        mag = torch.where(toward < 0, mag / self.factor, mag)
        under = mag < self.zeta_min
        if self.sign_flip:
            sign = torch.where(under, direction, sign)
        return sign * torch.where(under, torch.full_like(mag, self.zeta_min), mag)


@CONTROLLERS.register("eps_high")
class EpsHighController(Controller):
    """ADAPO ε_high controller: entropy below target → raise ε_high; above → lower it.

    The published paper gives no step rule, bounds or target (docs/algorithms.md, "Controllers");
    this is a documented,
    configurable choice: ``multiplicative`` steps ε·factor / ε/factor or ``additive`` steps
    ε ± step, then clamped to [eps_high_min, eps_high_max].

    Args:
        eps_high: initial ε_high (0.28, DAPO's clip-higher).
        eps_high_min, eps_high_max: bounds (0.1, 0.5).
        mode: ``multiplicative`` | ``additive``.
        factor: > 1 (1.1). step: > 0 (0.02).
        target: fixed target entropy; None = the initial entropy.
    """

    key, owner = "eps_high", "loss"

    def __init__(self, eps_high: float = 0.28, eps_high_min: float = 0.1,
                 eps_high_max: float = 0.5, mode: str = "multiplicative", factor: float = 1.1,
                 step: float = 0.02, target: float | None = None):
        super().__init__(target)
        check_number("eps_high_min", eps_high_min, lo=0)
        check_number("eps_high_max", eps_high_max, lo=eps_high_min)
        check_number("eps_high", eps_high, lo=eps_high_min, hi=eps_high_max)
        check_choice("mode", mode, ("multiplicative", "additive"))
        check_number("factor", factor, lo=1, lo_open=True)
        check_number("step", step, lo=0, lo_open=True)
        if mode == "multiplicative" and eps_high_min == 0:
            raise fail("eps_high_min", eps_high_min, "> 0 with multiplicative steps")
        self.eps0, self.lo, self.hi = float(eps_high), float(eps_high_min), float(eps_high_max)
        self.mode, self.factor, self.step = mode, float(factor), float(step)

    def _initial_value(self) -> float:
        return self.eps0

    def config(self) -> dict:
        return {"eps_high": self.eps0, "eps_high_min": self.lo, "eps_high_max": self.hi,
                "mode": self.mode, "factor": self.factor, "step": self.step,
                "target": self.target_hp}

    def _step(self, value, direction):
        if self.mode == "multiplicative":
            new = value * self.factor ** direction
        else:
            new = value + self.step * direction
        return new.clamp(self.lo, self.hi)


@CONTROLLERS.register("entropy_coef")
class EntropyCoefController(Controller):
    """Adaptive entropy coefficient in the style of Skywork-OR1 (He et al. 2025, arXiv 2505.22312):

        c ← clamp(c + Δ·sign(target − H), coef_min, coef_max)

    so the bonus grows while entropy is below target and decays to 0 once above.

    Args:
        entropy_coef: initial coefficient c₀ ≥ 0 (0).
        delta: Δ > 0 (5e-3). coef_min, coef_max: bounds (0, 0.1).
        target: fixed target entropy; None = the initial entropy (Skywork-OR1 sets an absolute
            target; pass one to reproduce that).
    """

    key, owner = "entropy_coef", "loss"

    def __init__(self, entropy_coef: float = 0.0, delta: float = 5e-3, coef_min: float = 0.0,
                 coef_max: float = 0.1, target: float | None = None):
        super().__init__(target)
        check_number("coef_min", coef_min, lo=0)
        check_number("coef_max", coef_max, lo=coef_min)
        check_number("entropy_coef", entropy_coef, lo=coef_min, hi=coef_max)
        check_number("delta", delta, lo=0, lo_open=True)
        self.c0, self.delta = float(entropy_coef), float(delta)
        self.lo, self.hi = float(coef_min), float(coef_max)

    def _initial_value(self) -> float:
        return self.c0

    def config(self) -> dict:
        return {"entropy_coef": self.c0, "delta": self.delta, "coef_min": self.lo,
                "coef_max": self.hi, "target": self.target_hp}

    def _step(self, value, direction):
        return (value + self.delta * direction).clamp(self.lo, self.hi)


def get_controller(name: str):
    """The controller class registered as ``name`` (unknown -> error listing the choices)."""
    return CONTROLLERS.get(name)


def controller_names() -> list[str]:
    """All registered controllers."""
    return CONTROLLERS.names()
