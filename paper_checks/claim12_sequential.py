"""Claim 12: sequential learning. After entropy collapse on task A, learning task B is slower or
fails; REPO-R and DAPO policies stay trainable.

Each run rewards task A for the first half of the iterations and task B for the second half
(``switch_task_at``); the problems' task B shares the states, actions and initial logits with
another correct set (bandit: the next-ranked arms, disjoint from A; tree: half of A's correct
sequences kept, half new). Learning B after A is compared with learning B from the initial
policy for the same number of iterations (the ``fresh`` run), and across algorithms.
"""

from __future__ import annotations

from entropy_lab.checks import CheckResult, register_check
from paper_checks._sim_common import at_step, budget, fmt, mean_se, rounded, run_sim

PROBLEMS = ("bandit/calibrated", "tree/calibrated")
SEQUENTIAL = ("grpo", "repo_r", "dapo")


@register_check("claim12_sequential", claim=12, kind="empirical",
                title="Sequential learning: task B after collapse on A; REPO-R/DAPO stay trainable")
def check(quick: bool) -> CheckResult:
    seeds, steps = budget(quick)
    half = steps // 2
    measured, slower, trainable = {}, {}, {}
    for pid in PROBLEMS:
        jb = {}
        for algo in SEQUENTIAL:
            frame = run_sim(pid, algo, quick, switch_task_at=half).frame
            jb[algo] = at_step(frame, "J")
            measured[f"{pid}/{algo}/H_at_switch"] = mean_se(at_step(frame, "entropy", half))[0]
            measured[f"{pid}/{algo}/J_A_at_switch"] = mean_se(at_step(frame, "J", half))[0]
            measured[f"{pid}/{algo}/J_B_first"] = mean_se(at_step(frame, "J", half + 1))[0]
            measured[f"{pid}/{algo}/J_B_final"], measured[f"{pid}/{algo}/J_B_final_se"] = (
                mean_se(jb[algo]))
        fresh = run_sim(pid, "grpo", quick, steps=steps - half, **{"problem.task": "B"}).frame
        jf = at_step(fresh, "J")
        measured[f"{pid}/fresh_grpo/J_B_initial"] = mean_se(at_step(fresh, "J", 0))[0]
        measured[f"{pid}/fresh_grpo/J_B_final"], measured[f"{pid}/fresh_grpo/J_B_final_se"] = (
            mean_se(jf))
        d = mean_se(jf - jb["grpo"])
        measured[f"{pid}/fresh_minus_sequential_grpo"] = d[0]
        measured[f"{pid}/fresh_minus_sequential_grpo_se"] = d[1]
        slower[pid] = d[0] - 2 * d[1] > 0
        for algo in SEQUENTIAL[1:]:
            e = mean_se(jb[algo] - jb["grpo"])
            measured[f"{pid}/{algo}_minus_grpo_J_B"] = e[0]
            measured[f"{pid}/{algo}_minus_grpo_J_B_se"] = e[1]
            trainable[(pid, algo)] = e[0] - 2 * e[1] > 0
    ok = all(slower.values()) and all(trainable.values())
    m = measured
    return CheckResult.judge(
        ok, partly=all(slower.values()), measured=rounded(m),
        summary="A policy whose entropy collapsed on task A learns a new task B slowly or not "
                "at all; REPO-R and DAPO policies stay trainable.",
        precise=f"{', '.join(PROBLEMS)}; GRPO, REPO-R, DAPO presets, sampled N=8, G=8, Adam lr "
                f"0.05, {seeds} seeds; task A for {half} iterations then task B for "
                f"{steps - half}; fresh GRPO on task B from the initial policy for {steps - half} "
                "iterations. Final exact J on task B, paired over seeds.",
        tolerance="reproduced: fresh GRPO's final J_B above sequential GRPO's by > 2 SE on both "
                  "problems, and sequential REPO-R and DAPO above sequential GRPO by > 2 SE; "
                  "partly: the first part only.",
        reason="; ".join(
            f"{pid}: J_B final fresh GRPO "
            f"{fmt(m[f'{pid}/fresh_grpo/J_B_final'], m[f'{pid}/fresh_grpo/J_B_final_se'])}, "
            + ", ".join(f"after A {a} "
                        f"{fmt(m[f'{pid}/{a}/J_B_final'], m[f'{pid}/{a}/J_B_final_se'])}"
                        f" (H at switch {m[f'{pid}/{a}/H_at_switch']:.3f})" for a in SEQUENTIAL)
            for pid in PROBLEMS)
        + ". The tree's task B keeps half of task A's correct sequences, so a policy trained on "
          "A starts B with part of its reward; the bandit's task B is disjoint from A.",
    )
