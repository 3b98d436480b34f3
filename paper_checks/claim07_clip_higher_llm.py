"""Claim 7 where its mechanism is present: DAPO clip-higher vs symmetric PPO, and ADAPO, with
clipping active at LLM rates and the upper-clipped tokens measured.

Why a second check: at ``claim07_clip_higher``'s setting (Adam 0.05, 1 × 4) clipping barely fires,
and clip-higher can raise entropy only if the A > 0 tokens the upper clip stops are mostly below
typical probability (L = log π + H < 0): Theorem 1 applied to those tokens gives the sign of what
unclipping them does. The simulator measures both per minibatch
(``SimConfig.clip_diagnostics``, ``entropy_lab/sim/clip_probe.py``).

World and regime (fixed before the run; chosen from a scan of 1 × 16 and 2 × 16 schedules, Adam
0.01–0.1, on bandit, bandit64 and prompts-many worlds, recorded in paper_checks/LOG.md, 2026-12-03:
with one epoch the upper-clipped tokens are those sampled repeatedly in a batch, i.e. mostly above
typical; a second epoch revisits each token after its own update, as an LLM's unique prefixes are):

- regime: 2 epochs × 16 minibatches, Adam lr 0.01, N = 8 × G = 8, 16 seeds, 40 steps (quick: 4 ×
  10); activity: the symmetric run's mean per-minibatch clip fraction in the ``llm-clip`` band
  [1e-3, 2e-2];
- world P (mechanism present): ``bandit64/anti``; world L (low share): ``bandit64/calibrated``.
  The share is the symmetric run's pooled L < 0 share of upper-clipped A > 0 tokens; P counts as
  present iff it is ≥ 0.5, and L is the contrast only if it is < 0.5.

Decision rule (fixed before the run):

- per world, d = DAPO (0.2/0.28) − symmetric (0.2/0.2) final/initial token entropy, paired over
  seeds (mean ± SE); Theorem 1's prediction is the sign of the symmetric run's mean
  ``clip/dH_removed_high`` (the first-order entropy change the upper clip removed; > 0: unclipping
  raises entropy). The sign law holds in a world if |d| ≤ 2 SE (undecided) or sign(d) equals the
  prediction; it is tested where d is resolved;
- ADAPO (same regime, world P): |mean final H / H_0 − 1| ≤ 0.2;
- reproduced iff world P is active and present, d_P > 2 SE and ADAPO holds; partly iff one of
  the two holds (P active and present); else not reproduced (not informative if P is not
  active or present). The sign law is reported beside the verdict.
"""

from __future__ import annotations

import numpy as np

from entropy_lab.checks import CheckResult, register_check
from paper_checks._sim_common import fmt, inactive, mean_se, per_seed_matrix, rounded

SUMMARY = ("Where clipping is active and the upper-clipped tokens are mostly below typical "
           "probability, DAPO's clip-higher keeps more entropy than symmetric PPO and ADAPO "
           "holds entropy near its target.")

WORLDS = {"present": "bandit64/anti", "low_share": "bandit64/calibrated"}
REGIME = {"optimizer": "adam", "lr": 0.01, "epochs": 2, "minibatches": 16, "n_prompts": 8,
          "group_size": 8}
SEEDS, STEPS = 16, 40
SEEDS_QUICK, STEPS_QUICK = 4, 10
CLIP_BAND = (1e-3, 2e-2)   # the llm-clip regime's band of the mean per-minibatch clip fraction
SHARE_PRESENT = 0.5
SYMMETRIC = {"eps_high": 0.2}
ADAPO_BAND = 0.2
GENERATOR_SEED = 2027


def _run(problem: str, algo: str, quick: bool, diagnostics: bool, regime: dict = REGIME,
         budget: tuple[int, int] | None = None, **extra):
    """One batched run of ``problem`` × ``algo`` in ``regime`` (``budget``: (seeds, steps),
    default this check's)."""
    import torch

    from entropy_lab.sim import simulate, single_thread

    seeds, steps = budget or ((SEEDS_QUICK, STEPS_QUICK) if quick else (SEEDS, STEPS))
    with single_thread():
        return simulate(problem, algo, steps=steps, seeds=seeds, clip_diagnostics=diagnostics,
                        generator=torch.Generator().manual_seed(GENERATOR_SEED), **regime,
                        **extra)


def _ratio(frame) -> np.ndarray:
    h = per_seed_matrix(frame, "entropy")
    return h[:, -1] / h[:, 0]


def _world(measured: dict, name: str, problem: str, quick: bool, regime: dict = REGIME,
           budget: tuple[int, int] | None = None, dapo_diagnostics: bool = True) -> dict:
    """DAPO vs symmetric in one world: the row of numbers the rule reads (written into
    ``measured`` under ``name/``). Only the symmetric run's diagnostics enter the rule, so
    ``dapo_diagnostics=False`` saves their cost without changing a number it reads."""
    dapo = _run(problem, "dapo", quick, dapo_diagnostics, regime, budget)
    sym = _run(problem, "dapo", quick, True, regime, budget, **SYMMETRIC)
    d, d_se = mean_se(_ratio(dapo) - _ratio(sym))
    trained = sym[sym["step"] > 0]
    clip = float(trained["clip/frac"].mean())
    stopped = float(trained["clip/frac_high_stopped"].sum())
    share = float(trained["clip/frac_high_Lneg"].sum() / stopped) if stopped > 0 else float("nan")
    pred = float(trained["clip/dH_removed_high"].mean())
    resolved = abs(d) > 2 * d_se
    sign_ok = (not resolved) or np.sign(d) == np.sign(pred)
    row = {"dapo_H_ratio": mean_se(_ratio(dapo)), "sym_H_ratio": mean_se(_ratio(sym)),
           "diff": (d, d_se), "clip_frac": clip, "clip_frac_high": float(
               trained["clip/frac_high"].mean()), "share_Lneg_high": share,
           "dH_removed_high": pred, "resolved": bool(resolved), "sign_ok": bool(sign_ok),
           "active": CLIP_BAND[0] <= clip <= CLIP_BAND[1]}
    for key, value in row.items():
        if isinstance(value, tuple):
            measured[f"{name}/{key}"], measured[f"{name}/{key}_se"] = value
        else:
            measured[f"{name}/{key}"] = value
    return row


