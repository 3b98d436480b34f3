"""Hyperparameters as replicas: one value per replica, so a grid × seeds runs as one call.

The B replicas of a run (the seeds, the leading tensor dim) may each have their own value of the
continuous hyperparameters listed here, given as a sequence of length B (list, tuple, 1-D array
or tensor) instead of a float::

    simulate("bandit/calibrated", "grpo", seeds=4, lr=[0.05, 0.1, 0.2, 0.4],
             eps_high=[0.2, 0.2, 0.28, 0.28], rng="per_seed")

* ``lr`` (``SimConfig.lr``): replica b's step size η_b, for SGD and Adam
  (:mod:`entropy_lab.sim.optim`); sampled and expected mode.
* :data:`REPLICA_HPS`, the algorithm hyperparameters every loss / shaping takes through
  :func:`entropy_lab.algorithms._tensors.hp_param` (a ``[B]`` tensor broadcasting as
  ``[B, 1, 1]`` over ``[B, B', T]``): ε_low, ε_high, the dual-clip c, the entropy coefficient,
  REPO's β and ζ; sampled mode only (the expected-mode estimators take scalars), and not for a
  hyperparameter that also configures the algorithm's controller (its start value is one number).

``SimConfig.seed_ids`` names the seed of each replica; repeats are allowed, so the same seeds can
run under several hyperparameter values in one batch. With ``rng="per_seed"`` a replica's
trajectory depends only on its seed id and its own values: a per-replica run equals the separate
runs (tested). :func:`entropy_lab.sim.sweep.sweep` builds such runs from the cells of a grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from entropy_lab.validation import fail

REPLICA_HPS = ("eps_low", "eps_high", "dual_clip", "entropy_coef", "beta", "zeta")
"""Algorithm hyperparameters that accept one value per replica."""

REPLICA_CONFIG = ("lr",)
"""SimConfig fields that accept one value per replica."""


def is_per_replica(value) -> bool:
    """True for a list / tuple / array / tensor with one dimension (a value per replica)."""
    if isinstance(value, torch.Tensor | np.ndarray):
        return value.ndim == 1
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def replica_values(name: str, value, seeds: int, *, positive: bool = False) -> tuple[float, ...]:
    """``value`` (a sequence of B = ``seeds`` finite numbers, > 0 if ``positive``) as a tuple.

    Raises:
        InputError: the wrong length, a non-number, a non-finite or (``positive``) a value <= 0.
    """
    allowed = (f"a float or one finite number{' > 0' if positive else ''} per replica "
               f"(a sequence of length seeds={seeds})")
    if isinstance(value, torch.Tensor | np.ndarray):
        if value.ndim != 1:
            raise fail(name, value, allowed)
        value = value.tolist()
    if not is_per_replica(value) or len(value) != seeds:
        raise fail(name, value, allowed)
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float | np.floating | np.integer):
            raise fail(name, value, allowed)
        v = float(v)
        if not np.isfinite(v) or (positive and v <= 0):
            raise fail(name, value, allowed)
        out.append(v)
    return tuple(out)


def algorithm_replica_values(algo_kw: dict, seeds: int, mode: str) -> dict:
    """``algo_kw`` with per-replica values turned into float64 ``[B]`` tensors (checked).

    Raises:
        InputError: a per-replica value of a key outside :data:`REPLICA_HPS`, of the wrong length,
            or in expected mode.
    """
    out = dict(algo_kw)
    for key, value in algo_kw.items():
        if not is_per_replica(value):
            continue
        leaf = key.split(".", 1)[-1]
        if leaf not in REPLICA_HPS:
            raise fail(key, value, f"a single value (per-replica values only for "
                       f"{list(REPLICA_HPS)} and {list(REPLICA_CONFIG)})")
        if mode != "sampled":
            raise fail(key, value, f"a single value in mode={mode!r} (per-replica algorithm "
                       "hyperparameters need mode='sampled')")
        out[key] = torch.tensor(replica_values(key, value, seeds), dtype=torch.float64)
    return out


def check_controller_scalars(algorithm, algo_kw: dict) -> None:
    """Refuse a per-replica value (a tensor in ``algo_kw``) of a key that would also reach the
    algorithm's controller, whose configuration (e.g. its start value) is one number.

    Raises:
        InputError: naming the key, the values and the controller.
    """
    from entropy_lab.algorithms.recipe import hp_keys

    controller = algo_kw.get("controller", getattr(algorithm, "controller", None))
    for key, value in algo_kw.items():
        if not isinstance(value, torch.Tensor):
            continue
        part, _, leaf = key.rpartition(".")
        if part == "controller" or (not part and controller is not None
                                    and leaf in hp_keys("controller", controller)):
            raise fail(key, value.tolist(), f"a single value: {leaf!r} also configures the "
                       f"controller {controller!r}, which takes one number")


def lr_value(lr) -> float | torch.Tensor:
    """``SimConfig.lr`` for the optimizer: a float, or a float64 ``[B]`` tensor."""
    if isinstance(lr, tuple):
        return torch.tensor(lr, dtype=torch.float64)
    return float(lr)
