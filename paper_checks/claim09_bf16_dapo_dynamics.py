"""Claim 9: bf16 vs fp16 / fp32 log-probs change DAPO's entropy trajectory qualitatively
(collapse vs growth) — or not; and what TIS / masking corrections do against the precision fix.

World and regime: ``bandit64/calibrated`` (one state, 64 arms), SGD lr 0.5, 4 seeds, sampled
mode, tokens drawn *faithfully* from each pipeline's sampler distribution (an engine's draw),
under each old-log-prob convention for DAPO-bf16: bypass (``rollout``), ``recompute``,
``recompute+tis`` and ``recompute+icepop``; the exact-π draw appears once, as the labelled
diagnostic row. Decision rule (fixed before the run, unchanged from the first round): reproduced
iff under faithful bypass DAPO-bf16 collapses (final H < ½ initial) and DAPO-fp32_logprobs grows
(final H > initial); partly if the two finals differ by more than 3 seed-to-seed SE.

Whether the mechanism is present is measured, not assumed: the claim's mechanism is DAPO's
clip-higher acting (differently) on the ratios, so the verdict is informative only where exact
DAPO − symmetric PPO final entropy is resolved above zero (> 3 SE) and clipping fires (mean
per-step clip fraction of exact DAPO ≥ 0.1%). Both are reported; where either fails the verdict
says it is not informative.
"""

from __future__ import annotations

import torch

from entropy_lab.checks import CheckResult, register_check
from paper_checks._sim_common import inactive, schedule

PROBLEM = "bandit64/calibrated"
LR = 0.5
STEPS, STEPS_QUICK = 100, 30
SEEDS = 4
# (algorithm preset, precision pipeline, overrides)
RECOMPUTE = {"old_logp": "recompute"}
RUNS = [
    ("dapo", None, {}), ("dapo", "bf16", {}), ("dapo", "bf16_fsdp2", {}), ("dapo", "fp16", {}),
    ("dapo", "fp32_logprobs", {}),
    ("dapo", "bf16", RECOMPUTE), ("dapo", "bf16", {"loss": "tis", **RECOMPUTE}),
    ("dapo", "bf16", {"loss": "icepop", **RECOMPUTE}),
    ("dapo", "bf16", {"sampling": "exact_pi_diagnostic"}),
    ("ppo", None, {}), ("ppo", "bf16", {}), ("rloo", None, {}), ("rloo", "bf16", {}),
]
MIN_CLIP_FRAC = 1e-3  # the mechanism is present only where clipping fires this often per step


def _key(algo: str, precision, overrides: dict) -> str:
    return f"{algo}/{precision or 'exact'}" + "".join(f"/{k}={v}" for k, v in overrides.items())


def _final_entropy(algo: str, precision, overrides: dict, steps: int) -> dict:
    from entropy_lab.sim import simulate

    df = simulate(PROBLEM, algo, steps=steps, seeds=SEEDS, lr=LR, precision=precision,
                  generator=torch.Generator().manual_seed(9), **overrides)
    per_seed = df[df["step"] == steps].set_index("seed")["entropy"]
    trained = df[df["step"] > 0]
    out = {"h0": df[df["step"] == 0]["entropy"].mean(), "h": per_seed.mean(),
           "se": per_seed.std() / len(per_seed) ** 0.5,
           "clip": trained["clip/frac"].mean() if "clip/frac" in df else 0.0}
    if "first/ratio/mean" in df:
        out["first_r"] = trained["first/ratio/mean"].mean()
        out["first_clip"] = trained["first/clip/frac"].mean()
    return out


@register_check("claim09_bf16_dapo_dynamics", claim=9, kind="empirical",
                title="bf16 vs fp16/fp32 log-probs: DAPO entropy collapse vs growth (bandit)")
