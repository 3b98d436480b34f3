"""Claim 10: entropy collapse raises pass@1 and lowers pass@k for large k (exact pass@k).

Exact pass@k = Σ_c w_c (1 − (1 − p_c)^k) of the final policies, against the initial ("base")
policy and between a collapsing learner (GRPO) and an entropy-keeping one (REPO-R, same seeds).
On a single-prompt problem (a token tree) pass@k is a strictly increasing function of pass@1, so
the claim cannot hold there for any training method; the check measures that identity and adds a
multi-prompt problem (the contextual bandit, 4 prompts with their own logits) where it could.

World: tabular policy (no parameter is shared across prompts, so an update moves only the
sampled prompts' logits); regime: Adam lr 0.05, N = 8 × G = 8, the presets' 1 × 4 schedule. The
claim's mechanism — parameter sharing across prompts — is absent here by construction: this is
the tabular-world row, reported as not informative; ``claim10_passk_shared`` is the row where
sharing is present (and measured). Also reported: the initial policy's pass@256 headroom.
"""

from __future__ import annotations

import numpy as np

from entropy_lab.checks import CheckResult, register_check
from paper_checks._sim_common import (
    beyond,
    budget,
    exact_pass_at_k,
    fmt,
    get_problem_object,
    inactive,
    mean_se,
    rounded,
    run_sim,
    schedule,
)

PROBLEMS = ("tree/calibrated", "cbandit/anti")
KS = (1, 8, 64, 256)
K_LARGE = 256
LEARNERS = ("grpo", "repo_r")


@register_check("claim10_passk_collapse", claim=10, kind="empirical",
                title="Entropy collapse raises pass@1 and lowers pass@k at large k (exact)")
def check(quick: bool) -> CheckResult:
    measured, vs_base, vs_repo = {}, {}, {}
    identity_err = 0.0
    for pid in PROBLEMS:
        finals = {}
        for algo in LEARNERS:
            res = run_sim(pid, algo, quick)
            finals[algo] = exact_pass_at_k(pid, res.logits, KS)
            h = res.frame
            measured[f"{pid}/{algo}/H_final"] = float(h[h.step == h.step.max()].entropy.mean())
        problem = get_problem_object(pid)
        init = exact_pass_at_k(pid, problem.init_logits(1), KS)
        for k in KS:
            measured[f"{pid}/init/pass@{k}"] = float(init[k][0])
            for algo in LEARNERS:
                m, se = mean_se(finals[algo][k])
                measured[f"{pid}/{algo}/pass@{k}"] = m
                measured[f"{pid}/{algo}/pass@{k}_se"] = se
        g = finals["grpo"]
        vs_base[pid] = (beyond(g[1] - init[1][0]), beyond(g[K_LARGE] - init[K_LARGE][0]))
        vs_repo[pid] = (beyond(g[1] - finals["repo_r"][1]),
                        beyond(g[K_LARGE] - finals["repo_r"][K_LARGE]))
        measured[f"{pid}/grpo_vs_init_signs(pass@1,pass@{K_LARGE})"] = list(vs_base[pid])
        measured[f"{pid}/grpo_vs_repo_r_signs(pass@1,pass@{K_LARGE})"] = list(vs_repo[pid])
        if problem.num_prompts == 1:
            for algo in LEARNERS:
                p1 = finals[algo][1]
                for k in KS:
                    identity_err = max(identity_err, float(np.abs(
                        finals[algo][k] - (1.0 - (1.0 - p1) ** k)).max()))
    measured["single_prompt_identity_max_err"] = identity_err
    measured["shared_parameters"] = 0  # tabular policy: one free logit per (state, action)
    for pid in PROBLEMS:
        measured[f"{pid}/prompts"] = int(get_problem_object(pid).num_prompts)
    claim = (1, -1)
    base_both = all(vs_base[pid] == claim for pid in PROBLEMS)
    any_form = any(vs_base[pid] == claim or vs_repo[pid] == claim for pid in PROBLEMS)
    seeds, steps = budget(quick)
    m = measured
    return CheckResult.judge(
        base_both, partly=any_form, measured=rounded(m),
        summary="Entropy collapse raises pass@1 but lowers pass@k for large k (RL narrows the "
                "set of problems the policy can still solve by sampling).",
        precise=f"Tabular world: {', '.join(PROBLEMS)}, tabular policy; regime: GRPO and REPO-R "
                f"presets ({schedule('grpo')} epochs × minibatches), sampled N=8 × G=8, Adam lr "
                f"0.05, {seeds} seeds, {steps} steps; exact pass@k for k in {KS} of the final "
                "policies vs the initial policy and GRPO vs REPO-R (paired seeds).",
        tolerance=f"reproduced: GRPO's pass@1 above and pass@{K_LARGE} below the initial policy's "
                  "by > 2 SE on both problems; partly: that, or GRPO vs REPO-R in the same "
                  "directions, on one problem.",
        reason="; ".join(
            f"{pid}: pass@1 init {m[f'{pid}/init/pass@1']:.3g} → GRPO "
            f"{fmt(m[f'{pid}/grpo/pass@1'], m[f'{pid}/grpo/pass@1_se'])}, REPO-R "
            f"{fmt(m[f'{pid}/repo_r/pass@1'], m[f'{pid}/repo_r/pass@1_se'])}; pass@{K_LARGE} "
            f"init {m[f'{pid}/init/pass@{K_LARGE}']:.4f} → GRPO "
            f"{m[f'{pid}/grpo/pass@{K_LARGE}']:.4f}, REPO-R {m[f'{pid}/repo_r/pass@{K_LARGE}']:.4f}"
            for pid in PROBLEMS)
        + f". On the single-prompt tree pass@k = 1 − (1 − pass@1)^k (max error {identity_err:.1e}),"
          " so a higher pass@1 always means a higher pass@k; with independent logits per prompt "
          "a group update raises each prompt's success probability in expectation, so nothing "
          "here can lower pass@k: the LLM effect needs parameters shared across prompts. "
        + inactive("parameter sharing across prompts", "tabular policy, 0 shared parameters; "
                   + ", ".join(f"{pid} {m[f'{pid}/prompts']} prompt(s), pass@{K_LARGE} headroom "
                               f"{1 - m[f'{pid}/init/pass@{K_LARGE}']:.1e}" for pid in PROBLEMS),
                   start=True) + ".",
    )
