"""Claim 17: REPO-R's practical form (raw log π of the taken token) against its centred form
(L = log π + H) — the entropy cost of dropping H.

Source: REPO (arXiv 2603.11682) states the decorrelated advantage with the centred log-prob,
A − β·L, and motivates REPO-R from it; its practical REPO-R (as summarised, and as the third-party
port citing the paper's appendix implements it) shapes with the raw log π of the taken token,
A − ζ|A|·log π. With a constant β the two have the same expected gradient (E[H·∇log π] = 0); with
β = ζ|A| they do not: raw − centred = +ζ|A|·H on every token, which adds ζAH to each positive
sample and removes ζ|A|H from the magnitude of each negative one (``entropy_lab/algorithms/
shaping.py``). Prediction (issue 12): by upweighting positive samples, the raw form lowers
entropy relative to the centred form.

World and regime (fixed before the run):

- world S (shared parameters): ``prompts-many/calibrated`` (16 prompts × 1024 answers, every 4th
  rank correct, H_0 4.24 nats, H_max(J) > H_0 at every J, so H/H_max(J) is reported) through the
  ``lowrank`` policy; world T (tabular): ``tree/calibrated`` reduced to V = 4, T = 4, 4 correct
  sequences (per-token H ≤ log 4). These are the fronts study's worlds
  (``entropy_lab/analysis/fronts_study.py``).
- regime: N = 16 prompts × G = 16 samples, 1 epoch × 16 minibatches, Adam, at the lr the fronts
  study calibrated on GRPO for ``llm-clip`` (clip fraction in [1e-3, 2e-2]: S 0.00316, T 0.0316;
  ``results/fronts/*.json``), not re-calibrated here; the clip fraction is measured and reported.
- REPO-R as preset (sign clamp, floor −20, ζ controller from 1e-3 doubling toward the initial
  entropy) with ζ_max = 0.2, where ζH is comparable to |A| (the published cap 0.05 is
  calibrated for LLM tails; at 0.2 REPO-R's front departs from GRPO's in ``claim05_repo_r_fronts``).
  Contrast row, reported and not judged: world S at the published cap ζ_max = 0.05.
- paired runs: raw and centred share the generator seed (the same random stream, so the same
  first batch), 16 seeds × 40 steps (quick: 2 × 3).

Mechanism measured (per run, mean over iterations and seeds): m = |ζ|·mean(|A|·H) / mean|A'| over
the batch's real tokens (``shape/abs_adv_entropy``, ``shape/abs_shaped``), the size of the
raw − centred term against the shaped advantage. The world counts as active iff m ≥ 0.1 in the
raw run.

Decision rule (fixed before the run): per world, d = H_raw − H_centred of the final token
entropy, paired over seeds, mean ± SE. The raw form lowers entropy on a world iff the world is
active and d < −2 SE. Reproduced iff it lowers on both worlds; partly iff on one; else not
reproduced (a world where d > 2 SE is reported as reversed). ΔJ (final J, paired), the final
H/H_max(J) of both forms (world S), the final |ζ|, the clip fraction and the mean J over the run
(the term's expected push along ∇p has the sign of 1 − 2p) are reported beside the verdict.

Result (2026-12-03, the one verdict run): not reproduced, and reversed on world S — the raw form
kept *more* entropy (ΔH +0.113 ± 0.018, ΔJ −0.012 ± 0.002); world T inactive by the rule
(m 0.076). A surprise against the prediction, explained after the fact by the term's expected
gradient ζH(1 − 2p)/σ·∇p (paper_checks/LOG.md, 2026-12-03 claim 17 entry). REPO-R's clip fraction
on world S (0.02%) fell below the llm-clip band at the lr calibrated on GRPO.
"""

from __future__ import annotations

import numpy as np

from entropy_lab.checks import CheckResult, register_check
from paper_checks._sim_common import fmt, mean_se, rounded

