"""Claim 9 with clipping active: bf16 vs fp16 / fp32 log-probs and DAPO's entropy trajectory in
a regime where the clip fires at LLM rates.

``claim09_bf16_dapo_dynamics`` (the tabular row: SGD lr 0.5, 1 × 4) clips 2e-4 of tokens per
step, so the ratio's precision bias has nothing to act through. Here the same world and the same
faithful precision pipelines (tokens drawn from each sampler path's own distribution, bypass
convention; ``docs/precision.md``) run in the clip-active regime of ``claim07_clip_higher_llm``.

World and regime (fixed before the run): ``bandit64/calibrated``, sampled N = 8 × G = 8, 2 epochs
× 16 minibatches, Adam lr 0.01, 8 seeds, 40 steps (quick: 3 × 8); DAPO under the exact, bf16,
fp16 and fp32_logprobs pipelines, bypass.

Decision rule (the tabular row's, fixed before the run): reproduced iff DAPO-bf16 collapses (final
H < ½ initial) and DAPO-fp32_logprobs grows (final H > initial); partly iff the two finals differ
by more than 3 SE (seed-to-seed). Informative only where exact DAPO's mean per-minibatch clip
fraction is in the llm-clip band [1e-3, 2e-2] (reported, with each pipeline's clip fractions).
"""

from __future__ import annotations

from entropy_lab.checks import CheckResult, register_check
from paper_checks._sim_common import fmt, inactive, mean_se, per_seed_matrix

PROBLEM = "bandit64/calibrated"
REGIME = {"optimizer": "adam", "lr": 0.01, "epochs": 2, "minibatches": 16, "n_prompts": 8,
          "group_size": 8}
SEEDS, STEPS = 8, 40
SEEDS_QUICK, STEPS_QUICK = 3, 8
PIPELINES = (None, "bf16", "fp16", "fp32_logprobs")
CLIP_BAND = (1e-3, 2e-2)
GENERATOR_SEED = 9


def _run(precision, quick: bool) -> dict:
    import torch

    from entropy_lab.sim import simulate, single_thread

    seeds, steps = (SEEDS_QUICK, STEPS_QUICK) if quick else (SEEDS, STEPS)
    with single_thread():
        df = simulate(PROBLEM, "dapo", steps=steps, seeds=seeds, precision=precision,
                      generator=torch.Generator().manual_seed(GENERATOR_SEED), **REGIME)
    h = per_seed_matrix(df, "entropy")
    trained = df[df["step"] > 0]
    return {"h0": float(h[:, 0].mean()), "h": mean_se(h[:, -1]),
            "clip": float(trained["clip/frac"].mean()),
            "clip_high": float(trained["clip/frac_high"].mean())}


@register_check("claim09_bf16_dapo_clip", claim=9, kind="empirical",
                title="bf16 vs fp16/fp32 log-probs: DAPO entropy with clipping active (2×16)")
def check(quick: bool) -> CheckResult:
    runs = {p or "exact": _run(p, quick) for p in PIPELINES}
    h0 = runs["exact"]["h0"]
    measured: dict = {"H_initial": round(h0, 4)}
    for name, r in runs.items():
        measured[f"H_final/{name}"] = round(r["h"][0], 4)
        measured[f"H_final_se/{name}"] = round(r["h"][1], 4)
        measured[f"clip_frac/{name}"] = float(f"{r['clip']:.3g}")
        measured[f"clip_frac_high/{name}"] = float(f"{r['clip_high']:.3g}")
    bf16, fix = runs["bf16"]["h"], runs["fp32_logprobs"]["h"]
    collapses, grows = bf16[0] < 0.5 * h0, fix[0] > h0
    differs = abs(fix[0] - bf16[0]) > 3 * (fix[1] ** 2 + bf16[1] ** 2) ** 0.5
    active = CLIP_BAND[0] <= runs["exact"]["clip"] <= CLIP_BAND[1]
    upper_active = max(runs[n]["clip_high"] for n in ("exact", "bf16")) >= CLIP_BAND[0]
    measured.update({"dapo_bf16_collapses": collapses, "dapo_fp32_logprobs_grows": grows,
                     "bf16_vs_fix_differs_3se": bool(differs), "clipping_active": bool(active),
                     "bf16_minus_fp32_logprobs": round(bf16[0] - fix[0], 4)})
    seeds, steps = (SEEDS_QUICK, STEPS_QUICK) if quick else (SEEDS, STEPS)
    finals = ", ".join(f"{n} {fmt(*r['h'])} (clip {r['clip']:.2%}, upper {r['clip_high']:.2%})"
                       for n, r in runs.items())
    return CheckResult.judge(
        collapses and grows, partly=differs, measured=measured,
        summary="With log-probs in fp32 (or fp16 end to end) DAPO's entropy grows; in bf16 it "
                "collapses — tested where clipping fires at LLM rates.",
        precise=f"World: {PROBLEM}, tabular policy; regime: sampled N=8 × G=8, epochs × "
                f"minibatches 2×16, Adam lr {REGIME['lr']} (claim07_clip_higher_llm's), {seeds} "
                f"seeds, {steps} steps, faithful sampling, bypass; DAPO under exact, bf16, fp16, "
                "fp32_logprobs.",
        tolerance="collapse: final H < ½ initial; growth: final H > initial; partly: bf16 vs "
                  "fp32_logprobs resolved at 3 SE; informative only with exact DAPO's clip "
                  f"fraction in [{CLIP_BAND[0]:g}, {CLIP_BAND[1]:g}]",
        reason=(f"initial H {h0:.3f}; final H: {finals}. bf16 − fp32_logprobs "
                f"{bf16[0] - fix[0]:+.3f}."
                + (" Clipping active (the mechanism can act)." if active else
                   " Clipping outside the llm-clip band: not informative.")
                + ("" if upper_active else " " + inactive(
                    "the upper clip (where an upward ratio bias would act)", ", ".join(
                        f"{n} upper-clip fraction {runs[n]['clip_high']:.2e}"
                        for n in ("exact", "bf16")) + f" < {CLIP_BAND[0]:g}", start=True)
                   + "; the lower clip alone cannot show clip-higher's opposite.")),
    )
