"""The controllers' authority: when do REPO-R's ζ_max cap and ADAPO's unpublished constants
change the entropy outcome?

Why: both controllers start far from their bound and reach it in a few iterations (ζ: 1e-3 →
0.05 in ~6 doublings; ε_high ×1.1 from 0.28 to a bound in ~6–11 steps), after which the bound,
not the rule, is the method. REPO-R rescales a taken token's advantage by 1 ∓ ζ·log π (A ≷ 0),
so its strength on a world is of order x = ζ_max × m, m = the median sampled |log π| (tokens
weighted by state visits × π: ``entropy_lab.analysis.metrics.sampled_logp_quantile``): the
published cap 0.05 is a 5% correction where m ≈ 1, and meaningful only where sampled tokens are
rare (|log π| ≫ 1). ADAPO moves ε_high, which acts only through the upper clip: where no A > 0
ratio reaches 1 + ε_high its constants cannot matter (``claim07_clip_higher_llm``; LOG,
2026-12-03: 8e-6 of tokens on ``tree/calibrated``).

(a) REPO-R, settings fixed before the run. Worlds spanning m (at initialisation): the 16-prompt
``prompts-llm/calibrated`` (``problem.num_prompts`` = 16; m 0.056), the reduced
``tree/calibrated`` (0.705), ``bandit/calibrated`` (1.39), ``prompts-many/calibrated`` (3.80);
tabular policies, the standard setting of ``_sim_common`` (N = 8 × G = 8, Adam lr 0.05, the
presets' 1 × 4 schedule); tree and bandit 32 seeds × 120 steps (the cells ``claim05`` runs),
prompts-llm 32 seeds × 60 steps, prompts-many 16 seeds × 60 steps (its K = 1024 costs 4× per
seed). REPO-R as registered (ζ from 1e-3, ×2 / ÷2, sign flip below 1e-4, sign clamp on,
target = initial entropy) with ζ_max ∈ {0.05, 0.2, 1.0}; GRPO the baseline. Per seed, the final
h = H / H_max(J) (H the token entropy, H_max the entropy ceiling at that seed's final J: the
frame's ``H_max`` column on the prompt worlds and the tree (``TokenTree.entropy_ceiling``: the
bandit ceiling over its sequences, over T), the one-state ceiling on the bandit); the gain
g = h_REPO-R − h_GRPO, paired by seed (mean ± SE, σ/√n). Decision rule for (a), "authority
follows x":

- Spearman ρ(x, g) over the 12 (world, ζ_max) points ≥ ``RHO_MIN`` = 0.6, and
- every point with x < ``X_NONE`` = 0.05 has g ≤ 2 SE (no resolved gain), and
- every point with x ≥ ``X_GAIN`` = 0.5 has g > 2 SE.

Activity (reported): the fraction of iterations with |ζ| at ζ_max (saturation), with ζ < 0, the
mean final |ζ|; the final J of each run (REPO-R's cost). The 90% quantile of sampled |log π| is
reported beside m.

(b) ADAPO, settings fixed before the run: ``bandit64/anti`` (where ``claim07_clip_higher_llm``
found clipping active: 2.75% per minibatch, a quarter of the upper-clipped tokens below typical),
2 epochs × 16 minibatches, Adam lr 0.01, N = 8 × G = 8, 32 seeds × 40 steps. Settings
(``EpsHighController``): default (multiplicative ×1.1, bounds [0.1, 0.5], start 0.28: the preset),
additive (±0.02, same bounds), wide (×1.1, [0.02, 2.0]), narrow (×1.1, [0.25, 0.35]); start 0.28
in all (with either rule ε_high reaches a bound from 0.28 in ≤ 11 steps of 40, so the start is
transient). Reported per setting: final H / H_0, J, mean ``clip/frac_high``, mean ε_high, the
fraction of iterations with ε_high at its lower or upper bound. Decision rule for (b), "the bounds
have authority": the upper clip is active (mean ``clip/frac_high`` ≥ ``FRAC_HIGH_MIN`` = 1e-3 in
both wide and narrow) and wide − narrow in final H / H_0, paired by seed, is beyond 2 SE.
Reported, not judged: default − additive (the step rule's authority) with its SE.

Verdict: reproduced iff (a) and (b) hold; partly iff one does; not reproduced otherwise. The
quick budget (tree and bandit, ζ_max ∈ {0.05, 1.0}, 16 seeds × 25 steps; ADAPO wide and narrow,
4 seeds × 5 steps) only exercises the code.
"""

