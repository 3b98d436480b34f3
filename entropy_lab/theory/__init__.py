"""Exact entropy math for softmax policies (float64 by default of the caller; any batch dims).

No training loops live here: only pure functions of logits, advantages and step sizes.
"""

from entropy_lab.theory.clip_bounds import entropy_bounds_under_ratio_clip, ratio_entropy_terms
from entropy_lab.theory.entropy import (
    centered_logprob,
    entropy,
    entropy_grad,
    exact_entropy_change,
    first_order_entropy_change,
    second_order_entropy_change,
)
from entropy_lab.theory.pg import pg_logit_step, predicted_entropy_change, repo_beta_star

__all__ = [
    "centered_logprob",
    "entropy",
    "entropy_bounds_under_ratio_clip",
    "entropy_grad",
    "exact_entropy_change",
    "first_order_entropy_change",
    "pg_logit_step",
    "predicted_entropy_change",
    "ratio_entropy_terms",
    "repo_beta_star",
    "second_order_entropy_change",
]
