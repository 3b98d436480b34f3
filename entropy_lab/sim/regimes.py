"""Named training regimes: a schedule and a learning rate chosen so that clipping is active.

The paper's clip-based mechanisms (clip-higher, DAPO vs symmetric PPO, ADAPO) act only where
clipping fires. LLM RL runs report per-minibatch clip fractions of ~0.1–2% and a per-step
KL(π_old‖π_θ) of order 1e-3; at the simulator's standard setting (Adam 0.05, 1 epoch × 4
minibatches on ``bandit64``) clipping never fires. A :class:`Regime` names a schedule (epochs ×
minibatches, optimizer) and the target band of the clip fraction and the KL; the learning rate is
not set by hand but found by :func:`calibrate`, a documented search:

    for lr in a geometric grid (ascending):
        run a short simulation (``steps`` iterations × ``seeds`` seeds) at that lr
        clip(lr) = mean over iterations ≥ 1 and seeds of ``clip/frac``   (a minibatch mean)
        kl(lr)   = mean of ``kl/old_new``                                (verl's ppo_kl, k1)
    choose, among the lrs with clip(lr) in the band, the one with |log(kl / kl_target)| smallest;
    if none is in the band, the calibration fails and says which lr came nearest.

``simulate(problem, algorithm, regime="llm-clip", ...)`` calibrates once per (problem, algorithm,
regime) and runs with the regime's schedule and the calibrated lr (:func:`regime_overrides`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import torch

from entropy_lab.registry import Registry
from entropy_lab.validation import InputError, check_number

DEFAULT_GRID = tuple(float(x) for x in np.geomspace(1e-3, 1.0, 13))


@dataclass(frozen=True)
class Regime:
    """A schedule and the band its calibrated learning rate must put the clip fraction in.

    Attributes:
        name: registry name.
        description: what LLM practice the regime stands for.
        epochs, minibatches: the algorithm's E × M schedule in this regime.
        optimizer: "adam" or "sgd".
        clip_band: (lo, hi), the admissible mean per-minibatch clip fraction.
        kl_target: the per-step KL(π_old‖π_θ) the search aims at inside the band.
        lr_grid: the learning rates searched, ascending.
        steps, seeds: the size of each calibration run.
    """

    name: str
    description: str
    epochs: int = 1
    minibatches: int = 16
    optimizer: str = "adam"
    clip_band: tuple[float, float] = (1e-3, 2e-2)
    kl_target: float = 1e-3
    lr_grid: tuple[float, ...] = DEFAULT_GRID
    steps: int = 20
    seeds: int = 4

    def __post_init__(self):
        check_number("epochs", self.epochs, lo=1, integer=True)
        check_number("minibatches", self.minibatches, lo=1, integer=True)
        lo, hi = self.clip_band
        if not 0 <= lo < hi <= 1:
            raise InputError(f"clip_band={self.clip_band!r} is not allowed: expected (lo, hi) "
                             "with 0 <= lo < hi <= 1")
        check_number("kl_target", self.kl_target, lo=0.0, lo_open=True)
        if not self.lr_grid or any(b <= a for a, b in zip(self.lr_grid, self.lr_grid[1:])) \
                or self.lr_grid[0] <= 0:
            raise InputError(f"lr_grid={self.lr_grid!r} is not allowed: expected positive, "
                             "strictly increasing learning rates")


REGIMES: Registry[Regime] = Registry("regime")
REGIMES.register("llm-clip", Regime(
    "llm-clip", "1 epoch × 16 minibatches, Adam: several optimizer steps per batch, as LLM PPO "
    "runs take, with the per-minibatch clip fraction in the 0.1–2% LLM runs report"))
REGIMES.register("llm-clip-2x16", Regime(
    "llm-clip-2x16", "2 epochs × 16 minibatches, Adam: the same band with a second pass over "
    "the batch (the late minibatches are further off-policy)", epochs=2))


def get_regime(name: str | Regime) -> Regime:
    """The registered regime ``name`` (an unknown name's error lists the choices)."""
    return name if isinstance(name, Regime) else REGIMES.get(name)


def regime_names() -> list[str]:
    return REGIMES.names()


@dataclass(frozen=True)
class Calibration:
    """The result of :func:`calibrate`: the chosen ``lr``, its measured ``clip_frac`` and
    ``kl``, and ``table`` (one row per searched lr: lr, clip_frac, kl, in_band)."""

    regime: Regime
    problem: str
    algorithm: str
    lr: float
    clip_frac: float
    kl: float
    table: pd.DataFrame


class CalibrationError(InputError):
    """No learning rate of the grid put the clip fraction in the regime's band."""


def _measure(problem, algorithm, regime: Regime, lr: float, seed: int,
             overrides: dict) -> tuple[float, float]:
    from entropy_lab.sim.loop import simulate

    df = simulate(problem, algorithm, **overrides, steps=regime.steps, seeds=regime.seeds, lr=lr,
                  optimizer=regime.optimizer, epochs=regime.epochs,
                  minibatches=regime.minibatches, generator=torch.Generator().manual_seed(seed))
    trained = df[df["step"] > 0]
    if "clip/frac" not in trained:
        raise InputError(f"algorithm={algorithm!r} reports no clip/frac: a regime calibrates "
                         "a clipped loss")
    return float(trained["clip/frac"].mean()), float(trained["kl/old_new"].mean())


def calibrate(problem: str, algorithm: str, regime: str | Regime = "llm-clip",
              seed: int = 0, **overrides) -> Calibration:
    """Find the regime's learning rate for ``problem`` and ``algorithm`` (module docstring).

    Args:
        problem, algorithm: a preset id and an algorithm preset name.
        regime: a registered name or a :class:`Regime`.
        seed: seeds the calibration runs' generator.
        overrides: further ``simulate`` overrides of the runs the lr will serve (``n_prompts``,
            ``group_size``, ``policy``, ``problem.<key>``, algorithm hyperparameters), so the
            calibration measures the clip fraction at their batch and minibatch sizes; not the
            keys the regime sets (lr, optimizer, epochs, minibatches, steps, seeds).
    Raises:
        CalibrationError: no lr of the grid gives a clip fraction in the band (the table and the
            nearest lr are in the message).
        InputError: an override the regime sets itself.
    """
    reg = get_regime(regime)
    clash = sorted(set(overrides) & {"lr", "optimizer", "epochs", "minibatches", "steps",
                                     "seeds", "regime", "generator"})
    if clash:
        raise InputError(f"calibrate: {clash} are set by the regime (or the calibration), not "
                         "by an override")
    rows = []
    for lr in reg.lr_grid:
        clip, kl = _measure(problem, algorithm, reg, lr, seed, overrides)
        rows.append({"lr": lr, "clip_frac": clip, "kl": kl,
                     "in_band": reg.clip_band[0] <= clip <= reg.clip_band[1]})
        if clip > reg.clip_band[1] and any(r["in_band"] for r in rows):
            break  # the clip fraction grows with the lr: the rest of the grid is above the band
    table = pd.DataFrame(rows)
    band = table[table["in_band"]]
    if band.empty:
        lo, hi = reg.clip_band
        dist = np.where(table.clip_frac < lo, lo - table.clip_frac, table.clip_frac - hi)
        near = table.iloc[int(np.argmin(dist))]
        raise CalibrationError(
            f"regime={reg.name!r} on {problem} with {algorithm}: no lr in "
            f"[{reg.lr_grid[0]:.3g}, {reg.lr_grid[-1]:.3g}] gives a clip fraction in "
            f"[{lo:g}, {hi:g}]; nearest lr {near.lr:.3g} (clip fraction {near.clip_frac:.3g})")
    best = band.iloc[int(np.argmin(np.abs(np.log(band.kl.clip(lower=1e-300) / reg.kl_target))))]
    return Calibration(reg, str(problem), str(algorithm), float(best.lr),
                       float(best.clip_frac), float(best.kl), table)


@lru_cache(maxsize=64)
def _cached(problem: str, algorithm: str, regime: str) -> Calibration:
    return calibrate(problem, algorithm, regime)


def regime_overrides(problem: str, algorithm: str, regime: str | Regime) -> dict:
    """The ``simulate`` overrides of ``regime`` for (problem, algorithm): its schedule, optimizer
    and calibrated lr (calibrated once per process for a registered regime)."""
    if not isinstance(problem, str) or not isinstance(algorithm, str):
        raise InputError("regime= needs the problem and the algorithm as preset names (the "
                         "calibration is cached by name)")
    cal = _cached(problem, algorithm, regime) if isinstance(regime, str) else \
        calibrate(problem, algorithm, regime)
    reg = cal.regime
    return {"lr": cal.lr, "optimizer": reg.optimizer, "epochs": reg.epochs,
            "minibatches": reg.minibatches}