from __future__ import annotations

import numpy as np
import torch

from entropy_lab.checks import CheckResult, register_check
from paper_checks._sim_common import (
    at_step,
    budget,
    fmt,
    get_problem_object,
    mean_se,
    per_seed_matrix,
    rounded,
    run_sim,
)

# (a) REPO-R: world name -> (problem id, overrides beyond the standard setting)
WORLDS = {
    "prompts-llm16/calibrated": ("prompts-llm/calibrated",
                                 {"problem.num_prompts": 16, "steps": 60}),
    "tree/calibrated": ("tree/calibrated", {}),
    "bandit/calibrated": ("bandit/calibrated", {}),
    "prompts-many/calibrated": ("prompts-many/calibrated", {"steps": 60, "seeds": 16}),
}
QUICK_WORLDS = ("tree/calibrated", "bandit/calibrated")
ZETA_MAX = (0.05, 0.2, 1.0)
ZETA_MAX_QUICK = (0.05, 1.0)
RHO_MIN = 0.6
X_NONE, X_GAIN = 0.05, 0.5
Z = 2.0

# (b) ADAPO
ADAPO_WORLD = "bandit64/anti"
ADAPO_REGIME = {"optimizer": "adam", "lr": 0.01, "epochs": 2, "minibatches": 16,
                "n_prompts": 8, "group_size": 8}
ADAPO_BUDGET, ADAPO_BUDGET_QUICK = {"seeds": 32, "steps": 40}, {"seeds": 4, "steps": 5}
SETTINGS = {
    "default": {},
    "additive": {"controller.mode": "additive"},
    "wide": {"controller.eps_high_min": 0.02, "controller.eps_high_max": 2.0},
    "narrow": {"controller.eps_high_min": 0.25, "controller.eps_high_max": 0.35},
}
BOUNDS = {"default": (0.1, 0.5), "additive": (0.1, 0.5), "wide": (0.02, 2.0),
          "narrow": (0.25, 0.35)}
QUICK_SETTINGS = ("wide", "narrow")
FRAC_HIGH_MIN = 1e-3


def ceiling(problem, success: np.ndarray) -> np.ndarray:
    """H_max at success ``[B]`` (J = pass@1: 0/1 rewards) of a world without an ``H_max`` column
    (the one-state bandit): the ceiling of m correct of K."""
    from entropy_lab.problems import entropy_ceiling

    m = problem.success_ck.sum().reshape(1).to(torch.float64)
    s = torch.as_tensor(np.clip(success, 0.0, 1.0), dtype=torch.float64)
    return entropy_ceiling(s, m, problem.num_actions, torch.ones(1, dtype=torch.float64)).numpy()


def h_over_ceiling(frame, problem) -> np.ndarray:
    """``[B]`` final H / H_max(J) per seed (seed order)."""
    h, j = at_step(frame, "entropy"), at_step(frame, "J")
    hmax = at_step(frame, "H_max") if "H_max" in frame else ceiling(problem, j)
    return h / hmax


def zeta_activity(frame, zeta_max: float) -> dict:
    """Saturation of the ζ controller: fractions of iterations ≥ 1 at the cap and with ζ < 0."""
    z = per_seed_matrix(frame, "zeta")[:, 1:]
    return {"at_cap": float((np.abs(z) >= zeta_max * (1 - 1e-9)).mean()),
            "negative": float((z < 0).mean()), "final_abs": float(np.abs(z[:, -1]).mean())}


def authority_follows_x(x, g, se, rho: float) -> bool:
    """Rule (a): ρ ≥ RHO_MIN, no resolved gain below X_NONE, a resolved gain from X_GAIN up."""
    x, g, se = (np.asarray(v, dtype=np.float64) for v in (x, g, se))
    low, high = x < X_NONE, x >= X_GAIN
    return bool(rho >= RHO_MIN and (g[low] <= Z * se[low]).all()
                and (g[high] > Z * se[high]).all())


def _problem(pid: str, over: dict):
    """The world's problem object: the checks' (reduced tree) with its ``problem.*`` overrides."""
    from entropy_lab.problems import get_problem

    extra = {k.split(".", 1)[1]: v for k, v in over.items() if k.startswith("problem.")}
    return get_problem(pid, **extra) if extra else get_problem_object(pid)


