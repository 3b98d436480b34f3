"""A shared-parameter token-sequence world for the literature checks (claims 15 and 16).

World: ``prompts-tree/uncorrelated`` — C = 64 prompts, each a V = 4, T = 4 token tree (256
sequences, 8 of them correct, drawn per prompt; initial token entropy 1.194, pass@1 0.046,
pass@256 1.000, H_max(J = 1) = log 8 / 4 = 0.520), trained through the ``lowrank`` policy of
rank 4 (U per (prompt, prefix) state, V per token: one update moves every prompt's prefixes).
Regime: sampled, N = 16 prompts × G = 8 sequences per batch, Adam lr 0.05, each preset's own
epochs × minibatches (1×4; RLOO 1×1), exact pass@1 (= J), pass@256, token entropy and H_max(J)
every step; 8 seeds batched, 80 iterations (quick: 3 seeds, 8 iterations).

It is the world of the exploration recorded in paper_checks/LOG.md ("2026-12-03 — exploration
for the literature checks"): its NSR / PSR numbers were seen before the claim 16 rule was
written. The world of claims 10–12 (``paper_checks/_shared_world.py``) is the other shared row.
"""

from __future__ import annotations

import numpy as np

from paper_checks._sim_common import at_step, run_sim

PROBLEM = "prompts-tree/uncorrelated"
SETTING = {"policy": "lowrank", "policy.rank": 4, "n_prompts": 16, "group_size": 8, "k": 256,
           "optimizer": "adam", "lr": 0.05}
SEEDS, STEPS = 8, 80
SEEDS_QUICK, STEPS_QUICK = 3, 8
K_LARGE = 256
WORLD = (f"{PROBLEM} (64 prompts × a 4 × 4 token tree, initial pass@256 1.000, "
         "H_max(J = 1) 0.520 of H_0 1.194); lowrank rank 4; sampled N = 16 × G = 8, Adam lr 0.05, "
         "preset schedules (1×4, RLOO 1×1)")


def budget(quick: bool) -> tuple[int, int]:
    """(seeds, steps) of this world's runs."""
    return (SEEDS_QUICK, STEPS_QUICK) if quick else (SEEDS, STEPS)


def run_tree(algorithm: str, quick: bool, **extra):
    """The cached ``run_sim`` of ``algorithm`` in this world (``extra``: SimConfig / hp keys)."""
    seeds, steps = budget(quick)
    return run_sim(PROBLEM, algorithm, quick, **{"seeds": seeds, "steps": steps, **SETTING,
                                                  **extra})



def final_ceiling(frame) -> np.ndarray:
    """``[B]`` H_max(J_T) of the final policies: the frame's ``H_max`` column (the problem's
    ``entropy_ceiling`` at the snapshot's pass@1 = J)."""
    return at_step(frame, "H_max")
