"""Claim 9: bf16 vs fp16 / fp32 log-probs change DAPO's entropy trajectory qualitatively
(collapse vs growth) — or not; and what TIS / masking corrections do against the precision fix.

Regime caveat, stated in the verdict: the simulator's rollouts are still drawn from the exact
policy (the exact-π diagnostic of ``entropy_lab.precision.sampling``, not the sampler's own
distribution), the ratio uses the bypass convention only, and no regime exists yet in which exact
DAPO − symmetric PPO entropy is resolved above zero; so this verdict cannot speak for the paper's
mechanism."""

from __future__ import annotations

import torch

from entropy_lab.checks import CheckResult, register_check

PROBLEM = "bandit64/calibrated"
LR = 0.5
STEPS, STEPS_QUICK = 100, 30
SEEDS = 4
# (algorithm preset, precision pipeline, overrides)
RUNS = [
    ("dapo", None, {}), ("dapo", "bf16", {}), ("dapo", "bf16_fsdp2", {}), ("dapo", "fp16", {}),
    ("dapo", "fp32_logprobs", {}), ("dapo", "bf16", {"loss": "tis"}),
    ("dapo", "bf16", {"loss": "icepop"}),
    ("ppo", None, {}), ("ppo", "bf16", {}), ("rloo", None, {}), ("rloo", "bf16", {}),
]


def _final_entropy(algo: str, precision, overrides: dict, steps: int) -> tuple[float, float, float]:
    from entropy_lab.sim import simulate

    df = simulate(PROBLEM, algo, steps=steps, seeds=SEEDS, lr=LR, precision=precision,
                  generator=torch.Generator().manual_seed(9), **overrides)
    per_seed = df[df["step"] == steps].set_index("seed")["entropy"]
    h0 = df[df["step"] == 0]["entropy"].mean()
    return h0, per_seed.mean(), per_seed.std() / len(per_seed) ** 0.5


@register_check("claim09_bf16_dapo_dynamics", claim=9, kind="empirical",
                title="bf16 vs fp16/fp32 log-probs: DAPO entropy collapse vs growth (bandit)")
def check(quick: bool) -> CheckResult:
    steps = STEPS_QUICK if quick else STEPS
    measured, finals = {}, {}
    for algo, prec, over in RUNS:
        key = f"{algo}/{prec or 'exact'}" + "".join(f"/{k}={v}" for k, v in over.items())
        h0, h, se = _final_entropy(algo, prec, over, steps)
        finals[key] = (h, se)
        measured[f"H_final/{key}"] = round(h, 4)
        measured[f"H_final_se/{key}"] = round(se, 4)
        measured["H_initial"] = round(h0, 4)
    bf16, fix = finals["dapo/bf16"], finals["dapo/fp32_logprobs"]
    fix_grows = fix[0] > measured["H_initial"]
    bf16_collapses = bf16[0] < 0.5 * measured["H_initial"]
    differs = abs(fix[0] - bf16[0]) > 3 * (fix[1] ** 2 + bf16[1] ** 2) ** 0.5
    measured.update({"dapo_fp32_logprobs_grows": fix_grows, "dapo_bf16_collapses": bf16_collapses,
                     "bf16_vs_fix_differs_3se": differs, "sampling": "exact_pi_diagnostic",
                     "regime_with_dapo_minus_ppo_resolved": False})
    return CheckResult.judge(
        bf16_collapses and fix_grows, partly=differs,
        measured=measured,
        summary="With log-probs in fp32 (or fp16 end to end) DAPO's entropy grows; in bf16 it "
                "collapses.",
        precise=f"{PROBLEM}, lr {LR}, {SEEDS} seeds, {steps} steps, sampled mode: final token "
                "entropy of DAPO under exact, bf16, bf16_fsdp2, fp16 and fp32_logprobs "
                "pipelines (network disagreement emulated as relative logit noise ∝ ε_dtype); "
                "PPO and RLOO under exact and bf16; DAPO-bf16 with TIS and IcePop corrections.",
        tolerance="collapse: final H < ½ initial; growth: final H > initial; difference "
                  "resolved at 3 SE (seed-to-seed)",
        reason=(f"initial H {measured['H_initial']:.3f}; DAPO final H exact "
                f"{finals['dapo/exact'][0]:.3f}, bf16 {bf16[0]:.3f}±{bf16[1]:.3f}, "
                f"fp32_logprobs {fix[0]:.3f}±{fix[1]:.3f}, fp16 {finals['dapo/fp16'][0]:.3f}. "
                "Entropy falls under every pipeline on this calibrated bandit: precision does "
                "not turn collapse into growth here." if not fix_grows else
                f"fp32_logprobs final H {fix[0]:.3f} above initial {measured['H_initial']:.3f}")
               + " Not informative yet: rollouts drawn from the exact policy (diagnostic "
                 "sampling, bypass only) and no regime where exact DAPO − symmetric PPO entropy "
                 "is resolved above zero.",
    )
