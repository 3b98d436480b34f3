"""Figure 6 — sequential learning: train on task A, then switch the reward to task B
(``switch_task_at``), per algorithm; the exact expected reward of the task being trained, and the
entropy, along training (seed mean ± 1 SE).

Top row, the shared-parameter world of ``claim12_sequential_shared`` (``paper_checks/
_shared_world.py``: ``cbandit/anti``, 64 contexts × 16 arms, ``lowrank`` rank 4, Adam 0.05, N = 16
× G = 8, preset schedules): task B is disjoint from task A on every context, and GRPO, REPO-R and
DAPO are compared at matched task-A pass@1 — each switches at the first iteration its seed-mean
J_A reaches the check's target, so the x axis counts iterations from each method's own switch.
Fresh GRPO trains task B from the initial policy (x = 0 is its start). Bottom row, the first
round's tabular token tree (kept as the contrast): no sharing, task B keeps half of task A's
correct sequences, and with SGD the clip never fires, so GRPO, DAPO and ADAPO coincide.

Reading: a sequential curve below fresh GRPO's on task B is the cost of having trained on A;
REPO-R or DAPO above sequential GRPO would be "stays trainable".
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from _common import QUICK, budget, require, require_finite, save, setup
from _runs import algorithm_runs, cached, paper_checks_module

from entropy_lab.analysis.plots_dynamics import plot_trajectories

# Bottom row: the tabular token tree of the first round.
ALGORITHMS = ("grpo", "dapo", "repo_r", "adapo")
PROBLEM = "tree/calibrated"
STEPS_PER_TASK = budget(100, 10)
TRAIN = {"steps": 2 * STEPS_PER_TASK, "switch_task_at": STEPS_PER_TASK, "seeds": budget(8, 2),
         "optimizer": "sgd", "lr": 1.0}
# Top row: claim 12's shared-parameter world, its methods, target and task-B budget.
CHECK = paper_checks_module("claim12_sequential_shared")
WORLD = paper_checks_module("_shared_world")
FRESH = "fresh grpo"


def _shared_runs() -> dict[str, pd.DataFrame]:
    """Claim 12's sequential runs (x = ``rel``: iterations since the method's own switch) and
    fresh GRPO on task B, with the activity numbers the note reports."""
    b_steps = CHECK.B_STEPS_QUICK if QUICK else CHECK.B_STEPS
    frames, info = [], []
    for algo in CHECK.SEQUENTIAL:
        t, hit = CHECK.switch_step(algo, QUICK)
        f = WORLD.run_shared(algo, QUICK, steps=t + b_steps, switch_task_at=t).frame
        frames.append(f.assign(algorithm=algo, rel=f["step"] - t))
        moving = f[f["step"] > 0]
        info.append({"algorithm": algo, "switch": t, "matched": hit,
                     "clip_frac": float(moving["clip/frac"].mean()),
                     "clip_frac_high": float(moving["clip/frac_high"].mean())})
    fresh = WORLD.run_shared("grpo", QUICK, steps=b_steps, **{"problem.task": "B"}).frame
    frames.append(fresh.assign(algorithm=FRESH, rel=fresh["step"]))
    info.append({"algorithm": FRESH, "switch": 0, "matched": True,
                 "overlap": WORLD.task_overlap(), "moved": WORLD.prompts_moved(QUICK)})
    return {"runs": pd.concat(frames, ignore_index=True), "info": pd.DataFrame(info)}


def shared_runs() -> dict[str, pd.DataFrame]:
    """The cached :func:`_shared_runs` (the world's settings are part of the key: they live in
    ``paper_checks/``, outside the package digest)."""
    settings = {"world": WORLD.overrides(), "problem": WORLD.PROBLEM, "seeds_steps":
                WORLD.budget(QUICK), "target": CHECK.J_A_TARGET, "methods": CHECK.SEQUENTIAL,
                "b_steps": (CHECK.B_STEPS, CHECK.B_STEPS_QUICK)}
    return cached("sequential_shared", settings, _shared_runs)


def _draw_shared(ax_j, ax_h) -> str:
    data = shared_runs()
    runs, info = data["runs"], data["info"].set_index("algorithm")
    require_finite("shared-world J and entropy", runs[["J", "entropy"]])
    require(set(runs["algorithm"]) == {*CHECK.SEQUENTIAL, FRESH}, "a shared-world run is missing")
    seq = runs[runs["algorithm"] != FRESH]
    require(set(seq.loc[seq["rel"] > 0, "task"]) == {"B"}, "a sequential run never switched")
    for ax, y in ((ax_j, "J"), (ax_h, "entropy")):
        plot_trajectories(seq, y=y, x="rel", hue="algorithm", ax=ax)
        plot_trajectories(runs[runs["algorithm"] == FRESH], y=y, x="rel", hue=None, ax=ax,
                          color="black", linestyle="--", label_prefix="fresh GRPO on B")
        ax.axvline(0, color="black", lw=1, linestyle=":")
        ax.set_xlabel("iterations since the switch (each method's own)")
    ax_j.axhline(CHECK.J_A_TARGET, color="#999999", lw=0.8, linestyle="--")
    ax_j.text(ax_j.get_xlim()[0], CHECK.J_A_TARGET, f" matched J_A = {CHECK.J_A_TARGET}",
              fontsize=7, va="bottom", color="#666666")
    ax_j.set_ylabel("exact J of the current task")
    ax_h.set_ylabel("token entropy (nats)")
    ax_j.set_title("Shared world: task A to a matched J_A, then task B (disjoint)", fontsize=10)
    ax_h.set_title("Shared world: entropy across the switch", fontsize=10)
    handles, labels = ax_j.get_legend_handles_labels()
    labels = [f"{lab} (switch at {int(info.loc[lab, 'switch'])}, "
              f"clipped {info.loc[lab, 'clip_frac']:.1%})" if lab in CHECK.SEQUENTIAL else lab
              for lab in labels]
    ax_j.legend(handles, labels, fontsize=7)
    fresh = info.loc[FRESH]
    seeds, _ = WORLD.budget(QUICK)
    unmatched = [a for a in CHECK.SEQUENTIAL if not info.loc[a, "matched"]]
    return (f"top: {WORLD.PROBLEM} 64 contexts × 16 arms, lowrank rank 4 (one update moves "
            f"{fresh['moved']:.0f} of 64 contexts), task overlap {int(fresh['overlap'])} arms, "
            f"Adam 0.05, N×G = 16×8, preset schedules 1×4, {seeds} seeds"
            + (f" — not matched: {', '.join(unmatched)}" if unmatched else ""))


def _draw_tabular(ax_j, ax_h) -> str:
    runs = algorithm_runs("sequential", PROBLEM, ALGORITHMS, TRAIN)
    require_finite("J and entropy", runs[["J", "entropy"]])
    require(set(runs["task"]) == {"A", "B"}, "the runs never switched to task B")
    plot_trajectories(runs, y="J", hue="algorithm", ax=ax_j)
    plot_trajectories(runs, y="entropy", hue="algorithm", ax=ax_h)
    for ax in (ax_j, ax_h):
        ax.axvline(STEPS_PER_TASK, color="black", lw=1, linestyle=":")
    ax_j.text(STEPS_PER_TASK, 0.97, " switch to task B", fontsize=8, va="top",
              transform=ax_j.get_xaxis_transform())
    ax_j.set_ylabel("exact J of the current task")
    ax_j.set_title("Tabular tree: task A, then task B (overlapping)", fontsize=10)
    ax_j.legend(fontsize=7)
    ax_h.set_ylabel("token entropy (nats)")
    ax_h.set_title("Tabular tree: entropy across the switch", fontsize=10)
    return (f"bottom: {PROBLEM}, tabular, sgd lr {TRAIN['lr']} (clip inactive), "
            f"{STEPS_PER_TASK} steps per task, {TRAIN['seeds']} seeds")


def main() -> None:
    setup()
    fig, axes = plt.subplots(2, 2, figsize=(11.5, 8.4), gridspec_kw={"hspace": 0.4})
    top = _draw_shared(*axes[0])
    bottom = _draw_tabular(*axes[1])
    save(fig, "fig06_sequential", note=f"{top};\n{bottom}; ± 1 SE over seeds")


if __name__ == "__main__":
    main()
