"""Exact entropy of softmax policies and how it moves under a logit step (Theorem 1).

For π = softmax(z) over the last dim (K actions):

    H(π)      = −Σ_a π_a log π_a
    L_a       = log π_a − E_π[log π] = log π_a + H             (centred log-prob)
    ∂H/∂z_a   = −π_a L_a                                        (docs/theory.md, "Theorem 1")
    ΔH        ≈ Σ_a ∂H/∂z_a Δz_a = −Cov_{a∼π}(log π_a, Δz_a)     (first order)
    ½ Δzᵀ ∇²H Δz                                                (second-order term)

Everything is computed from a log-softmax so it stays finite for logit spreads of 1e4 and
probabilities down to 1e-300 in float64 (``0·log 0 = 0``: an underflowed π contributes nothing).
The log-softmax here, log π_a = (z_a − z_top) − log1p(Σ_{b≠top} e^{z_b − z_top}), keeps the
relative precision of log π_top ≈ −Σ_{b≠top} π_b for a nearly deterministic policy, where
``torch.log_softmax`` rounds 1 + 1e-10 first (so H ~ 1e-10 lost ~1e-6 of its value).
Any leading batch dims are allowed; all outputs keep the input dtype.
"""

from __future__ import annotations

import torch

from entropy_lab.validation import check_same_shape, check_tensor

LOGITS_AXES = "[..., K]"


def _check_logits(logits: torch.Tensor, name: str = "logits") -> torch.Tensor:
    return check_tensor(name, logits, min_ndim=1, last_dim_min=2, axes=LOGITS_AXES)


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """log π = (z − z_top) − log1p(Σ_{b≠top} e^{z_b − z_top}), top = argmax (differentiable).

    Shifting by the top logit itself (not ``amax``, which splits its gradient between ties) keeps
    the expression an exact function of z around any point, so autograd through it is exact.

    Args:
        logits: ``[..., K]``.
    Returns:
        ``[..., K]``.
    """
    top = logits.argmax(-1, keepdim=True)
    shifted = logits - logits.gather(-1, top)
    others = torch.ones_like(shifted).scatter(-1, top, 0.0)
    return shifted - torch.log1p((others * shifted.exp()).sum(-1, keepdim=True))


def _plogp(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logp = log_softmax(logits)
    return logp.exp(), logp


def _p_centred(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """π and L = log π − E_π[log π] (no input checks)."""
    p, logp = _plogp(logits)
    return p, logp - (p * logp).sum(-1, keepdim=True)


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
    return _p_centred(_check_logits(logits))[1]


def entropy_grad(logits: torch.Tensor) -> torch.Tensor:
    """∂H/∂z = −π·L (Theorem 1's identity).

    Args:
        logits: ``[..., K]``.
    Returns:
        ``[..., K]``.
    """
    p, centred = _p_centred(_check_logits(logits))
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
    p, centred = _p_centred(logits)
    d = delta_logits - (p * delta_logits).sum(-1, keepdim=True)
    return -0.5 * (p * d * d * (1.0 + centred)).sum(-1)


def exact_entropy_change(logits: torch.Tensor, delta_logits: torch.Tensor) -> torch.Tensor:
    """H(z + Δz) − H(z), without the cancellation of subtracting two entropies for small steps.

    With c = Δz − Δz_top (top = the most likely action), m = log E_π[e^c] =
    log1p(E_π[expm1(c)]) and π' = π·e^{c − m} (the new policy),

        ΔH = −Σ_a (π'_a − π_a) L_a − E_{π'}[c − m],   π' − π = π·expm1(c − m)

    (L = log π + H may replace log π because Σ_a (π'_a − π_a) = 0). Every summand is of the
    size of the step (the rounding error is ~1e-16·E_π[|c|(1 + |L|)], not ~1e-16·H), so a step
    of 1e-12 keeps full relative precision where subtracting two O(1) entropies keeps ~1e-4.
    Rows with a very large step (max |c| > 20, where expm1 would swamp the small terms) use
    H(z + Δz) − H(z) from two stable log-softmaxes.

    Args:
        logits: ``[..., K]``.
        delta_logits: ``[..., K]``.
    Returns:
        ``[...]``.
    """
    _check_step(logits, delta_logits)
    p, centred = _p_centred(logits)
    # Measure the step from the most likely action's: exact for that action, so that
    # m = log E_π[e^c] stays exact when π is nearly deterministic (any constant shift of c
    # leaves π' unchanged).
    top = logits.argmax(-1, keepdim=True)
    c = delta_logits - delta_logits.gather(-1, top)
    small = c.abs().amax(-1) <= 20.0
    c_small = c.clamp(-20.0, 20.0)  # rows with larger steps are taken from the other branch
    shift = c_small - torch.log1p((p * torch.expm1(c_small)).sum(-1, keepdim=True))
    diff = p * torch.expm1(shift)
    near = -(diff * centred).sum(-1) - ((p + diff) * shift).sum(-1)
    far = entropy(logits + delta_logits) - entropy(logits)
    return torch.where(small, near, far)
