"""The snapshot's per-state formulas, written once: the eager snapshot (``sim.record``) calls them
with its recycled buffers, the compiled path (``sim.compiled``) compiles them.

For logits ``z [B, S, K]`` and state visits ``v [B, S]`` (``sim.record.snapshot``):

    log π = log_softmax(z),  π = exp(log π),  H_s = −Σ_a π log π          (:func:`entropy_tables`)
    seq = Σ_s v_s H_s,  H = seq / Σ_s v_s,  w_s = v_s / Σ_s v_s
    p_centred = π ⊙ (log π + H_s)                                      (:func:`centred_probs`)
    ∂H/∂z = −w_s · p_centred   (visits that do not move with z)       (:func:`entropy_grad`)

and for the update between two states with logit change Δz (``sim.record.update_row``):

    dH_pred = Σ_{s,a} ∂H/∂z ⊙ Δz,  dH_pred_state = Σ_s w_s · (−Σ_a p_centred ⊙ Δz)
                                                                        (:func:`update_sums`)

``out=`` takes buffers of the result's shape (contiguous, float64) for the eager path's
recycling; None allocates. Either way the same ops run in the same order, so the numbers do not
depend on it.
"""

from __future__ import annotations

import torch


def entropy_tables(z_bsk: torch.Tensor, v_bs: torch.Tensor,
                   out: tuple[torch.Tensor | None, torch.Tensor | None] | None = None):
    """``(log π, π, π ⊙ log π)`` ``[B, S, K]``, ``H_s`` ``[B, S]``, ``(seq, Σ_s v_s)`` ``[B]``.

    Differentiable when ``out`` is None (the snapshot's autograd pass where the visits move).

    Args:
        z_bsk: ``[B, S, K]`` logits.
        v_bs: ``[B, S]`` state visits.
        out: buffers for π and π ⊙ log π (either may be None).
    """
    p_out, plogp_out = (None, None) if out is None else out
    logp = torch.log_softmax(z_bsk, -1)
    p = torch.exp(logp, out=p_out)
    plogp = torch.mul(p, logp, out=plogp_out)
    h_bs = -plogp.sum(-1)
    return logp, p, plogp, h_bs, (v_bs * h_bs).sum(-1), v_bs.sum(-1)


def state_weights(v_bs: torch.Tensor, vsum_b: torch.Tensor) -> torch.Tensor:
    """w_s = v_s / Σ_s v_s ``[B, S]`` (the state weights of the token average)."""
    return v_bs / vsum_b.unsqueeze(-1)


def centred_probs(logp_bsk: torch.Tensor, p_bsk: torch.Tensor, h_bs: torch.Tensor,
                  out: torch.Tensor | None = None) -> torch.Tensor:
    """π ⊙ (log π + H_s) ``[B, S, K]`` (minus ∂H_s/∂z_s); ``out``: its buffer (may be the
    buffer of π ⊙ log π, which it no longer needs)."""
    return torch.add(logp_bsk, h_bs.unsqueeze(-1), out=out).mul_(p_bsk)


def entropy_grad(p_centred_bsk: torch.Tensor, w_bs: torch.Tensor,
                 out: torch.Tensor | None = None) -> torch.Tensor:
    """∂H/∂z = −w_s · π ⊙ (log π + H_s) ``[B, S, K]`` where the visits do not move with z;
    ``out``: its buffer (may be π's, which it no longer needs)."""
    return torch.mul(p_centred_bsk, (-w_bs).unsqueeze(-1), out=out)


def exact_tables(z_bsk: torch.Tensor, v_bs: torch.Tensor):
    """Every formula of the module docstring at once, visits fixed: ``(log π, π ⊙ L, ∂H/∂z)``
    ``[B, S, K]``, ``H_s`` ``[B, S]``, ``(H, seq)`` ``[B]`` and ``w`` ``[B, S]``."""
    logp, p, _, h_bs, seq_b, vsum_b = entropy_tables(z_bsk, v_bs)
    w_bs = state_weights(v_bs, vsum_b)
    p_centred = centred_probs(logp, p, h_bs)
    return logp, p_centred, entropy_grad(p_centred, w_bs), h_bs, seq_b / vsum_b, seq_b, w_bs


def update_sums(grad_bsk: torch.Tensor, p_centred_bsk: torch.Tensor, w_bs: torch.Tensor,
                delta_bsk: torch.Tensor,
                out: tuple[torch.Tensor | None, torch.Tensor | None] | None = None):
    """``(dH_pred, dH_pred_state)`` ``[B]`` of the module docstring.

    ``out``: buffers for the products ∂H/∂z ⊙ Δz and p_centred ⊙ Δz (the same buffer may take
    both: the first is reduced before the second is written).
    """
    first, second = (None, None) if out is None else out
    dh_pred = torch.mul(grad_bsk, delta_bsk, out=first).sum((1, 2))
    per_state_bs = -torch.mul(p_centred_bsk, delta_bsk, out=second).sum(-1)
    return dh_pred, (w_bs * per_state_bs).sum(-1)