def decide(present_row: dict, adapo_ratio_mean: float) -> dict:
    """The decision rule (module docstring), on world P's row and ADAPO's mean final H / H_0:
    ``present`` (active and L<0 share ≥ SHARE_PRESENT), ``raises`` (d_P > 2 SE),
    ``adapo_holds``, and the verdict's ``ok`` / ``partly``."""
    p = present_row
    present = bool(p["active"] and p["share_Lneg_high"] >= SHARE_PRESENT)
    raises = bool(p["diff"][0] > 2 * p["diff"][1])
    adapo_holds = bool(abs(adapo_ratio_mean - 1.0) <= ADAPO_BAND)
    return {"present": present, "raises": raises, "adapo_holds": adapo_holds,
            "ok": present and raises and adapo_holds,
            "partly": present and (raises or adapo_holds)}


def world_text(problem: str, r: dict) -> str:
    """One world's numbers in the report's words."""
    return (f"{problem}: clip fraction {r['clip_frac']:.2%} (upper {r['clip_frac_high']:.2%}), "
            f"L<0 share of upper-clipped {r['share_Lneg_high']:.2f}, removed dH "
            f"{r['dH_removed_high']:+.2e}/minibatch; DAPO {fmt(*r['dapo_H_ratio'])} vs "
            f"symmetric {fmt(*r['sym_H_ratio'])}, paired diff {fmt(*r['diff'])} "
            f"({'resolved' if r['resolved'] else 'not resolved'}; sign "
            f"{'follows' if r['sign_ok'] else 'contradicts'} Theorem 1)")


@register_check("claim07_clip_higher_llm", claim=7, kind="empirical",
                title="DAPO clip-higher vs symmetric PPO and ADAPO with clipping active (2×16)")
def check(quick: bool) -> CheckResult:
    measured: dict = {}
    rows = {name: _world(measured, name, problem, quick) for name, problem in WORLDS.items()}
    p = rows["present"]
    adapo = _run(WORLDS["present"], "adapo", quick, False)
    am, ase = mean_se(_ratio(adapo))
    measured.update({"adapo/H_ratio": am, "adapo/H_ratio_se": ase})
    rule = decide(p, am)
    present, raises, adapo_holds = rule["present"], rule["raises"], rule["adapo_holds"]
    sign_law = all(r["sign_ok"] for r in rows.values())
    measured.update({"present_world_informative": bool(present), "dapo_raises": bool(raises),
                     "adapo_holds": bool(adapo_holds), "sign_law_holds": bool(sign_law),
                     "sign_law_tested_in": [n for n, r in rows.items() if r["resolved"]]})
    seeds, steps = (SEEDS_QUICK, STEPS_QUICK) if quick else (SEEDS, STEPS)
    return CheckResult.judge(
        rule["ok"], partly=rule["partly"],
        measured=rounded(measured),
        summary=SUMMARY,
        precise=f"Tabular policy; regime: sampled N=8 × G=8, epochs × minibatches 2×16, Adam lr "
                f"{REGIME['lr']}, {seeds} seeds, {steps} steps; world P {WORLDS['present']} "
                "(mechanism present), world L "
                f"{WORLDS['low_share']} (contrast). DAPO (0.2/0.28) vs ε_high 0.2, paired final/"
                "initial token entropy; Theorem 1 sign from the symmetric run's clip/"
                "dH_removed_high; ADAPO on world P.",
        tolerance=f"active: symmetric clip fraction in [{CLIP_BAND[0]:g}, {CLIP_BAND[1]:g}]; "
                  f"present: L<0 share ≥ {SHARE_PRESENT}; DAPO − symmetric > 2 SE on world P; "
                  f"ADAPO |H/H_0 − 1| ≤ {ADAPO_BAND}; partly: one of the two.",
        reason=(f"{world_text(WORLDS['present'], p)}; "
                f"{world_text(WORLDS['low_share'], rows['low_share'])}; ADAPO H/H_0 "
                f"{fmt(am, ase)}."
                + ("" if present else " " + inactive(
                    "the mechanism in world P (most upper-clipped A>0 tokens below typical)",
                    f"L<0 share "
                    f"{p['share_Lneg_high']:.2f} < {SHARE_PRESENT}, clip fraction "
                    f"{p['clip_frac']:.2%}", start=True) + ".")
                + f" Sign law {'holds' if sign_law else 'fails'} where tested "
                  f"({', '.join(measured['sign_law_tested_in']) or 'nowhere resolved'})."),
    )