TREE = {"problem.vocab_size": 4, "problem.horizon": 4, "problem.num_correct": 4}
WORLDS = {
    "S": {"problem": "prompts-many/calibrated", "overrides": {"policy": "lowrank"},
          "lr": 0.0031622776601683794, "label": "prompts-many/calibrated, lowrank"},
    "T": {"problem": "tree/calibrated", "overrides": TREE, "lr": 0.03162277660168379,
          "label": "tree/calibrated (V 4, T 4, 4 correct), tabular"},
}
REGIME = {"optimizer": "adam", "epochs": 1, "minibatches": 16, "n_prompts": 16, "group_size": 16}
ZETA_MAX = 0.2
ZETA_MAX_PUBLISHED = 0.05
SEEDS, STEPS = 16, 40
SEEDS_QUICK, STEPS_QUICK = 2, 3
GENERATOR_SEED = 2017
MECHANISM_MIN = 0.1
CLIP_BAND = (1e-3, 2e-2)


def budget(quick: bool) -> tuple[int, int]:
    """(seeds, steps)."""
    return (SEEDS_QUICK, STEPS_QUICK) if quick else (SEEDS, STEPS)


def _run(world: str, form: str, zeta_max: float, quick: bool):
    import torch

    from entropy_lab.sim import simulate, single_thread

    w = WORLDS[world]
    seeds, steps = budget(quick)
    with single_thread():
        return simulate(w["problem"], "repo_r", steps=steps, seeds=seeds, lr=w["lr"], form=form,
                        generator=torch.Generator().manual_seed(GENERATOR_SEED),
                        **{"controller.zeta_max": zeta_max}, **REGIME, **w["overrides"])


def _final(frame, column: str) -> np.ndarray:
    last = frame[frame["step"] == frame["step"].max()].sort_values("seed")
    return last[column].to_numpy(dtype=np.float64)


def mechanism(frame) -> float:
    """m = mean over (seed, iteration ≥ 1) of |ζ|·shape/abs_adv_entropy / shape/abs_shaped."""
    t = frame[frame["step"] > 0]
    ratio = t["zeta"].abs() * t["shape/abs_adv_entropy"] / t["shape/abs_shaped"]
    return float(ratio.mean())


def world_row(raw, centred) -> dict:
    """Paired final numbers of one world (the rule's inputs and what is reported beside it)."""
    row = {"dH": mean_se(_final(raw, "entropy") - _final(centred, "entropy")),
           "dJ": mean_se(_final(raw, "J") - _final(centred, "J")),
           "H_raw": mean_se(_final(raw, "entropy")),
           "H_centred": mean_se(_final(centred, "entropy")),
           "J_raw": mean_se(_final(raw, "J")), "J_centred": mean_se(_final(centred, "J")),
           "H0": float(_final(raw[raw["step"] == 0], "entropy").mean()),
           "mechanism_raw": mechanism(raw), "mechanism_centred": mechanism(centred),
           "zeta_final_raw": float(np.abs(_final(raw, "zeta")).mean()),
           "zeta_final_centred": float(np.abs(_final(centred, "zeta")).mean()),
           "clip_frac": float(raw[raw["step"] > 0]["clip/frac"].mean()),
           "J_mean_run": float(centred[centred["step"] > 0]["J"].mean())}
    if "H_max" in raw:
        r_raw = _final(raw, "entropy") / _final(raw, "H_max")
        r_cen = _final(centred, "entropy") / _final(centred, "H_max")
        row.update({"H_over_Hmax_raw": mean_se(r_raw), "H_over_Hmax_centred": mean_se(r_cen),
                    "dH_over_Hmax": mean_se(r_raw - r_cen)})
    return row


def decide(rows: dict) -> tuple[str, dict]:
    """The verdict of the module docstring from ``{world: row}`` (rows with ``dH`` = (mean, se)
    and ``mechanism_raw``): (verdict, {world: "lowers" | "reversed" | "no difference" |
    "inactive"})."""
    outcome = {}
    for name, r in rows.items():
        d, se = r["dH"]
        if r["mechanism_raw"] < MECHANISM_MIN:
            outcome[name] = "inactive"
        elif d < -2 * se:
            outcome[name] = "lowers"
        elif d > 2 * se:
            outcome[name] = "reversed"
        else:
            outcome[name] = "no difference"
    n = sum(v == "lowers" for v in outcome.values())
    verdict = "reproduced" if n == len(rows) else ("partly" if n else "not reproduced")
    return verdict, outcome


def _flat(measured: dict, prefix: str, row: dict) -> None:
    for key, value in row.items():
        if isinstance(value, tuple):
            measured[f"{prefix}/{key}"], measured[f"{prefix}/{key}_se"] = value
        else:
            measured[f"{prefix}/{key}"] = value


