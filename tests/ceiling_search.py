"""The numerical optimiser the entropy-ceiling tests check H_max(J) against: SLSQP over a
policy's parameters, maximising its entropy subject to its success being the target."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize


def max_entropy_at_success(measure: Callable[[np.ndarray], tuple[float, float]], size: int,
                           target: float, starts: int = 6, seed: int = 0) -> float:
    """The largest entropy SLSQP finds over ``starts`` random N(0, 1) starts of ``size``
    parameters with success within 1e-7 of ``target`` (−inf if no start gets there).

    ``measure``: parameters ``[size]`` -> (entropy, success)."""
    rng = np.random.default_rng(seed)
    best = -math.inf
    for _ in range(starts):
        res = minimize(lambda x: -measure(x)[0], rng.normal(size=size),
                       constraints=[{"type": "eq", "fun": lambda x: measure(x)[1] - target}],
                       method="SLSQP", options={"maxiter": 500, "ftol": 1e-12})
        h, j = measure(res.x)
        if abs(j - target) < 1e-7:
            best = max(best, h)
    return best
