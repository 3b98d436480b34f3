"""Claim 4 — REPO: β* cancels the first-order entropy change; constant-β REPO is a REINFORCE
estimate of an entropy bonus.

(a) With A_REPO = A − β*·L, β* = E_π[w·L·A_c]/E_π[w·L²] (w = π vanilla, 1 natural), the
    exact-gradient step changes H only at second order: ΔH(η) − ½Δzᵀ∇²HΔz = O(η³) (median
    observed order of |ΔH| 2), while the unshaped A gives order 1. Random logits, K = 8, both
    geometries. Remainders are measured against ½E_π[c²(1 + |L|)], a bound on the size of a
    second-order term, because the second-order coefficient itself crosses zero for some cases
    (there |ΔH| is third order and the per-case order is 3, not 2).
(b) E_{a∼π}[(A_a − β·L_a)·∇_z log π_a] = E_π[A·∇_z log π] + β·∇_z H, with A − β·L held fixed
    (stop-gradient): proven symbolically (sympy, K = 3 and 4) and by Monte Carlo — the mean of
    per-sample REINFORCE gradients over n draws a ∼ π lies within 4 standard errors of
    π·(A − E_π A) + β·∇H in every coordinate.
"""

from __future__ import annotations

import math

import torch

from entropy_lab.checks import CheckResult, register_check
from entropy_lab.theory import (
    centered_logprob,
    derivations,
    entropy_grad,
    exact_entropy_change,
    pg_logit_step,
    repo_beta_star,
    second_order_entropy_change,
)

F64 = torch.float64
K = 8
ORDER_TOL = 0.1
Z_TOL = 4.0


def _second_order_scale(z, dz):
    """½ E_π[c²(1 + |L|)] ≥ |½Δzᵀ∇²HΔz|: the size of a second-order term for this step.

    The actual coefficient can cross zero for some cases; this scale does not, so remainders are
    measured against it.
    """
    p = torch.softmax(z, -1)
    c = dz - (p * dz).sum(-1, keepdim=True)
    return 0.5 * (p * c * c * (1 + centered_logprob(z).abs())).sum(-1)


def cancellation_part(n: int, gen, halvings: int) -> tuple[dict, bool]:
    z = 2.0 * torch.randn(n, K, generator=gen, dtype=F64)
    adv = torch.randn(n, K, generator=gen, dtype=F64)
    out, ok = {}, True
    for geometry in ("vanilla", "natural"):
        beta = repo_beta_star(z, adv, geometry)
        shaped = adv - beta[..., None] * centered_logprob(z)
        for name, a in (("repo", shaped), ("plain", adv)):
            unit = pg_logit_step(z, a, 1.0, geometry)
            eta0 = 0.5 / unit.abs().amax(-1, keepdim=True)
            errs = []
            for i in range(halvings):
                dz = unit * eta0 * 2.0**-i
                exact = exact_entropy_change(z, dz)
                errs.append(exact.abs())
            order = torch.log2(errs[-2] / errs[-1])
            scale = _second_order_scale(z, dz)
            key = f"{geometry}/{name}"
            out[f"{key}/order_median"] = float(order.median())
            out[f"{key}/exact_over_second_order_scale_max"] = float((exact.abs() / scale).max())
            if name == "repo":
                rem = (exact - second_order_entropy_change(z, dz)).abs() / scale
                out[f"{key}/remainder_after_second_order_max"] = float(rem.max())
                ok &= abs(float(order.median()) - 2) < ORDER_TOL and float(rem.max()) < 0.05
            else:
                ok &= abs(float(order.median()) - 1) < ORDER_TOL
    return out, ok


def monte_carlo_part(draws: int, gen) -> tuple[dict, bool]:
    z = 1.5 * torch.randn(K, generator=gen, dtype=F64)
    adv = torch.randn(K, generator=gen, dtype=F64)
    beta = 0.7
    p = torch.softmax(z, -1)
    shaped = adv - beta * centered_logprob(z)
    actions = torch.multinomial(p, draws, replacement=True, generator=gen)
    # ∇_z log π_a = e_a − π
    score = torch.nn.functional.one_hot(actions, K).to(F64) - p
    samples = shaped[actions, None] * score  # [N, K]
    mean = samples.mean(0)
    se = samples.std(0, unbiased=True) / math.sqrt(draws)
    target = p * (adv - (p * adv).sum()) + beta * entropy_grad(z)
    zscores = (mean - target) / se
    chi2 = float((zscores**2).sum())
    return {
        "mc/draws": draws,
        "mc/max_abs_z": float(zscores.abs().max()),
        "mc/sum_z2": chi2,
        "mc/dof": K,
        "mc/max_abs_err": float((mean - target).abs().max()),
    }, float(zscores.abs().max()) < Z_TOL


@register_check(
    "claim04_repo",
    claim=4,
    kind="theorem",
    title="REPO β* cancels first-order ΔH; constant-β REPO = REINFORCE entropy bonus",
)
def check(quick: bool) -> CheckResult:
    gen = torch.Generator().manual_seed(4)
    measured, ok = cancellation_part(200 if quick else 2000, gen, 8)
    m, o = monte_carlo_part(20_000 if quick else 200_000, gen)
    measured.update(m)
    ok &= o
    for k in ((3,) if quick else (3, 4)):
        names = ["repo_equals_entropy_bonus", "beta_star_natural"]
        if not quick:
            names.append("beta_star_vanilla")
        proofs = derivations.verify(k, names if k == 3 else names[:1])
        measured.update({f"sympy_k{k}/{name}": v for name, v in proofs.items()})
        ok &= all(proofs.values())
    return CheckResult.judge(
        ok,
        measured=measured,
        summary=(
            "REPO with β* cancels the first-order entropy change; REPO with constant β is a "
            "REINFORCE estimate of an entropy bonus βH."
        ),
        precise=(
            "Step with A − β*L: exact ΔH = ½Δzᵀ∇²HΔz + O(η³) (order 2; plain A: order 1). "
            "E_π[(A − βL)∇log π] = E_π[A∇log π] + β∇H (L held fixed)."
        ),
        tolerance=(
            f"median observed order within {ORDER_TOL} of 2 (plain A: of 1) and |ΔH − second-order"
            " term| < 5% of the second-order scale for every case at η_0·2^−7 (max|Δz| = 0.5 at "
            f"η_0); Monte Carlo |z| < {Z_TOL} per coordinate; sympy identities exact"
        ),
        reason=(
            "β* removes the first-order term exactly and the bonus identity holds symbolically "
            "and in sampling" if ok else "see measured"
        ),
    )
