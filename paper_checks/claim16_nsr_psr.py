"""Claim 16 (neighbouring literature): negative samples alone keep entropy and pass@k at large k.

Source: Zhu, Xia, Wei, Wu, Chen, Meng 2025, "The Surprising Effectiveness of Negative
Reinforcement in LLM Reasoning" (arXiv 2506.01347). They split ±1-reward REINFORCE into
positive-sample reinforcement (PSR: only correct samples, A = +1) and negative-sample
reinforcement (NSR: only wrong samples, A = −1) and report that NSR alone keeps the policy's
entropy and improves pass@k at every k up to 256, while PSR raises pass@1 and lowers pass@k at
large k (W-REINFORCE, PSR weighted λ = 0.1, is their recommended mix). Presets ``psr``, ``nsr``,
``w_reinforce`` use the ``signed`` advantage (``entropy_lab/algorithms/advantages.py``) in
GRPO's loss and schedule (PPO clip 0.2/0.2, 1×4); ``grpo`` is the reference learner.

Precise form. Where pass@256 starts at 1.000 "improves" cannot be measured, so the claim is
read as: after T iterations at equal budget, PSR ends with lower pass@256 and lower token
entropy than NSR, and NSR keeps both — its pass@256 within ``DROP_TOL`` of the initial value
(2 SE allowed) and its entropy at least ``KEEP`` of the *feasible* entropy min(H_0, H_max(J_T))
(2 SE allowed), where H_max(J) is the most token entropy any policy with success J can have (a
policy that solves these tasks cannot keep H_0: docs/theory.md, "Entropy ceiling H_max(J)").

Mechanism, measured in each world: pass@256 can fall only through parameters shared across
prompts — active when GRPO's final pass@256 is below the initial one by more than 2 SE; and
NSR must learn (else keeping entropy is trivial) — active when NSR's final pass@1 is above the
initial one by more than 2 SE.

Decision rule (per world; paired seeds; "beyond" = the mean differs from 0 by more than 2 SE):
reproduced iff the mechanism is active, PSR − NSR is negative beyond 2 SE in final pass@256 and
in final token entropy, and NSR keeps both (as above); partly iff the mechanism is active and
the two PSR − NSR differences alone hold; not reproduced otherwise (not informative when the
mechanism is inactive). GRPO, W-REINFORCE and pass@1 are reported, not judged.

Worlds, each a check:

- ``claim16_nsr_psr``: the shared-parameter world of claims 10–12
  (``paper_checks/_shared_world.py``: cbandit/anti, 64 contexts × 16 arms, lowrank rank 4,
  16 seeds × 100 iterations). This rule was written before any NSR or PSR number of this world
  had been read (the runs had only been timed), though after the token-tree exploration below.
- ``claim16_nsr_psr_tree``: the token-tree world ``paper_checks/_prompts_tree_world.py``
  (prompts-tree/uncorrelated, lowrank rank 4, 8 seeds × 80 iterations). This rule (and
  ``KEEP``, ``DROP_TOL``) was written AFTER an exploratory run in this world, recorded in
  paper_checks/LOG.md ("2026-12-03 — exploration for the literature checks": final pass@256
  GRPO 0.788, PSR 0.755, NSR 0.853 from 1.000; entropy 0.102, 0.121, 0.149 from 1.194, 6–8
  seeds, no SE) — it is not a blind test there.
"""

from __future__ import annotations

import numpy as np

from entropy_lab.checks import CheckResult, register_check
from paper_checks import _prompts_tree_world as tree_world
from paper_checks import _shared_world as shared_world
from paper_checks._sim_common import at_step, beyond, fmt, mean_se, rounded

ALGORITHMS = ("grpo", "psr", "nsr", "w_reinforce")
K_LARGE = 256
KEEP = 0.8
DROP_TOL = 0.01
SUMMARY = ("Negative-sample-only training (NSR) keeps entropy and pass@k at large k; positive-only "
           "(PSR) raises pass@1 and lowers both (Zhu et al., arXiv 2506.01347).")