def _cap(zeta_max: float) -> dict:
    """The ζ_max override; none at the preset's own cap, so the cell is the one ``claim05`` runs."""
    from entropy_lab.algorithms.presets import get_preset

    own = get_preset("repo_r").controller_hp["zeta_max"]
    return {} if zeta_max == own else {"controller.zeta_max": zeta_max}


def _world_overrides(name: str, quick: bool) -> tuple[str, dict]:
    pid, over = WORLDS[name]
    return pid, ({k: v for k, v in over.items() if k.startswith("problem.")} if quick else over)


def _repo_r(measured: dict, quick: bool) -> tuple[bool, list[str], dict]:
    from entropy_lab.analysis.metrics import correlation, sampled_logp_quantile

    names = QUICK_WORLDS if quick else tuple(WORLDS)
    zetas = ZETA_MAX_QUICK if quick else ZETA_MAX
    xs, gs, ses, lines = [], [], [], []
    for name in names:
        pid, over = _world_overrides(name, quick)
        problem = _problem(pid, over)
        z0 = problem.init_logits(1)
        med = float(sampled_logp_quantile(problem, z0)[0])
        q90 = float(sampled_logp_quantile(problem, z0, 0.9)[0])
        grpo = run_sim(pid, "grpo", quick, **over).frame
        hg = h_over_ceiling(grpo, problem)
        measured.update({f"{name}/median_abs_logp": med, f"{name}/q90_abs_logp": q90,
                         f"{name}/seeds": int(hg.size),
                         f"{name}/steps": int(grpo["step"].max()),
                         f"{name}/grpo/H_over_Hmax": mean_se(hg)[0],
                         f"{name}/grpo/J": float(at_step(grpo, "J").mean())})
        parts = []
        for zm in zetas:
            repo = run_sim(pid, "repo_r", quick, **over, **_cap(zm)).frame
            g, g_se = mean_se(h_over_ceiling(repo, problem) - hg)
            act = zeta_activity(repo, zm)
            x = zm * med
            key = f"{name}/zeta_max={zm:g}"
            measured.update({f"{key}/x": x, f"{key}/gain": g, f"{key}/gain_se": g_se,
                             f"{key}/J": float(at_step(repo, "J").mean()),
                             **{f"{key}/zeta_{k}": v for k, v in act.items()}})
            xs.append(x)
            gs.append(g)
            ses.append(g_se)
            parts.append(f"ζ_max {zm:g} (x {x:.3g}): gain {fmt(g, g_se)}, J "
                         f"{measured[f'{key}/J']:.3f}, at cap {act['at_cap']:.0%}")
        lines.append(f"{name} (m {med:.3g}, q90 {q90:.3g}; GRPO h "
                     f"{measured[f'{name}/grpo/H_over_Hmax']:.3f}, J "
                     f"{measured[f'{name}/grpo/J']:.3f}): " + "; ".join(parts))
    corr = correlation(xs, gs, "spearman", n_boot=500)
    holds = authority_follows_x(xs, gs, ses, corr["r"])
    measured.update({"repo_r/spearman_x_gain": corr["r"], "repo_r/spearman_lo": corr["lo"],
                     "repo_r/spearman_hi": corr["hi"], "repo_r/authority_follows_x": holds})
    return holds, lines, corr


