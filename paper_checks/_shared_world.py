"""The shared-parameter world of the claims 10–12 checks (``claim1{0,1,2}_*_shared``).

World (fixed before any of these checks was run for a verdict): ``cbandit/anti`` with C = 64
contexts (prompts), K = 16 arms, 4 correct per context, skew 1.0 (each context's arms
permuted by its own permutation, so contexts prefer different arms; initial pass@1 0.095,
pass@256 1.000, token entropy 2.60), trained through the ``lowrank`` policy
z(c, a) = z0(c, a) + w_a + U_c·V_a of rank 4 (``entropy_lab/policies.py``): w and V are shared by
every context, so an update on the N sampled contexts moves all 64. Regime: sampled, N = 16
contexts × G = 8 samples per batch, Adam lr 0.05, each preset's own epochs × minibatches (1×4;
RLOO 1×1), exact pass@k (k ≤ 256) and entropy every step; 16 seeds batched, 100 iterations
(quick: 4 seeds, 15 iterations). Task B (``problem.task="B"``): on every context the next-ranked
arms, disjoint from task A's (measured by :func:`task_overlap`).

The mechanism is measured by :func:`prompts_moved`: the number of contexts whose logits one
update moves, against the N sampled (tabular: at most N; lowrank: all C).
"""

from __future__ import annotations

import numpy as np
import torch

from paper_checks._sim_common import at_step, run_sim

PROBLEM = "cbandit/anti"
PROBLEM_KW = {"num_contexts": 64, "num_arms": 16, "num_correct": 4, "skew": 1.0}
POLICY = {"policy": "lowrank", "policy.rank": 4}
SETTING = {"n_prompts": 16, "group_size": 8, "k": 256, "optimizer": "adam", "lr": 0.05}
SEEDS, STEPS = 16, 100
SEEDS_QUICK, STEPS_QUICK = 4, 15
K_LARGE = 256
WORLD = (f"{PROBLEM} with C = 64 contexts, K = 16 arms, 4 correct, skew 1 (initial pass@1 0.095, "
         "pass@256 1.000); lowrank rank 4 (w, V shared by all contexts); sampled N = 16 × G = 8, "
         "Adam lr 0.05, preset schedules (1×4, RLOO 1×1)")


def budget(quick: bool) -> tuple[int, int]:
    """(seeds, steps) of the shared-world runs."""
    return (SEEDS_QUICK, STEPS_QUICK) if quick else (SEEDS, STEPS)


def overrides(policy: str = "lowrank") -> dict:
    """``run`` keyword overrides of the world (``policy="tabular"``: the same world, no sharing)."""
    pol = POLICY if policy == "lowrank" else {"policy": policy}
    return {**SETTING, **pol, **{f"problem.{k}": v for k, v in PROBLEM_KW.items()}}


def run_shared(algorithm: str, quick: bool, policy: str = "lowrank", **extra):
    """The cached ``run_sim`` of ``algorithm`` in this world (``extra``: SimConfig / hp keys)."""
    seeds, steps = budget(quick)
    return run_sim(PROBLEM, algorithm, quick,
                   **{"seeds": seeds, "steps": steps, **overrides(policy), **extra})


def problem(task: str = "A"):
    """The world's problem object (exact metrics; task ``"A"`` or ``"B"``)."""
    from entropy_lab.problems import get_problem

    return get_problem(PROBLEM, task=task, **PROBLEM_KW)


def entropy_ceiling(success) -> np.ndarray:
    """H_max(J) ``[...]`` for success ``[...]``: the most token entropy Σ_c w_c H_c of any policy
    of this world with Σ_c w_c p_c = J (``entropy_lab.problems.entropy_ceiling``; 4 correct arms
    of 16 on every context, the context weights w of the preset). The contextual bandit defines no
    ``H_max`` column, so the checks compute it here."""
    from entropy_lab.problems import entropy_ceiling as ceiling

    p = problem()
    m = (p.means > 0.5).sum(-1).to(torch.float64)
    j = torch.tensor(np.asarray(success, dtype=np.float64))
    return ceiling(j, m, p.num_actions, p.prompt_probs).numpy()


def final_ceiling(frame) -> np.ndarray:
    """``[B]`` H_max(J_T) of the final policies of a run in this world (:func:`entropy_ceiling`
    at the final J)."""
    return entropy_ceiling(at_step(frame, "J"))


def task_overlap() -> int:
    """Largest number of arms correct under both task A and task B on one context (0: disjoint)."""
    a, b = problem("A"), problem("B")
    both = (a.means > 0.5) & (b.means > 0.5)
    return int(both.sum(-1).max())


def prompts_moved(quick: bool, policy: str = "lowrank") -> float:
    """Mean number of contexts (of C) whose logits one GRPO update moves by more than 1e-12."""
    from entropy_lab.sim import run

    cfg = {**overrides(policy), "seeds": 2, "steps": 1}
    start = problem().init_logits(1)
    moved = run(PROBLEM, "grpo", generator=torch.Generator().manual_seed(0), **cfg).logits
    return float(((moved - start).abs().amax(-1) > 1e-12).sum(-1).to(torch.float64).mean())
