"""Small tidy tables the notebooks show: one policy-gradient step beside Theorem 1's predictions,
REPO with β*, and the measured vs predicted ratio bias by log-prob bin.

Each function returns plain dicts / DataFrames; the statements they tabulate are in
``docs/theory.md`` ("Theorem 1", "Closed forms", "REPO and β*", "Theorem 3").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from entropy_lab import theory


def one_step_row(logits: torch.Tensor, advantages: torch.Tensor, lr: float,
                 geometry: str) -> dict:
    """One exact-gradient REINFORCE logit step: the closed form, the general form ∇H·Δz on the
    actual step, and the exact change. ``logits``, ``advantages`` ``[1, K]``."""
    dz = theory.pg_logit_step(logits, advantages, lr, geometry)
    return {"geometry": geometry, "eta": lr,
            "dH_closed": theory.predicted_entropy_change(logits, advantages, lr, geometry).item(),
            "dH_general": theory.first_order_entropy_change(logits, dz).item(),
            "dH_exact": theory.exact_entropy_change(logits, dz).item()}


def repo_row(logits: torch.Tensor, advantages: torch.Tensor, lr: float = 0.1) -> dict:
    """A vanilla step with A − β*·L: β*, the closed-form change with plain and shaped
    advantages, and the exact change of the shaped step. ``logits``, ``advantages`` ``[1, K]``."""
    beta = theory.repo_beta_star(logits, advantages, "vanilla")
    shaped = advantages - beta[..., None] * theory.centered_logprob(logits)
    dz = theory.pg_logit_step(logits, shaped, lr, "vanilla")
    return {"beta_star": beta.item(),
            "dH_closed_plain": theory.predicted_entropy_change(logits, advantages, lr,
                                                               "vanilla").item(),
            "dH_closed_repo": theory.predicted_entropy_change(logits, shaped, lr,
                                                              "vanilla").item(),
            "dH_exact_repo": theory.exact_entropy_change(logits, dz).item()}


def ratio_bias_by_bin(pipeline: str, source, tokens: int, seed: int = 8,
                      tokens_per_row: int = 64) -> pd.DataFrame:
    """Measured E[r] − 1 per log-prob bin of ``pipeline`` beside the rounding model's
    prediction on the same draws; ``logp_bin`` is the bin's centre (an open lowest bin is drawn
    5 nats wide)."""
    from entropy_lab.precision import measure_ratio_bias
    from entropy_lab.precision.drift import predicted_by_bin

    res = measure_ratio_bias(pipeline, source, tokens, seed=seed, tokens_per_row=tokens_per_row)
    pred = predicted_by_bin(pipeline, source, tokens, seed=seed, tokens_per_row=tokens_per_row)
    by = res.by_bin.assign(predicted=pred["predicted_bias"].to_numpy())
    lo = by["logp_lo"].where(np.isfinite(by["logp_lo"]), by["logp_hi"] - 5.0)
    return by.assign(logp_bin=(lo + by["logp_hi"]) / 2, measured=by["measured_bias"])
