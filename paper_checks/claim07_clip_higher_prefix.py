"""Claim 7 in a unique-prefix world where its mechanism is present: DAPO clip-higher vs symmetric
PPO, and ADAPO, on many prompts' token trees with the rewarded tokens below typical probability.

Why a third row: ``claim07_clip_higher_llm`` found no bandit world where most upper-clipped A > 0
tokens are below typical probability (L = log π + H < 0) over a run, the condition under which
Theorem 1 says unclipping them raises entropy. A scan of unique-prefix worlds (prompts-tree and
tree presets, 1 × 16 and 2 × 16 schedules, Adam 0.003–0.1, symmetric band only — the DAPO runs
were not looked at; paper_checks/LOG.md, 2026-12-03) chose the world by that share, a mechanism
criterion, not by the outcome:

- world P: ``prompts-tree/anti`` with ``bonus`` 1.0 (default 1.5) — 64 prompts, each a V = 4,
  T = 4 token tree whose 8 correct sequences have their on-path tokens 1.0 logit below the
  neutral value (L < 0); tabular policy (every (prompt, prefix) state its own logits: unique
  prefixes, as an LLM's). Of the scanned worlds it is the one where the upper clip itself fires
  at ≥ 0.1% of tokens *and* the share is ≥ 0.5 (scan, same budget and seeds: share 0.67, clip
  fraction 1.65%, upper 0.28%); the default bonus 1.5 gives share 0.82 but an upper-clip
  fraction of only 0.06% (J ≈ 0.002: almost no A > 0 token to clip);
- regime ``llm-clip-2x16``: 2 epochs × 16 minibatches, Adam, N = 8 × G = 8, lr LR = 0.0178, the
  regime's calibration for the default ``prompts-tree/anti`` and DAPO with the symmetric band
  (``entropy_lab.sim.regimes``: clip fraction 0.46%, KL 1.2e-3; hard-coded here, so the check
  does not pay for the calibration's 13 runs; in world P the same lr clips 1.65%, inside the
  band); 8 seeds × 40 iterations (quick: 2 × 5), generator seed as in
  ``claim07_clip_higher_llm``.

Decision rule: ``claim07_clip_higher_llm``'s, verbatim (its ``decide`` and constants
``CLIP_BAND``, ``SHARE_PRESENT``, ``SYMMETRIC``, ``ADAPO_BAND``; fixed before this world was
scanned): world P counts as present iff the symmetric run's mean per-minibatch clip fraction is
in CLIP_BAND and its pooled L < 0 share of upper-clipped A > 0 tokens is ≥ SHARE_PRESENT;
d = DAPO (0.2/0.28) − symmetric (0.2/0.2) final/initial token entropy, paired over seeds;
reproduced iff present, d > 2 SE and ADAPO's |mean final H / H_0 − 1| ≤ ADAPO_BAND; partly iff
present and one of the two; else not reproduced (not informative if not present). The sign law
(sign d = sign of the symmetric run's mean ``clip/dH_removed_high`` where d is resolved) is
reported beside the verdict, on world P only (no contrast world: budget). Also reported: the
upper-clip fraction itself (the tokens through which alone DAPO can differ from the symmetric
band), J, and the entropy ceiling H_max(J)/H_0.
"""

from __future__ import annotations

import functools

import torch

from entropy_lab.checks import CheckResult, register_check
from paper_checks._sim_common import (
    active_clip_fraction,
    fmt,
    mean_se,
    per_seed_matrix,
    rounded,
)
from paper_checks.claim07_clip_higher_llm import (
    ADAPO_BAND,
    CLIP_BAND,
    SHARE_PRESENT,
    SUMMARY,
    _ratio,
    _run,
    _world,
    decide,
    world_text,
)

PROBLEM = "prompts-tree/anti"
LR = 0.01778279410038923  # regimes.calibrate(PROBLEM, "dapo", "llm-clip-2x16", eps_high=0.2).lr
BONUS = 1.0  # on-path logits 1.0 below neutral (the preset's default is 1.5)
REGIME = {"optimizer": "adam", "lr": LR, "epochs": 2, "minibatches": 16, "n_prompts": 8,
          "group_size": 8}


@functools.lru_cache(maxsize=1)
def world_problem():
    """World P's problem object, built once per process (building its 64 trees takes seconds;
    ``simulate`` given the object skips the rebuild)."""
    from entropy_lab.problems import get_problem

    return get_problem(PROBLEM, bonus=BONUS)