def _text(name: str, r: dict, zeta_max: float) -> str:
    ceiling = (f", H/H_max(J) raw {fmt(*r['H_over_Hmax_raw'])} vs centred "
               f"{fmt(*r['H_over_Hmax_centred'])}" if "H_over_Hmax_raw" in r else "")
    return (f"{name} ({WORLDS[name]['label']}, ζ_max {zeta_max:g}): m {r['mechanism_raw']:.3f}, "
            f"clip {r['clip_frac']:.2%}, final |ζ| {r['zeta_final_raw']:.3g}/"
            f"{r['zeta_final_centred']:.3g}, mean J over the run {r['J_mean_run']:.3f}; H_0 "
            f"{r['H0']:.3f}, final H raw {fmt(*r['H_raw'])} vs centred {fmt(*r['H_centred'])}, "
            f"ΔH {fmt(*r['dH'])}, ΔJ {fmt(*r['dJ'])}{ceiling}")


@register_check("claim17_repo_r_form", claim=17, kind="empirical",
                title="REPO-R raw log π vs centred L = log π + H: the entropy cost of +ζ|A|H")
def check(quick: bool) -> CheckResult:
    rows = {name: world_row(_run(name, "raw", ZETA_MAX, quick),
                            _run(name, "centred", ZETA_MAX, quick)) for name in WORLDS}
    verdict, outcome = decide(rows)
    cap = world_row(_run("S", "raw", ZETA_MAX_PUBLISHED, quick),
                    _run("S", "centred", ZETA_MAX_PUBLISHED, quick))
    measured: dict = {}
    for name, row in rows.items():
        _flat(measured, name, row)
        measured[f"{name}/outcome"] = outcome[name]
        measured[f"{name}/clip_in_llm_band"] = bool(CLIP_BAND[0] <= row["clip_frac"]
                                                    <= CLIP_BAND[1])
    _flat(measured, "S_published_cap", cap)
    seeds, steps = budget(quick)
    measured.update({"seeds": seeds, "steps": steps, "generator_seed": GENERATOR_SEED,
                     "zeta_max": ZETA_MAX})
    reversed_ = [n for n, v in outcome.items() if v == "reversed"]
    return CheckResult(
        verdict=verdict, measured=rounded(measured),
        summary="REPO-R's practical form shapes with the raw log π of the taken token instead of "
                "the centred L = log π + H; the difference +ζ|A|·H upweights positive samples, "
                "so the raw form should keep less entropy than the centred one.",
        precise=f"Paired REPO-R runs, form raw vs centred, same generator seed "
                f"{GENERATOR_SEED}, {seeds} seeds × {steps} steps, ζ_max {ZETA_MAX:g} (sign "
                f"clamp, floor −20, controller as preset); N = G = 16, 1 × 16 minibatches, Adam "
                f"at the fronts study's llm-clip lr; world S {WORLDS['S']['label']}, world T "
                f"{WORLDS['T']['label']}; contrast: S at ζ_max {ZETA_MAX_PUBLISHED:g}.",
        tolerance=f"active: m = |ζ|·mean(|A|H)/mean|A'| ≥ {MECHANISM_MIN} in the raw run; lowers: "
                  "H_raw − H_centred (final, paired) < −2 SE; reproduced on both worlds, partly "
                  "on one.",
        reason="; ".join(_text(n, r, ZETA_MAX) + f" [{outcome[n]}]" for n, r in rows.items())
               + "; contrast " + _text("S", cap, ZETA_MAX_PUBLISHED) + "."
               + (f" Reversed on {', '.join(reversed_)}: the raw form kept more entropy — the "
                  "term's expected gradient ζH(1 − 2p)/σ·∇p opposes ∇p once most samples are "
                  "correct (a surprise against the prediction; paper_checks/LOG.md)."
                  if reversed_ else "")
               + "".join(f" World {n}'s clip fraction {r['clip_frac']:.2%} is outside the "
                         f"llm-clip band [{CLIP_BAND[0]:g}, {CLIP_BAND[1]:g}]."
                         for n, r in rows.items()
                         if not CLIP_BAND[0] <= r["clip_frac"] <= CLIP_BAND[1]),
    )
