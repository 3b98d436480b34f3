"""Exact entropy of softmax policies and how it moves under a logit step (Theorem 1).

For π = softmax(z) over the last dim (K actions):

    H(π)      = −Σ_a π_a log π_a
    L_a       = log π_a − E_π[log π] = log π_a + H             (centred log-prob)
    ∂H/∂z_a   = −π_a L_a                                        (SCIENCE.md, Theorem 1)
    ΔH        ≈ Σ_a ∂H/∂z_a Δz_a = −Cov_{a∼π}(log π_a, Δz_a)     (first order)
    ½ Δzᵀ ∇²H Δz                                                (second-order term)

Everything is computed from ``log_softmax`` so it stays finite for logit spreads of 1e4 and
probabilities down to 1e-300 in float64 (``0·log 0 = 0``: an underflowed π contributes nothing).
Any leading batch dims are allowed; all outputs keep the input dtype.
"""

from __future__ import annotations

import torch

from entropy_lab.validation import check_same_shape, check_tensor

LOGITS_AXES = "[..., K]"


def _check_logits(logits: torch.Tensor, name: str = "logits") -> torch.Tensor:
    return check_tensor(name, logits, min_ndim=1, last_dim_min=2, axes=LOGITS_AXES)


def _plogp(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logp = torch.log_softmax(logits, dim=-1)
    return logp.exp(), logp


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """H(π) = −Σ_a π_a log π_a with π = softmax(logits).

    Args:
        logits: ``[..., K]``, K >= 2, finite.
    Returns:
        ``[...]`` entropy in nats.
    """
    p, logp = _plogp(_check_logits(logits))
    return -(p * logp).sum(-1)


def centered_logprob(logits: torch.Tensor) -> torch.Tensor:
    """L = log π − E_π[log π] = log π + H.

    Args:
        logits: ``[..., K]``.
    Returns:
        ``[..., K]``.
    """
    p, logp = _plogp(_check_logits(logits))
    return logp - (p * logp).sum(-1, keepdim=True)


def entropy_grad(logits: torch.Tensor) -> torch.Tensor:
    """∂H/∂z = −π·L (Theorem 1's identity).

    Args:
        logits: ``[..., K]``.
    Returns:
        ``[..., K]``.
    """
    p, logp = _plogp(_check_logits(logits))
    centred = logp - (p * logp).sum(-1, keepdim=True)
    return -p * centred


def _check_step(logits: torch.Tensor, delta_logits: torch.Tensor) -> None:
    _check_logits(logits)
    check_tensor("delta_logits", delta_logits, min_ndim=1, axes=LOGITS_AXES)
    check_same_shape(("logits", "delta_logits"), (logits, delta_logits))


def first_order_entropy_change(logits: torch.Tensor, delta_logits: torch.Tensor) -> torch.Tensor:
    """ΔH₁ = Σ_a ∂H/∂z_a · Δz_a = −E_π[L·Δz] = −Cov_π(log π, Δz)  (Theorem 1, general form).

    Args:
        logits: ``[..., K]`` logits before the step.
        delta_logits: ``[..., K]`` the step Δz actually taken.
    Returns:
        ``[...]`` first-order prediction of H(z + Δz) − H(z).
    """
    _check_step(logits, delta_logits)
    return (entropy_grad(logits) * delta_logits).sum(-1)


def second_order_entropy_change(logits: torch.Tensor, delta_logits: torch.Tensor) -> torch.Tensor:
    """ΔH₂ = ½ Δzᵀ ∇²_z H Δz, the exact second-order Taylor term of H at z.

    Along z(t) = z + t·Δz, with c = Δz − E_π[Δz] (centred under π): dπ_a/dt = π_a c_a and
    dL_a/dt = c_a − E_π[L·Δz], so differentiating dH/dt = −E_π[L·Δz] once more gives

        Δzᵀ ∇²H Δz = −E_π[c²·(1 + L)],   hence   ΔH₂ = −½ E_π[c²·(1 + L)].

    (Derived symbolically in :mod:`entropy_lab.theory.derivations` and tested against autograd.)

    Args:
        logits: ``[..., K]``.
        delta_logits: ``[..., K]``.
    Returns:
        ``[...]``.
    """
    _check_step(logits, delta_logits)
    p, logp = _plogp(logits)
    centred = logp - (p * logp).sum(-1, keepdim=True)
    d = delta_logits - (p * delta_logits).sum(-1, keepdim=True)
    return -0.5 * (p * d * d * (1.0 + centred)).sum(-1)


def exact_entropy_change(logits: torch.Tensor, delta_logits: torch.Tensor) -> torch.Tensor:
    """H(z + Δz) − H(z), computed from two stable log-softmaxes.

    Args:
        logits: ``[..., K]``.
        delta_logits: ``[..., K]``.
    Returns:
        ``[...]``.
    """
    _check_step(logits, delta_logits)
    return entropy(logits + delta_logits) - entropy(logits)