def _adapo(measured: dict, quick: bool) -> tuple[bool, str]:
    size = ADAPO_BUDGET_QUICK if quick else ADAPO_BUDGET
    names = QUICK_SETTINGS if quick else tuple(SETTINGS)
    ratio, parts = {}, []
    for name in names:
        frame = run_sim(ADAPO_WORLD, "adapo", quick, **ADAPO_REGIME, **size,
                        **SETTINGS[name]).frame
        h = per_seed_matrix(frame, "entropy")
        ratio[name] = h[:, -1] / h[:, 0]
        trained = frame[frame["step"] > 0]
        eps = per_seed_matrix(frame, "eps_high")[:, 1:]
        lo, hi = BOUNDS[name]
        row = {"H_ratio": mean_se(ratio[name]), "J": float(at_step(frame, "J").mean()),
               "frac_high": float(trained["clip/frac_high"].mean()),
               "clip_frac": float(trained["clip/frac"].mean()),
               "eps_high_mean": float(eps.mean()),
               "at_lower": float((eps <= lo * (1 + 1e-9)).mean()),
               "at_upper": float((eps >= hi * (1 - 1e-9)).mean())}
        for k, v in row.items():
            if isinstance(v, tuple):
                measured[f"adapo/{name}/{k}"], measured[f"adapo/{name}/{k}_se"] = v
            else:
                measured[f"adapo/{name}/{k}"] = v
        parts.append(f"{name} [{lo:g}, {hi:g}]: H/H_0 {fmt(*row['H_ratio'])}, J {row['J']:.3f}, "
                     f"upper clip {row['frac_high']:.2%}, mean ε_high {row['eps_high_mean']:.3f}"
                     f", at lower/upper bound {row['at_lower']:.0%}/{row['at_upper']:.0%}")
    active = all(measured[f"adapo/{n}/frac_high"] >= FRAC_HIGH_MIN for n in ("wide", "narrow"))
    d, d_se = mean_se(ratio["wide"] - ratio["narrow"])
    holds = bool(active and abs(d) > Z * d_se)
    measured.update({"adapo/wide_minus_narrow": d, "adapo/wide_minus_narrow_se": d_se,
                     "adapo/active": bool(active), "adapo/bounds_have_authority": holds})
    text = "; ".join(parts) + f"; wide − narrow {fmt(d, d_se)}"
    if "additive" in ratio:
        r, r_se = mean_se(ratio["default"] - ratio["additive"])
        measured.update({"adapo/default_minus_additive": r,
                         "adapo/default_minus_additive_se": r_se})
        text += f", default (×1.1) − additive (±0.02) {fmt(r, r_se)}"
    return holds, text


@register_check("claim18_controller_authority", claim=18, kind="empirical",
                title="The controllers' authority: REPO-R's ζ_max × |log π| and ADAPO's bounds")
def check(quick: bool) -> CheckResult:
    measured: dict = {}
    a, lines, corr = _repo_r(measured, quick)
    b, adapo_text = _adapo(measured, quick)
    seeds, steps = budget(quick)
    size = ADAPO_BUDGET_QUICK if quick else ADAPO_BUDGET
    return CheckResult.judge(
        a and b, partly=a or b, measured=rounded(measured),
        summary="The controllers have authority where their mechanism acts: REPO-R's ζ_max "
                "matters in proportion to ζ_max × the world's sampled |log π|, and ADAPO's "
                "bounds change the entropy outcome where its upper clip fires.",
        precise=f"(a) REPO-R (as registered, ζ_max ∈ {{{', '.join(f'{z:g}' for z in ZETA_MAX)}}}"
                ") vs GRPO, standard setting (N=8, G=8, Adam 0.05, 1×4), on "
                f"{', '.join(QUICK_WORLDS if quick else WORLDS)}: gain in final H/H_max(J), "
                "paired by seed, against x = ζ_max × median sampled |log π| at init "
                f"({seeds} seeds × {steps} steps unless the world says otherwise). (b) ADAPO on "
                f"{ADAPO_WORLD}, 2×16 Adam 0.01, N=8, G=8, {size['seeds']} seeds × "
                f"{size['steps']} steps: step rule ×1.1 vs ±0.02 and bounds [0.1, 0.5], "
                "[0.02, 2], [0.25, 0.35], final H/H_0.",
        tolerance=f"(a) Spearman ρ(x, gain) ≥ {RHO_MIN}, gain ≤ {Z:g} SE at every x < "
                  f"{X_NONE:g}, > {Z:g} SE at every x ≥ {X_GAIN:g}; (b) upper clip ≥ "
                  f"{FRAC_HIGH_MIN:g} in wide and narrow, |wide − narrow| > {Z:g} SE; "
                  "reproduced: both; partly: one.",
        reason=(f"(a) authority {'follows' if a else 'does not follow'} x: Spearman ρ "
                f"{corr['r']:.2f} [{corr['lo']:.2f}, {corr['hi']:.2f}]; " + " | ".join(lines)
                + f". (b) bounds {'have' if b else 'have no'} authority on {ADAPO_WORLD}: "
                + adapo_text + "."
                + (" Quick budget: exercises the code, not a verdict." if quick else "")),
    )
