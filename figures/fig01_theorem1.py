"""Figure 1 — Theorem 1: the first-order prediction ∇_z H·Δz against the exact entropy change
H(z + Δz) − H(z) of exact-gradient steps on tabular problems, and the O(η²) order of its error.

(a) Each point is one step along an exact-gradient ascent run (Δz = η·∂J/∂z, η set so that the
largest logit moves by ``MAX_STEP`` at every step), for the calibrated,
uncorrelated and anti-calibrated initialisation of each problem: points on y = x mean the first
order is the whole story at this step size; the sign of ΔH follows the initialisation.
(b) |exact − predicted| at the initial policy as the step shrinks: slope 2 on log-log axes is the
O(η²) error Theorem 1 promises.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from _common import budget, require, require_finite, save, setup

from entropy_lab.analysis.plots_theory import plot_convergence, plot_pred_vs_exact
from entropy_lab.problems import get_problem

PROBLEMS = ("bandit", "cbandit", "tree", "mdp")   # families, each × the three inits
INITS = ("calibrated", "uncorrelated", "anti")
INIT_NOISE = 0.3            # random logit noise so steps differ between seeds (bandit families)
SEEDS = 2
STEPS = budget(16, 4)       # exact-gradient steps per run (panel a)
MAX_STEP = 0.25             # every step moves its largest logit by this much (panel a)
DELTAS = np.logspace(-4, -0.5, budget(8, 4))   # largest |Δz| of the probe steps (panel b)


def _problem(family: str, init: str):
    overrides = {"init_noise": INIT_NOISE} if family.startswith(("bandit", "cbandit")) else {}
    return get_problem(f"{family}/{init}", **overrides)


def _step_pair(problem, logits, delta):
    """(predicted, exact) token-averaged entropy change for the step ``delta``: ``[B]`` each."""
    z = logits.detach().requires_grad_(True)
    h = problem.entropy(z)
    (grad,) = torch.autograd.grad(h.sum(), z)
    pred = (grad * delta).sum(dim=(-2, -1))
    exact = problem.entropy(logits + delta) - h.detach()
    return pred.detach(), exact


def trajectory_points(problem, label: str) -> pd.DataFrame:
    gen = torch.Generator().manual_seed(0)
    logits = problem.init_logits(SEEDS, gen)
    rows = []
    for step in range(STEPS):
        grad = problem.grad_J(logits)
        delta = MAX_STEP * grad / grad.abs().amax(dim=(-2, -1), keepdim=True)
        pred, exact = _step_pair(problem, logits, delta)
        rows += [{"problem": label, "step": step, "dH_pred": p, "dH_exact": e}
                 for p, e in zip(pred.tolist(), exact.tolist())]
        logits = logits + delta
    return pd.DataFrame(rows)


def convergence_points(problem, label: str) -> pd.DataFrame:
    logits = problem.init_logits(1, torch.Generator().manual_seed(0))
    direction = problem.grad_J(logits)
    direction = direction / direction.abs().amax()
    rows = []
    for d in DELTAS:
        pred, exact = _step_pair(problem, logits, float(d) * direction)
        rows.append({"problem": label, "eta": d, "error": (exact - pred).item()})
    return pd.DataFrame(rows)


def main() -> None:
    setup()
    families = PROBLEMS
    traj, conv = [], []
    for family in families:
        for init in INITS:
            problem = _problem(family, init)
            traj.append(trajectory_points(problem, f"{family}/{init}"))
        conv.append(convergence_points(_problem(family, "calibrated"), f"{family}/calibrated"))
    traj, conv = pd.concat(traj), pd.concat(conv)
    require_finite("predicted/exact ΔH", traj[["dH_pred", "dH_exact"]])
    require_finite("first-order errors", conv["error"])
    require(bool((conv["error"] != 0).all()), "a first-order error is exactly 0")

    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(11.5, 4.4))
    traj["init"] = traj["problem"].str.split("/").str[1]
    plot_pred_vs_exact(traj, hue="init", ax=ax_a)
    ax_a.set_title("(a) exact-gradient steps: predicted vs exact ΔH")
    ax_a.legend(loc="upper left")
    plot_convergence(conv, hue="problem", ax=ax_b)
    ax_b.set_title("(b) first-order error vs step size (dotted: slope 2)")
    ax_b.set_xlabel("step size (largest |Δz|)")
    ax_b.legend(loc="upper left")
    save(fig, "fig01_theorem1",
         note=f"problems: {', '.join(families)}; {SEEDS} seeds × {STEPS} steps per run")


if __name__ == "__main__":
    main()