TOLERANCE = (f"mechanism: GRPO's pass@{K_LARGE} below initial and NSR's pass@1 above initial, each "
             f"> 2 SE; reproduced: PSR − NSR < 0 beyond 2 SE in pass@{K_LARGE} and in entropy, "
             f"NSR's pass@{K_LARGE} drop ≤ {DROP_TOL} + 2 SE and NSR's H / min(H_0, H_max(J)) + "
             f"2 SE ≥ {KEEP}; partly: the two PSR − NSR differences alone.")


def feasible_ratio(frame, ceiling) -> np.ndarray:
    """``[B]`` final H_T / min(H_0, H_max(J_T)): the entropy kept relative to what a policy with
    the final success J_T can keep (``ceiling(frame)``: the ``[B]`` H_max(J_T) of the run)."""
    h0 = at_step(frame, "entropy", 0)
    return at_step(frame, "entropy") / np.minimum(h0, ceiling(frame))


def nsr_keeps(drop: np.ndarray, kept: np.ndarray) -> tuple[bool, bool]:
    """(pass@k kept, entropy kept): mean ``drop`` (initial − final pass@k, ``[B]``) ≤ DROP_TOL
    within 2 SE, and mean ``kept`` (:func:`feasible_ratio`, ``[B]``) ≥ KEEP within 2 SE."""
    d, d_se = mean_se(drop)
    k, k_se = mean_se(kept)
    return bool(d - 2 * d_se <= DROP_TOL), bool(k + 2 * k_se >= KEEP)


def judge(frames: dict, ceiling) -> tuple[bool, bool, dict, str]:
    """Apply the module's rule to the frames of ``ALGORITHMS`` (same seeds) in one world whose
    entropy ceiling is ``ceiling`` (frame -> ``[B]`` H_max(J_T), the world's ``final_ceiling``).

    Returns:
        (reproduced, partly, measured, reason).
    """
    col = f"pass@{K_LARGE}"
    g = frames["grpo"]
    init = {c: float(at_step(g, c, 0).mean()) for c in ("pass@1", col, "entropy")}
    m = {f"initial/{c}": v for c, v in init.items()}
    fin = {a: {c: at_step(f, c) for c in ("pass@1", col, "entropy")} for a, f in frames.items()}
    kept = {a: feasible_ratio(f, ceiling) for a, f in frames.items()}
    for a, f in frames.items():
        for c, x in fin[a].items():
            m[f"{a}/{c}"], m[f"{a}/{c}_se"] = mean_se(x)
        m[f"{a}/H_over_feasible"], m[f"{a}/H_over_feasible_se"] = mean_se(kept[a])
        m[f"{a}/clip_frac_mean"] = float(f[f.step > 0]["clip/frac"].mean())
    d_pass, d_h = fin["psr"][col] - fin["nsr"][col], fin["psr"]["entropy"] - fin["nsr"]["entropy"]
    m["psr_minus_nsr/pass@256"], m["psr_minus_nsr/pass@256_se"] = mean_se(d_pass)
    m["psr_minus_nsr/entropy"], m["psr_minus_nsr/entropy_se"] = mean_se(d_h)
    grpo_drop = init[col] - fin["grpo"][col]
    nsr_gain = fin["nsr"]["pass@1"] - init["pass@1"]
    m["mechanism/grpo_pass@256_drop"], m["mechanism/grpo_pass@256_drop_se"] = mean_se(grpo_drop)
    m["mechanism/nsr_pass@1_gain"], m["mechanism/nsr_pass@1_gain_se"] = mean_se(nsr_gain)
    active = beyond(grpo_drop) > 0 and beyond(nsr_gain) > 0
    ordered = beyond(d_pass) < 0 and beyond(d_h) < 0
    keeps_pass, keeps_h = nsr_keeps(init[col] - fin["nsr"][col], kept["nsr"])
    m.update({"mechanism/active": active, "psr_below_nsr_both": ordered,
              "nsr_keeps_pass@256": keeps_pass, "nsr_keeps_entropy": keeps_h})

    def _v(a, c):
        return fmt(m[f"{a}/{c}"], m[f"{a}/{c}_se"])

    reason = (
        f"pass@{K_LARGE} {init[col]:.3f} → GRPO {_v('grpo', col)}, PSR {_v('psr', col)}, NSR "
        f"{_v('nsr', col)}, W-REINFORCE {_v('w_reinforce', col)}; pass@1 {init['pass@1']:.3f} → "
        f"GRPO {_v('grpo', 'pass@1')}, PSR {_v('psr', 'pass@1')}, NSR {_v('nsr', 'pass@1')}; "
        f"entropy {init['entropy']:.3f} → PSR {_v('psr', 'entropy')}, NSR "
        f"{_v('nsr', 'entropy')} (NSR H / min(H_0, H_max(J)) "
        f"{_v('nsr', 'H_over_feasible')}); PSR − NSR pass@{K_LARGE} "
        f"{fmt(*mean_se(d_pass))}, entropy {fmt(*mean_se(d_h))}. Mechanism "
        f"{'active' if active else 'INACTIVE (not informative)'}: GRPO's pass@{K_LARGE} falls by "
        f"{fmt(*mean_se(grpo_drop))}, NSR's pass@1 rises by {fmt(*mean_se(nsr_gain))}; clip "
        f"fraction per minibatch PSR {m['psr/clip_frac_mean']:.4f}, NSR "
        f"{m['nsr/clip_frac_mean']:.4f}."
        + (f" Reversed: PSR keeps more pass@{K_LARGE} than NSR." if beyond(d_pass) > 0 else "")
        + ("" if keeps_pass else f" NSR does not keep pass@{K_LARGE}.")
        + ("" if keeps_h else " NSR does not keep the feasible entropy.")
    )
    return active and ordered and keeps_pass and keeps_h, active and ordered, m, reason


