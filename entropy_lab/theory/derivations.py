"""Symbolic derivations (sympy) of the Theorem 1 identities and of REPO's entropy-bonus reading.

For a softmax policy over K actions, π_a = e^{z_a} / Σ_b e^{z_b}, H = −Σ_a π_a log π_a and
L_a = log π_a + H. This module derives, for a concrete small K:

    ∂H/∂z_a                      = −π_a L_a                                (Theorem 1 identity)
    d/dη H(z + η·π·A_c)|_{η=0}   = −E_π[π·A_c·L]                           (vanilla closed form)
    d/dη H(z + η·A_c)|_{η=0}     = −E_π[A_c·L] = −Cov_π(log π, A)          (natural closed form)
    ½ d²/dη² H(z + η·Δz)|_{η=0}  = −½ E_π[c²(1 + L)],  c = Δz − E_π Δz      (second-order term)
    β*: first-order change of A − β·L vanishes  ⇔  β = E_π[w·L·A_c] / E_π[w·L²]  (w = π or 1)
    E_π[(A − β·L)·∇_z log π]     = E_π[A·∇_z log π] + β·∇_z H              (REPO = entropy bonus)

Each "derived" expression comes from differentiating H itself; each "closed" expression is the
formula as stated; :func:`identity_holds` proves they agree by substituting z_a = log x_a with
positive x_a, expanding the logarithms and cancelling to 0. The lambdified callables are what the
tests compare with the torch implementations of :mod:`entropy_lab.theory` at random points.
This is the only package module that imports sympy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import sympy as sp

from entropy_lab.validation import check_choice, check_number

GEOMETRIES = ("vanilla", "natural")


def _check_k(k: int) -> int:
    return int(check_number("k", k, lo=2, hi=8, integer=True))


@cache
def symbols(k: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...], tuple[sp.Symbol, ...],
                             sp.Symbol, sp.Symbol]:
    """Real symbols (z_1..z_K, A_1..A_K, d_1..d_K, η, β): logits, advantages, a step, lr, β."""
    k = _check_k(k)
    z = sp.symbols(f"z1:{k + 1}", real=True)
    adv = sp.symbols(f"A1:{k + 1}", real=True)
    dz = sp.symbols(f"d1:{k + 1}", real=True)
    eta, beta = sp.symbols("eta beta", real=True)
    return z, adv, dz, eta, beta


def softmax(z: Sequence[sp.Expr]) -> list[sp.Expr]:
    """π_a = e^{z_a} / Σ_b e^{z_b}."""
    total = sum(sp.exp(x) for x in z)
    return [sp.exp(x) / total for x in z]


def log_softmax(z: Sequence[sp.Expr]) -> list[sp.Expr]:
    """log π_a = z_a − log Σ_b e^{z_b}."""
    log_total = sp.log(sum(sp.exp(x) for x in z))
    return [x - log_total for x in z]


def entropy_expr(z: Sequence[sp.Expr]) -> sp.Expr:
    """H(z) = −Σ_a π_a log π_a."""
    return -sum(p * lp for p, lp in zip(softmax(z), log_softmax(z)))


def _expect(p: Sequence[sp.Expr], x: Sequence[sp.Expr]) -> sp.Expr:
    return sum(pa * xa for pa, xa in zip(p, x))


def centred_logprob_expr(z: Sequence[sp.Expr]) -> list[sp.Expr]:
    """L_a = log π_a − E_π[log π]."""
    p, lp = softmax(z), log_softmax(z)
    mean = _expect(p, lp)
    return [x - mean for x in lp]


def centred_advantage_expr(z: Sequence[sp.Expr], adv: Sequence[sp.Expr]) -> list[sp.Expr]:
    """A_c = A − E_π[A]."""
    mean = _expect(softmax(z), adv)
    return [a - mean for a in adv]


def pg_step_expr(k: int, geometry: str) -> list[sp.Expr]:
    """Δz / η of the expected exact-gradient step: π·A_c (vanilla) or A_c (natural)."""
    check_choice("geometry", geometry, GEOMETRIES)
    z, adv, _, _, _ = symbols(k)
    adv_c = centred_advantage_expr(z, adv)
    if geometry == "natural":
        return adv_c
    return [p * a for p, a in zip(softmax(z), adv_c)]


# --- derived vs closed


def derived_entropy_grad(k: int) -> list[sp.Expr]:
    """∂H/∂z_a by differentiating H(z)."""
    z = symbols(k)[0]
    h = entropy_expr(z)
    return [sp.diff(h, x) for x in z]


def closed_entropy_grad(k: int) -> list[sp.Expr]:
    """−π_a L_a."""
    z = symbols(k)[0]
    return [-p * ell for p, ell in zip(softmax(z), centred_logprob_expr(z))]


def derived_first_order_change(k: int, geometry: str) -> sp.Expr:
    """η · d/dη H(z + η·Δz₁)|_{η=0}, Δz₁ the unit-lr step of ``geometry`` (Theorem 1)."""
    z, _, _, eta, _ = symbols(k)
    step = pg_step_expr(k, geometry)
    moved = entropy_expr([x + eta * s for x, s in zip(z, step)])
    return eta * sp.diff(moved, eta).subs(eta, 0)


def closed_first_order_change(k: int, geometry: str) -> sp.Expr:
    """−η·E_π[π·A_c·L] (vanilla) or −η·E_π[A_c·L] = −η·Cov_π(log π, A) (natural)."""
    check_choice("geometry", geometry, GEOMETRIES)
    z, adv, _, eta, _ = symbols(k)
    p, ell, adv_c = softmax(z), centred_logprob_expr(z), centred_advantage_expr(z, adv)
    weight = p if geometry == "vanilla" else [sp.Integer(1)] * len(p)
    return -eta * _expect(p, [w * a * e for w, a, e in zip(weight, adv_c, ell)])


def derived_second_order_change(k: int) -> sp.Expr:
    """½ d²/dη² H(z + η·d)|_{η=0} for a general direction d (the η² coefficient of ΔH)."""
    z, _, dz, eta, _ = symbols(k)
    moved = entropy_expr([x + eta * d for x, d in zip(z, dz)])
    return sp.diff(moved, eta, 2).subs(eta, 0) / 2


def closed_second_order_change(k: int) -> sp.Expr:
    """−½ E_π[c²(1 + L)] with c = d − E_π[d]."""
    z, _, dz, _, _ = symbols(k)
    p, ell = softmax(z), centred_logprob_expr(z)
    mean = _expect(p, dz)
    return -sp.Rational(1, 2) * _expect(p, [(d - mean) ** 2 * (1 + e) for d, e in zip(dz, ell)])


def derived_beta_star(k: int, geometry: str) -> sp.Expr:
    """The β solving  d/dη H(z + η·step(A − β·L))|_{η=0} = 0  (affine in β: root −f₀/f₁)."""
    z, adv, _, eta, beta = symbols(k)
    ell = centred_logprob_expr(z)
    shaped = [a - beta * e for a, e in zip(adv, ell)]
    first = derived_first_order_change(k, geometry).subs(
        dict(zip(adv, shaped)), simultaneous=True
    ) / eta
    # first = f0 + β·f1 exactly (the step is linear in the advantage), so the root is −f0/f1.
    f0, f1 = first.subs(beta, 0), sp.diff(first, beta)
    if sp.diff(f1, beta) != 0:
        raise ArithmeticError("first-order change is not affine in beta")
    return -f0 / f1


def closed_beta_star(k: int, geometry: str) -> sp.Expr:
    """E_π[w·L·A_c] / E_π[w·L²], w = π (vanilla) or 1 (natural)."""
    check_choice("geometry", geometry, GEOMETRIES)
    z, adv, _, _, _ = symbols(k)
    p, ell, adv_c = softmax(z), centred_logprob_expr(z), centred_advantage_expr(z, adv)
    weight = p if geometry == "vanilla" else [sp.Integer(1)] * len(p)
    num = _expect(p, [w * e * a for w, e, a in zip(weight, ell, adv_c)])
    den = _expect(p, [w * e * e for w, e in zip(weight, ell)])
    return num / den


def repo_expected_gradient(k: int) -> list[sp.Expr]:
    """E_{a∼π}[(A_a − β·L_a)·∇_z log π_a] with A − β·L held fixed (a REINFORCE advantage)."""
    z, adv, _, _, beta = symbols(k)
    p, lp, ell = softmax(z), log_softmax(z), centred_logprob_expr(z)
    return [
        sum(p[a] * (adv[a] - beta * ell[a]) * sp.diff(lp[a], x) for a in range(len(z)))
        for x in z
    ]


def bonus_expected_gradient(k: int) -> list[sp.Expr]:
    """E_{a∼π}[A_a·∇_z log π_a] + β·∇_z H: REINFORCE on A plus an explicit entropy bonus βH."""
    z, adv, _, _, beta = symbols(k)
    p, lp = softmax(z), log_softmax(z)
    h = entropy_expr(z)
    return [
        sum(p[a] * adv[a] * sp.diff(lp[a], x) for a in range(len(z))) + beta * sp.diff(h, x)
        for x in z
    ]


# --- proof and evaluation


def identity_holds(lhs: sp.Expr, rhs: sp.Expr, k: int) -> bool:
    """True iff lhs − rhs cancels to exactly 0 for every z (and every A, d, η, β).

    Both sides are functions of z through π = softmax(z) only (H and its derivatives are
    invariant to z → z + c·1), so it suffices to prove the identity on the simplex: substitute
    z_a = log p_a with p_a > 0 and p_K = 1 − p_1 − … − p_{K−1}. Then Σ e^{z} = 1, every π is a
    polynomial in p and every log π an atom log p_a, so the difference is a rational function of
    p and those atoms, and ``cancel`` brings it to 0 iff it is identically 0.
    """
    z = symbols(k)[0]
    p = list(sp.symbols(f"p1:{len(z)}", positive=True))
    p.append(1 - sum(p))
    diff = (lhs - rhs).subs({za: sp.log(pa) for za, pa in zip(z, p)}, simultaneous=True)
    return sp.cancel(sp.together(sp.expand(diff))) == 0


def identities(k: int) -> dict[str, tuple[sp.Expr | list[sp.Expr], sp.Expr | list[sp.Expr]]]:
    """Every (derived, closed) pair of this module for one K, keyed by a short name."""
    return {
        "entropy_grad": (derived_entropy_grad(k), closed_entropy_grad(k)),
        "first_order_vanilla": (
            derived_first_order_change(k, "vanilla"), closed_first_order_change(k, "vanilla")
        ),
        "first_order_natural": (
            derived_first_order_change(k, "natural"), closed_first_order_change(k, "natural")
        ),
        "second_order": (derived_second_order_change(k), closed_second_order_change(k)),
        "beta_star_vanilla": (derived_beta_star(k, "vanilla"), closed_beta_star(k, "vanilla")),
        "beta_star_natural": (derived_beta_star(k, "natural"), closed_beta_star(k, "natural")),
        "repo_equals_entropy_bonus": (repo_expected_gradient(k), bonus_expected_gradient(k)),
    }


def verify(k: int, names: Sequence[str] | None = None) -> dict[str, bool]:
    """{name: identity proven} for the pairs of :func:`identities` (all, or those in ``names``)."""
    pairs = identities(k)
    out = {}
    for name in names if names is not None else pairs:
        lhs, rhs = pairs[check_choice("names", name, list(pairs))]
        if isinstance(lhs, list):
            out[name] = all(identity_holds(a, b, k) for a, b in zip(lhs, rhs))
        else:
            out[name] = identity_holds(lhs, rhs, k)
    return out


def lambdify(expr: sp.Expr | list[sp.Expr], k: int) -> Callable:
    """A numpy callable ``f(z, A, d, eta, beta)`` of an expression of :func:`symbols`.

    Each of z, A, d is a length-K sequence of floats; unused arguments are ignored.
    """
    z, adv, dz, eta, beta = symbols(k)
    return sp.lambdify((z, adv, dz, eta, beta), expr, modules="numpy")
