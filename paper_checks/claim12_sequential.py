"""Claim 12: sequential learning. After entropy collapse on task A, learning task B is slower or
fails; REPO-R and DAPO policies stay trainable.

Each run rewards task A for the first half of the iterations and task B for the second half
(``switch_task_at``); the problems' task B shares the states, actions and initial logits with
another correct set (bandit: the next-ranked arms, disjoint from A; tree: half of A's correct
sequences kept, half new). Learning B after A is compared with learning B from the initial
policy for the same number of iterations (the ``fresh`` run), and across algorithms.

World: tabular policy; regime: Adam lr 0.05, N = 8 × G = 8, the presets' 1 × 4 schedule.
Reported beside the verdict (the rule is unchanged): the task overlap (correct answers of task B
that are also correct under A, measured on the problem objects) — the rule needs B disjoint,
which the tree's B is not — and DAPO's upper-clip fraction during task A (clip-higher is DAPO's
only difference from the symmetric band; below 0.1% DAPO cannot differ from it).
``claim12_sequential_shared`` is the row in a shared-parameter world with B disjoint everywhere.
"""

from __future__ import annotations

from entropy_lab.checks import CheckResult, register_check
from paper_checks._sim_common import (
    active_clip_fraction,
    at_step,
    budget,
    clip_activity,
    fmt,
    get_problem_object,
    inactive,
    mean_se,
    rounded,
    run_sim,
    schedule,
)

PROBLEMS = ("bandit/calibrated", "tree/calibrated")
SEQUENTIAL = ("grpo", "repo_r", "dapo")


def task_overlap(pid: str) -> tuple[int, int]:
    """(largest number of answers correct under both tasks on one prompt, task A's correct count
    on that prompt): 0 shared means task B is disjoint from A."""
    a, b = get_problem_object(pid, "A"), get_problem_object(pid, "B")
    ca, cb = ((p.leaf_correct if hasattr(p, "leaf_correct") else p.correct_arms).bool()
              for p in (a, b))
    both = (ca & cb).sum(-1).reshape(-1)
    worst = int(both.argmax())
    return int(both[worst]), int(ca.sum(-1).reshape(-1)[worst])


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
            if algo == "dapo":
                on_a = frame[frame["step"] <= half]
                measured[f"{pid}/dapo/clip_frac_high_task_A"] = clip_activity(on_a)[
                    "clip_frac_high"]
            measured[f"{pid}/{algo}/H_at_switch"] = mean_se(at_step(frame, "entropy", half))[0]
            measured[f"{pid}/{algo}/J_A_at_switch"] = mean_se(at_step(frame, "J", half))[0]
            measured[f"{pid}/{algo}/J_B_first"] = mean_se(at_step(frame, "J", half + 1))[0]
            measured[f"{pid}/{algo}/J_B_final"], measured[f"{pid}/{algo}/J_B_final_se"] = (
                mean_se(jb[algo]))
        shared, total = task_overlap(pid)
        measured[f"{pid}/task_overlap"] = shared
        measured[f"{pid}/task_A_correct"] = total
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
    lo = active_clip_fraction()
    notes = [f"not informative on {pid}: task B is not disjoint from A "
             f"({m[f'{pid}/task_overlap']} of task A's {m[f'{pid}/task_A_correct']} correct "
             "answers stay correct under B)" for pid in PROBLEMS if m[f"{pid}/task_overlap"] > 0]
    quiet = [pid for pid in PROBLEMS if not m[f"{pid}/dapo/clip_frac_high_task_A"] >= lo]
    if quiet:
        notes.append(inactive("for DAPO, the upper clip", ", ".join(
            f"{pid} upper-clip fraction on task A {m[f'{pid}/dapo/clip_frac_high_task_A']:.1e}"
            for pid in quiet)))
    return CheckResult.judge(
        ok, partly=all(slower.values()), measured=rounded(m),
        summary="A policy whose entropy collapsed on task A learns a new task B slowly or not "
                "at all; REPO-R and DAPO policies stay trainable.",
        precise=f"Tabular world: {', '.join(PROBLEMS)}, tabular policy; regime: GRPO, REPO-R, "
                f"DAPO presets ({schedule('grpo')} epochs × minibatches), sampled N=8 × G=8, Adam "
                f"lr 0.05, {seeds} seeds; task A for {half} iterations then task B for "
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
          "A starts B with part of its reward; the bandit's task B is disjoint from A."
        + "".join(f" {n[0].upper()}{n[1:]}." for n in notes),
    )
