"""The optional compiled path (``SimConfig.compile=True``): the snapshot's pure tensor work as
fused code.

Where the state visits do not move with the logits (bandits), the exact columns of a policy
state are a fixed elementwise-and-row-reduction function of its logits ``z [B, S, K]`` and
visits ``v [B, S]`` (``sim.record.snapshot``):

    log π = log_softmax(z),  π = exp(log π),  H_s = −Σ_a π log π
    seq = Σ_s v_s H_s,  H = seq / Σ_s v_s,  w_s = v_s / Σ_s v_s
    p_centred = π ⊙ (log π + H_s),  ∂H/∂z = −w_s · p_centred

and the update row of two states (``sim.record.update_row``) is

    dH_pred = Σ_{s,a} ∂H/∂z ⊙ Δz,  dH_pred_state = Σ_s w_s · (−Σ_a p_centred ⊙ Δz).

Eagerly each line is a separate pass over ``[B, S, K]``; :func:`tables` and :func:`update_terms`
are those formulas compiled by ``torch.compile`` (inductor: C++ loops through the system
compiler) into a few fused loops. The compiled code computes the same formulas in another order
of rounding (vectorised exp/log): frames agree with the eager path to ~1e-15 relative
(tests/test_sim_compiled.py checks ≤ 1e-12). Compiling costs ~30 s per new shape on 2 cores
(cached by torch across processes), so the path is off by default. Problems whose visits move
with the logits (trees, MDPs) take the eager autograd path either way.
"""

from __future__ import annotations

from functools import cache

import torch


def exact_tables(z_bsk: torch.Tensor, v_bs: torch.Tensor):
    """The formulas of the module docstring: ``(log π, π ⊙ L, ∂H/∂z)`` ``[B, S, K]``,
    ``H_s`` ``[B, S]``, ``(H, seq)`` ``[B]`` and ``w`` ``[B, S]``."""
    logp = torch.log_softmax(z_bsk, -1)
    p = logp.exp()
    h_bs = -(p * logp).sum(-1)
    seq_b = (v_bs * h_bs).sum(-1)
    vsum_b = v_bs.sum(-1)
    w_bs = v_bs / vsum_b.unsqueeze(-1)
    p_centred = (logp + h_bs.unsqueeze(-1)) * p
    grad = p_centred * (-w_bs).unsqueeze(-1)
    return logp, p_centred, grad, h_bs, seq_b / vsum_b, seq_b, w_bs


def update_sums(grad_bsk, p_centred_bsk, w_bs, delta_bsk):
    """``(dH_pred, dH_pred_state)`` ``[B]`` of the module docstring."""
    dh_pred = (grad_bsk * delta_bsk).sum((1, 2))
    per_state_bs = -(p_centred_bsk * delta_bsk).sum(-1)
    return dh_pred, (w_bs * per_state_bs).sum(-1)


@cache
def tables():
    """:func:`exact_tables` compiled (once per process; torch recompiles per new shape)."""
    return torch.compile(exact_tables, dynamic=False)


@cache
def update_terms():
    """:func:`update_sums` compiled."""
    return torch.compile(update_sums, dynamic=False)