def check(quick: bool) -> CheckResult:
    steps = STEPS_QUICK if quick else STEPS
    measured, finals = {}, {}
    for algo, prec, over in RUNS:
        key = _key(algo, prec, over)
        r = _final_entropy(algo, prec, over, steps)
        finals[key] = (r["h"], r["se"])
        measured[f"H_final/{key}"] = round(r["h"], 4)
        measured[f"H_final_se/{key}"] = round(r["se"], 4)
        measured[f"clip_frac_mean/{key}"] = float(f"{r['clip']:.3g}")
        if "first_r" in r:
            measured[f"first_minibatch_ratio_mean/{key}"] = round(r["first_r"], 5)
            measured[f"first_minibatch_clip_frac/{key}"] = float(f"{r['first_clip']:.3g}")
        measured["H_initial"] = round(r["h0"], 4)
    bf16, fix = finals["dapo/bf16"], finals["dapo/fp32_logprobs"]
    fix_grows = fix[0] > measured["H_initial"]
    bf16_collapses = bf16[0] < 0.5 * measured["H_initial"]
    differs = abs(fix[0] - bf16[0]) > 3 * (fix[1] ** 2 + bf16[1] ** 2) ** 0.5
    (hd, sd), (hp, sp) = finals["dapo/exact"], finals["ppo/exact"]
    regime = hd - hp > 3 * (sd ** 2 + sp ** 2) ** 0.5
    clipping = measured["clip_frac_mean/dapo/exact"] >= MIN_CLIP_FRAC
    measured.update({"dapo_fp32_logprobs_grows": fix_grows, "dapo_bf16_collapses": bf16_collapses,
                     "bf16_vs_fix_differs_3se": differs, "sampling": "faithful",
                     "dapo_minus_ppo_exact": round(hd - hp, 4),
                     "dapo_minus_ppo_exact_se": round((sd ** 2 + sp ** 2) ** 0.5, 4),
                     "regime_with_dapo_minus_ppo_resolved": bool(regime),
                     "clipping_fires": bool(clipping)})
    conv = ", ".join(f"{name} {finals[k][0]:.3f}±{finals[k][1]:.3f}" for name, k in (
        ("bypass", "dapo/bf16"), ("recompute", "dapo/bf16/old_logp=recompute"),
        ("recompute+tis", "dapo/bf16/loss=tis/old_logp=recompute"),
        ("recompute+icepop", "dapo/bf16/loss=icepop/old_logp=recompute"),
        ("exact-π diagnostic", "dapo/bf16/sampling=exact_pi_diagnostic")))
    informative = regime and clipping
    return CheckResult.judge(
        bf16_collapses and fix_grows, partly=differs,
        measured=measured,
        summary="With log-probs in fp32 (or fp16 end to end) DAPO's entropy grows; in bf16 it "
                "collapses.",
        precise=f"Tabular world: {PROBLEM}, tabular policy; regime: SGD lr {LR}, sampled N=8 × "
                f"G=8, the presets' epochs × minibatches (DAPO {schedule('dapo')}, PPO "
                f"{schedule('ppo')}, RLOO {schedule('rloo')}); {SEEDS} seeds, {steps} steps, "
                "tokens drawn from each sampler path's own distribution (faithful): final token "
                "entropy of DAPO under exact, bf16, bf16_fsdp2, fp16 and fp32_logprobs pipelines "
                "(network disagreement emulated as relative logit noise at the calibrated gap), "
                "bypass; DAPO-bf16 under recompute, recompute+tis, recompute+icepop and the "
                "exact-π diagnostic; PPO (symmetric) and RLOO under exact and bf16.",
        tolerance="collapse: final H < ½ initial; growth: final H > initial; difference "
                  "resolved at 3 SE (seed-to-seed)",
        reason=(f"initial H {measured['H_initial']:.3f}; DAPO final H exact "
                f"{finals['dapo/exact'][0]:.3f}, bf16 {bf16[0]:.3f}±{bf16[1]:.3f}, "
                f"fp32_logprobs {fix[0]:.3f}±{fix[1]:.3f}, fp16 {finals['dapo/fp16'][0]:.3f}. "
                "Entropy falls under every pipeline on this calibrated bandit: precision does "
                "not turn collapse into growth here." if not fix_grows else
                f"fp32_logprobs final H {fix[0]:.3f} above initial {measured['H_initial']:.3f}")
               + f" DAPO-bf16 by convention: {conv}."
               + (" The mechanism is present (exact DAPO − PPO resolved, clipping fires)."
                  if informative else
                  " " + inactive("DAPO's clip-higher", f"mean clip fraction of exact DAPO "
                                 f"{measured['clip_frac_mean/dapo/exact']:.2g} per step, "
                                 f"{'≥' if clipping else '<'} {MIN_CLIP_FRAC:g}; exact DAPO − "
                                 f"symmetric PPO final H {hd - hp:+.3f}±"
                                 f"{measured['dapo_minus_ppo_exact_se']:.3f}, "
                                 f"{'resolved' if regime else 'not resolved'} above zero",
                                 start=True) + "."),
    )
