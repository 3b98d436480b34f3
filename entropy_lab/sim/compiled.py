"""The optional compiled path (``SimConfig.compile=True``): the snapshot's pure tensor work as
fused code.

Where the state visits do not move with the logits (bandits), the exact columns of a policy
state are a fixed elementwise-and-row-reduction function of its logits ``z [B, S, K]`` and
visits ``v [B, S]``, and the update row of two states one of their tables and Δz: the formulas
of :mod:`entropy_lab.sim.formulas`, the ones the eager snapshot runs
(``formulas.exact_tables`` and ``formulas.update_sums``).

Eagerly each line is a separate pass over ``[B, S, K]``; :func:`tables` and :func:`update_terms`
are those functions compiled by ``torch.compile`` (inductor: C++ loops through the system
compiler) into a few fused loops. The compiled code computes the same formulas in another order
of rounding (vectorised exp/log): frames agree with the eager path to ~1e-15 relative
(tests/test_sim_compiled.py checks ≤ 1e-12). Compiling costs ~30 s per new shape on 2 cores
(cached by torch across processes), so the path is off by default. Problems whose visits move
with the logits (trees, MDPs) take the eager autograd path either way.
"""

from __future__ import annotations

from functools import cache

import torch

from entropy_lab.sim.formulas import exact_tables, update_sums


@cache
def tables():
    """:func:`~entropy_lab.sim.formulas.exact_tables` compiled (once per process; torch
    recompiles per new shape)."""
    return torch.compile(exact_tables, dynamic=False)


@cache
def update_terms():
    """:func:`~entropy_lab.sim.formulas.update_sums` compiled."""
    return torch.compile(update_sums, dynamic=False)
