"""Claim 12 in a shared-parameter world: after collapse on task A, task B is learned slowly;
REPO-R and DAPO policies stay trainable. Methods compared at matched task-A pass@1.

World and regime: ``paper_checks/_shared_world.py``. Task B is disjoint from task A on every
context (measured: ``task_overlap`` = 0). Matching: each method first trains on task A alone;
its switch step t_m is the first iteration at which its seed-mean J_A reaches ``J_A_TARGET``
(the last A iteration if it never does, reported as unmatched). The sequential run trains task
A for t_m iterations, then task B for ``B_STEPS`` (same seeds and stream, ``switch_task_at``).
Fresh baseline: GRPO on task B from the initial policy for ``B_STEPS``.

Decision rule (fixed before the check was run for a verdict): with sharing active and every
method matched, reproduced when fresh GRPO's final J_B is above sequential GRPO's by > 2 SE
and sequential REPO-R's and DAPO's are each above sequential GRPO's by > 2 SE (paired seeds);
partly when only the first part holds; not reproduced otherwise.
"""

from __future__ import annotations

from entropy_lab.checks import CheckResult, register_check
from paper_checks import _shared_world as world
from paper_checks._sim_common import at_step, fmt, mean_se, rounded

J_A_TARGET = 0.75
B_STEPS, B_STEPS_QUICK = 60, 10
SEQUENTIAL = ("grpo", "repo_r", "dapo")


def switch_step(algo: str, quick: bool) -> tuple[int, bool]:
    """First step at which the seed-mean J_A of ``algo`` reaches the target, and whether it did."""
    frame = world.run_shared(algo, quick).frame
    mean_j = frame.groupby("step")["J"].mean()
    hit = mean_j[mean_j >= J_A_TARGET]
    return (int(hit.index[0]), True) if len(hit) else (int(mean_j.index[-1]), False)


@register_check("claim12_sequential_shared", claim=12, kind="empirical",
                title="Sequential learning at matched task-A pass@1 — shared-parameter world")
def check(quick: bool) -> CheckResult:
    b_steps = B_STEPS_QUICK if quick else B_STEPS
    m, jb = {}, {}
    matched = True
    for algo in SEQUENTIAL:
        t, hit = switch_step(algo, quick)
        matched &= hit
        frame = world.run_shared(algo, quick, steps=t + b_steps, switch_task_at=t).frame
        jb[algo] = at_step(frame, "J")
        m[f"{algo}/switch_step"] = t
        m[f"{algo}/J_A_at_switch"], m[f"{algo}/J_A_at_switch_se"] = mean_se(at_step(frame, "J", t))
        m[f"{algo}/H_at_switch"] = mean_se(at_step(frame, "entropy", t))[0]
        m[f"{algo}/J_B_first"] = mean_se(at_step(frame, "J", t + 1))[0]
        m[f"{algo}/J_B_final"], m[f"{algo}/J_B_final_se"] = mean_se(jb[algo])
        moving = frame[frame.step > 0]
        m[f"{algo}/clip_frac_mean"] = float(moving["clip/frac"].mean())
        m[f"{algo}/clip_frac_high_mean"] = float(moving["clip/frac_high"].mean())
    fresh = world.run_shared("grpo", quick, steps=b_steps, **{"problem.task": "B"}).frame
    jf = at_step(fresh, "J")
    m["fresh_grpo/J_B_initial"] = float(at_step(fresh, "J", 0)[0])
    m["fresh_grpo/H_initial"] = float(at_step(fresh, "entropy", 0)[0])
    m["fresh_grpo/J_B_final"], m["fresh_grpo/J_B_final_se"] = mean_se(jf)
    d = mean_se(jf - jb["grpo"])
    m["fresh_minus_sequential_grpo"], m["fresh_minus_sequential_grpo_se"] = d
    slower = d[0] - 2 * d[1] > 0
    trainable = {}
    for algo in SEQUENTIAL[1:]:
        e = mean_se(jb[algo] - jb["grpo"])
        m[f"{algo}_minus_grpo_J_B"], m[f"{algo}_minus_grpo_J_B_se"] = e
        trainable[algo] = e[0] - 2 * e[1] > 0
    m["task_overlap_max_arms"] = world.task_overlap()
    m["prompts_moved_per_step/lowrank"] = world.prompts_moved(quick)
    m["prompts_sampled_per_step"] = world.SETTING["n_prompts"]
    m["all_matched"] = matched
    valid = (matched and m["task_overlap_max_arms"] == 0
             and m["prompts_moved_per_step/lowrank"] > m["prompts_sampled_per_step"])
    seeds, _ = world.budget(quick)
    return CheckResult.judge(
        valid and slower and all(trainable.values()), partly=valid and slower,
        measured=rounded(m),
        summary="A policy whose entropy collapsed on task A learns a new task B slowly or not "
                "at all; REPO-R and DAPO policies stay trainable.",
        precise=f"{world.WORLD}; {seeds} seeds. GRPO, REPO-R, DAPO train task A until their "
                f"seed-mean J_A first reaches {J_A_TARGET} (matched), then task B (disjoint on "
                f"every context) for {b_steps} iterations; fresh GRPO on B from the initial "
                f"policy for {b_steps}. Final exact J_B, paired over seeds.",
        tolerance="reproduced: fresh − sequential GRPO > 2 SE and sequential REPO-R, DAPO − "
                  "sequential GRPO > 2 SE each (all matched, B disjoint, sharing active); "
                  "partly: the first part; rule fixed before the run.",
        reason=(f"J_B after {b_steps} B steps: fresh GRPO "
                f"{fmt(m['fresh_grpo/J_B_final'], m['fresh_grpo/J_B_final_se'])} (from "
                f"{m['fresh_grpo/J_B_initial']:.3f}); "
                + "; ".join(f"after A {a} {fmt(m[f'{a}/J_B_final'], m[f'{a}/J_B_final_se'])} "
                            f"(switch at step {m[f'{a}/switch_step']}, J_A "
                            f"{m[f'{a}/J_A_at_switch']:.3f}, H {m[f'{a}/H_at_switch']:.2f})"
                            for a in SEQUENTIAL)
                + f"; fresh − sequential GRPO {fmt(*d)}; "
                + ", ".join(f"{a} − GRPO "
                            f"{fmt(m[f'{a}_minus_grpo_J_B'], m[f'{a}_minus_grpo_J_B_se'])}"
                            for a in SEQUENTIAL[1:])
                + f". Task overlap {m['task_overlap_max_arms']} arms; one update moves "
                  f"{m['prompts_moved_per_step/lowrank']:.0f} of 64 contexts."
                + ("" if matched else " Not every method reached the target J_A: unmatched.")),
    )