SEEDS, STEPS = 8, 40
SEEDS_QUICK, STEPS_QUICK = 2, 5



@register_check("claim07_clip_higher_prefix", claim=7, kind="empirical",
                title="DAPO clip-higher vs symmetric PPO and ADAPO — unique-prefix world "
                      "(prompts-tree/anti, llm-clip-2x16)")
def check(quick: bool) -> CheckResult:
    budget = (SEEDS_QUICK, STEPS_QUICK) if quick else (SEEDS, STEPS)
    measured: dict = {}
    problem = world_problem()
    p = _world(measured, "present", problem, quick, REGIME, budget, dapo_diagnostics=False)
    adapo = _run(problem, "adapo", quick, False, REGIME, budget)
    am, ase = mean_se(_ratio(adapo))
    rule = decide(p, am)
    j = per_seed_matrix(adapo, "J")[:, -1]
    h0 = per_seed_matrix(adapo, "entropy")[:, 0]
    measured.update({
        "adapo/H_ratio": am, "adapo/H_ratio_se": ase,
        "adapo/J_final": float(j.mean()),
        "adapo/H_max_over_H0_at_J_final": float(
            (problem.entropy_ceiling(torch.as_tensor(j.copy())).numpy() / h0).mean()),
        "adapo/eps_high_final": float(per_seed_matrix(adapo, "eps_high")[:, -1].mean()),
        "present_world_informative": rule["present"], "dapo_raises": rule["raises"],
        "adapo_holds": rule["adapo_holds"], "sign_law_holds": bool(p["sign_ok"]),
        "sign_law_tested": bool(p["resolved"]),
    })
    seeds, steps = budget
    lo = active_clip_fraction()
    upper = p["clip_frac_high"]
    return CheckResult.judge(
        rule["ok"], partly=rule["partly"],
        measured=rounded(measured),
        summary=SUMMARY,
        precise=f"World P: {PROBLEM} with bonus {BONUS:g} (64 prompts × V=4, T=4 token trees, "
                "rewarded tokens below typical), tabular policy; regime llm-clip-2x16: sampled "
                f"N=8 × G=8, epochs × minibatches 2×16, Adam lr {LR:.3g} (the regime's "
                "calibration for the default preset), "
                f"{seeds} seeds, {steps} steps. DAPO (0.2/0.28) vs ε_high 0.2, paired final/"
                "initial token entropy; Theorem 1 sign from the symmetric run's clip/"
                "dH_removed_high; ADAPO in the same world and regime.",
        tolerance=f"claim07_clip_higher_llm's rule: active: symmetric clip fraction in "
                  f"[{CLIP_BAND[0]:g}, {CLIP_BAND[1]:g}]; present: L<0 share ≥ {SHARE_PRESENT}; "
                  f"DAPO − symmetric > 2 SE; ADAPO |H/H_0 − 1| ≤ {ADAPO_BAND}; partly: present "
                  "and one of the two.",
        reason=(f"{world_text(f'{PROBLEM} (bonus {BONUS:g})', p)}; ADAPO H/H_0 {fmt(am, ase)} (J "
                f"{measured['adapo/J_final']:.3f}, H_max(J)/H_0 "
                f"{measured['adapo/H_max_over_H0_at_J_final']:.2f})."
                + (" Mechanism present (clipping in the band, most upper-clipped tokens below "
                   "typical)." if rule["present"] else
                   " Not informative: the mechanism is not present (clip fraction "
                   f"{p['clip_frac']:.2%}, L<0 share {p['share_Lneg_high']:.2f}).")
                + (" Entropy barely moves in this world (symmetric H/H_0 "
                   f"{fmt(*p['sym_H_ratio'])}): ADAPO's |H/H_0 − 1| ≤ {ADAPO_BAND} holds for the "
                   "symmetric run too, so it is no evidence of control (final ε_high "
                   f"{measured['adapo/eps_high_final']:.3g})."
                   if abs(p["sym_H_ratio"][0] - 1.0) <= ADAPO_BAND else "")
                + (f" The upper clip itself fires on {upper:.3%} of tokens (< {lo:.1%}): DAPO "
                   "can differ from the symmetric band only through those." if upper < lo
                   else "")),
    )
