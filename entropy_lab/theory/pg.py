"""Closed forms for one exact-gradient policy-gradient step on softmax logits (Theorem 1).

Per-action advantages A (``[..., K]``) are centred under π first, A_c = A − E_π[A] (the step
removes the baseline E_π[A]). One expected REINFORCE step of size η moves the logits by

    vanilla:  Δz = η·π·A_c          (the gradient of J = E_π[A] w.r.t. the logits)
    natural:  Δz = η·A_c            (Fisher-preconditioned; the tabular natural gradient)

and Theorem 1 (docs/theory.md, "Theorem 1"; Petrenko et al. 2026, arXiv 2603.11682; Cui et al.
2025, arXiv 2505.22617) gives the first-order change

    vanilla:  ΔH ≈ −η·E_π[π·A_c·L]  = −η·Cov_π(log π, π·A_c)
    natural:  ΔH ≈ −η·Cov_π(log π, A) = −η·E_π[L·A_c]

with L = log π + H. The vanilla covariance needs the *centred* advantage (Cui et al.'s A is
Q − V): π·A is not shift invariant, so Cov_π(log π, π·A) with raw rewards is another number.
REPO replaces A by A − β·L; the β that zeroes the first-order change is

    vanilla:  β* = E_π[π·L·A_c] / E_π[π·L²]
    natural:  β* = E_π[L·A_c]   / E_π[L²]
"""

from __future__ import annotations

import torch

from entropy_lab.registry import Registry
from entropy_lab.theory.entropy import LOGITS_AXES, _check_logits, centered_logprob
from entropy_lab.validation import check_number, check_same_shape, check_tensor

# A geometry maps π to the per-action weight w of the step Δz = η·w·A_c.
STEP_WEIGHTS: Registry = Registry("geometry")
STEP_WEIGHTS.register("vanilla", lambda p: p)
STEP_WEIGHTS.register("natural", torch.ones_like)
GEOMETRIES = tuple(STEP_WEIGHTS.names())


def _prepare(logits, advantages, geometry, lr=None):
    _check_logits(logits)
    check_tensor("advantages", advantages, min_ndim=1, axes=LOGITS_AXES)
    check_same_shape(("logits", "advantages"), (logits, advantages))
    weight_fn = STEP_WEIGHTS.get(geometry)
    if lr is not None:
        check_number("lr", lr, lo=0.0)
    p = torch.softmax(logits, dim=-1)
    adv_c = advantages - (p * advantages).sum(-1, keepdim=True)
    return p, adv_c, weight_fn(p)


def pg_logit_step(
    logits: torch.Tensor, advantages: torch.Tensor, lr: float, geometry: str = "vanilla"
) -> torch.Tensor:
    """Δz of one expected exact-gradient REINFORCE step: η·π·A_c (vanilla) or η·A_c (natural).

    Args:
        logits: ``[..., K]``.
        advantages: ``[..., K]`` per-action advantage (or reward); centred under π here.
        lr: step size η >= 0.
        geometry: ``"vanilla"`` or ``"natural"``.
    Returns:
        ``[..., K]`` the logit step Δz.
    """
    _, adv_c, weight = _prepare(logits, advantages, geometry, lr)
    return lr * weight * adv_c


def predicted_entropy_change(
    logits: torch.Tensor, advantages: torch.Tensor, lr: float, geometry: str = "vanilla"
) -> torch.Tensor:
    """Closed form −η·E_π[π·A_c·L] = −η·Cov_π(log π, π·A_c) (vanilla) or −η·Cov_π(log π, A).

    Args:
        logits: ``[..., K]``.
        advantages: ``[..., K]``.
        lr: step size η >= 0.
        geometry: ``"vanilla"`` or ``"natural"``.
    Returns:
        ``[...]`` predicted first-order ΔH.
    """
    p, adv_c, weight = _prepare(logits, advantages, geometry, lr)
    centred = centered_logprob(logits)
    return -lr * (p * weight * adv_c * centred).sum(-1)


def repo_beta_star(
    logits: torch.Tensor, advantages: torch.Tensor, geometry: str = "vanilla"
) -> torch.Tensor:
    """β* = E_π[π·L·A_c]/E_π[π·L²] (vanilla) or E_π[L·A_c]/E_π[L²] (natural).

    With A − β*·L as the advantage the first-order entropy change of the step is zero. Where
    E[L²] = 0 (π uniform: H has a zero gradient, every β gives zero change) β* is returned as 0.

    Args:
        logits: ``[..., K]``.
        advantages: ``[..., K]``.
        geometry: ``"vanilla"`` or ``"natural"``.
    Returns:
        ``[...]``.
    """
    p, adv_c, weight = _prepare(logits, advantages, geometry)
    centred = centered_logprob(logits)
    num = (p * weight * centred * adv_c).sum(-1)
    den = (p * weight * centred * centred).sum(-1)
    safe = den > 0
    return torch.where(
        safe, num / torch.where(safe, den, torch.ones_like(den)), torch.zeros_like(num)
    )
