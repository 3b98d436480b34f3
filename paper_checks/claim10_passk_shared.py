"""Claim 10 in a shared-parameter world: collapse raises pass@1 and lowers pass@k at large k.

World and regime: ``paper_checks/_shared_world.py`` (64 contexts, lowrank policy, Adam 0.05,
N = 16 × G = 8). Exact pass@k of the final policies (k = 1 and 256, from the frame) against the
initial policy, for GRPO (the collapsing learner), REPO-R (paired seeds) and, as the control
without sharing, GRPO on the tabular policy in the same world.

Decision rule (fixed before the check was run for a verdict): with sharing active (one update
moves more contexts than it samples), reproduced when GRPO's final pass@1 is above the initial
value and its final pass@256 below it, each by more than 2 SE over seeds; partly when only one
of the two holds; not reproduced otherwise, or when sharing is not active. GRPO − REPO-R and the
tabular control are reported, not judged.
"""

from __future__ import annotations

from entropy_lab.checks import CheckResult, register_check
from paper_checks import _shared_world as world
from paper_checks._sim_common import at_step, fmt, mean_se, rounded

K = world.K_LARGE
LEARNERS = {"grpo": ("grpo", "lowrank"), "repo_r": ("repo_r", "lowrank"),
            "grpo_tabular": ("grpo", "tabular")}


@register_check("claim10_passk_shared", claim=10, kind="empirical",
                title="Collapse raises pass@1 and lowers pass@256 (exact) — shared-parameter world")
def check(quick: bool) -> CheckResult:
    m = {}
    finals = {}
    for name, (algo, policy) in LEARNERS.items():
        frame = world.run_shared(algo, quick, policy=policy).frame
        finals[name] = {c: at_step(frame, c) for c in ("pass@1", f"pass@{K}", "entropy")}
        for col, x in finals[name].items():
            m[f"{name}/{col}"], m[f"{name}/{col}_se"] = mean_se(x)
        if name == "grpo":
            init = {c: float(at_step(frame, c, 0)[0]) for c in ("pass@1", f"pass@{K}", "entropy")}
            m.update({f"init/{c}": v for c, v in init.items()})
            m["grpo/clip_frac_mean"] = float(frame[frame.step > 0]["clip/frac"].mean())
    m["prompts_moved_per_step/lowrank"] = world.prompts_moved(quick)
    m["prompts_moved_per_step/tabular"] = world.prompts_moved(quick, "tabular")
    m["prompts_sampled_per_step"] = world.SETTING["n_prompts"]
    active = m["prompts_moved_per_step/lowrank"] > m["prompts_sampled_per_step"]
    d1 = mean_se(finals["grpo"]["pass@1"] - init["pass@1"])
    dk = mean_se(finals["grpo"][f"pass@{K}"] - init[f"pass@{K}"])
    up, down = d1[0] - 2 * d1[1] > 0, dk[0] + 2 * dk[1] < 0
    rk = mean_se(finals["grpo"][f"pass@{K}"] - finals["repo_r"][f"pass@{K}"])
    m.update({"grpo/pass@1_change": d1[0], "grpo/pass@1_change_se": d1[1],
              f"grpo/pass@{K}_change": dk[0], f"grpo/pass@{K}_change_se": dk[1],
              f"grpo_minus_repo_r/pass@{K}": rk[0], f"grpo_minus_repo_r/pass@{K}_se": rk[1],
              "sharing_active": active})
    seeds, steps = world.budget(quick)
    return CheckResult.judge(
        active and up and down, partly=active and (up or down), measured=rounded(m),
        summary="Entropy collapse raises pass@1 but lowers pass@k for large k.",
        precise=f"{world.WORLD}; {seeds} seeds, {steps} steps. GRPO's final exact pass@1 and "
                f"pass@{K} against the initial policy's; REPO-R (same seeds) and tabular GRPO "
                "(no sharing) reported.",
        tolerance=f"reproduced: sharing active and GRPO's pass@1 up and pass@{K} down, each by "
                  "> 2 SE over seeds; partly: one of the two; rule fixed before the run.",
        reason=(f"GRPO pass@1 {m['init/pass@1']:.3f} → "
                f"{fmt(m['grpo/pass@1'], m['grpo/pass@1_se'])}, pass@{K} "
                f"{m[f'init/pass@{K}']:.4f} → {fmt(m[f'grpo/pass@{K}'], m[f'grpo/pass@{K}_se'])} "
                f"(Δ {fmt(dk[0], dk[1])}), entropy {m['init/entropy']:.2f} → "
                f"{m['grpo/entropy']:.2f}; REPO-R pass@{K} "
                f"{fmt(m[f'repo_r/pass@{K}'], m[f'repo_r/pass@{K}_se'])} (GRPO − REPO-R "
                f"{fmt(rk[0], rk[1])}); tabular GRPO in the same world pass@1 "
                f"{fmt(m['grpo_tabular/pass@1'], m['grpo_tabular/pass@1_se'])}, pass@{K} "
                f"{fmt(m[f'grpo_tabular/pass@{K}'], m[f'grpo_tabular/pass@{K}_se'])}. One lowrank "
                f"update moves {m['prompts_moved_per_step/lowrank']:.0f} of 64 contexts' logits "
                f"({m['prompts_sampled_per_step']} sampled; tabular "
                f"{m['prompts_moved_per_step/tabular']:.1f})."),
    )
