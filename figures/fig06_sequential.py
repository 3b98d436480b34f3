"""Figure 6 — sequential learning: train on task A, then switch the reward to task B
(``switch_task_at``) on the same token tree, per algorithm; the exact expected reward of the
task being trained, and the entropy, along training (seed mean ± s.e.).

Reading: after the switch, a policy that collapsed on task A starts task B with little entropy
to explore with; a slower or lower task-B curve is the cost of collapse the paper describes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import budget, require, require_finite, save, setup
from _runs import algorithm_runs

from entropy_lab.analysis.plots_dynamics import plot_trajectories

ALGORITHMS = ("grpo", "dapo", "repo_r", "adapo")
PROBLEM = "tree/calibrated"
STEPS_PER_TASK = budget(100, 10)
TRAIN = {"steps": 2 * STEPS_PER_TASK, "switch_task_at": STEPS_PER_TASK, "seeds": budget(8, 2),
         "optimizer": "sgd", "lr": 1.0}


def main() -> None:
    setup()
    runs = algorithm_runs("sequential", PROBLEM, ALGORITHMS, TRAIN)
    require_finite("J and entropy", runs[["J", "entropy"]])
    require(set(runs["task"]) == {"A", "B"}, "the runs never switched to task B")
    fig, (ax_j, ax_h) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    plot_trajectories(runs, y="J", hue="algorithm", ax=ax_j)
    plot_trajectories(runs, y="entropy", hue="algorithm", ax=ax_h)
    for ax in (ax_j, ax_h):
        ax.axvline(STEPS_PER_TASK, color="black", lw=1, linestyle=":")
    ax_j.text(STEPS_PER_TASK, 0.97, " switch to task B", fontsize=8, va="top",
              transform=ax_j.get_xaxis_transform())
    ax_j.set_ylabel("expected reward J of the current task (exact)")
    ax_j.set_title("Task A, then task B")
    ax_j.legend()
    ax_h.set_ylabel("token-averaged entropy (nats)")
    ax_h.set_title("Entropy across the switch")
    save(fig, "fig06_sequential",
         note=f"{PROBLEM}, sgd lr {TRAIN['lr']}, {STEPS_PER_TASK} steps per task, "
              f"{TRAIN['seeds']} seeds")


if __name__ == "__main__":
    main()