@register_check("claim16_nsr_psr", claim=16, kind="empirical",
                title="Zhu et al.: NSR keeps entropy and pass@256, PSR lowers them — "
                      "shared-parameter world")
def check(quick: bool) -> CheckResult:
    frames = {a: shared_world.run_shared(a, quick).frame for a in ALGORITHMS}
    moved = shared_world.prompts_moved(quick)
    return _verdict(frames, shared_world, quick,
                    "Rule written before any NSR/PSR number of this world was read.",
                    extra={"prompts_moved_per_step/lowrank": moved},
                    reason_tail=f" One update moves {moved:.0f} of 64 contexts.")


@register_check("claim16_nsr_psr_tree", claim=16, kind="empirical",
                title="Zhu et al.: NSR keeps entropy and pass@256, PSR lowers them — "
                      "shared token-tree world")
def check_tree(quick: bool) -> CheckResult:
    frames = {a: tree_world.run_tree(a, quick).frame for a in ALGORITHMS}
    return _verdict(frames, tree_world, quick,
                    "Rule written AFTER the exploratory run in this world (LOG.md, 2026-12-03): "
                    "not a blind test.")


def _verdict(frames, world, quick: bool, provenance: str, extra: dict | None = None,
             reason_tail: str = "") -> CheckResult:
    """One CheckResult from the four presets' frames in ``world`` (a module with ``WORLD``,
    ``budget`` and ``final_ceiling``), judged by :func:`judge`."""
    ok, partly, m, reason = judge(frames, world.final_ceiling)
    m.update(extra or {})
    seeds, steps = world.budget(quick)
    return CheckResult.judge(
        ok, partly=partly, measured=rounded(m), summary=SUMMARY,
        precise=f"{world.WORLD}; {seeds} seeds (paired), {steps} iterations; presets "
                f"{', '.join(ALGORITHMS)}; exact pass@1, pass@{K_LARGE}, token entropy and "
                f"H_max(J) of the final policies. {provenance}",
        tolerance=TOLERANCE,
        reason=reason + reason_tail,
    )
