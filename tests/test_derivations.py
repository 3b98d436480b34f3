"""sympy derivations: the identities are proven for small K, wrong ones are rejected, and the
lambdified derived expressions agree with the torch implementations at random points."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from entropy_lab import theory as th
from entropy_lab.theory import derivations as dv
from entropy_lab.validation import InputError

F64 = torch.float64


@pytest.mark.parametrize("name", list(dv.identities(3)))
def test_identities_proven_for_k3(name):
    assert dv.verify(3, [name]) == {name: True}


@pytest.mark.parametrize(
    "name",
    [
        "repo_equals_entropy_bonus",
        pytest.param("entropy_grad", marks=pytest.mark.slow),
        pytest.param("first_order_natural", marks=pytest.mark.slow),
        pytest.param("second_order", marks=pytest.mark.slow),
    ],
)
def test_identities_proven_for_k4(name):
    assert dv.verify(4, [name]) == {name: True}


def test_wrong_identities_are_rejected():
    k = 3
    z, adv, _, eta, _ = dv.symbols(k)
    grad = dv.derived_entropy_grad(k)
    flipped = [-g for g in dv.closed_entropy_grad(k)]
    assert not dv.identity_holds(grad[0], flipped[0], k)
    # The vanilla derivation is not the natural closed form.
    assert not dv.identity_holds(
        dv.derived_first_order_change(k, "vanilla"), dv.closed_first_order_change(k, "natural"), k
    )
    # Cov_π(log π, π·A) with an *uncentred* A is not the vanilla change.
    p, lp = dv.softmax(z), dv.log_softmax(z)
    mean_lp = sum(a * b for a, b in zip(p, lp))
    cov_raw = sum(pa * (la - mean_lp) * pa * aa for pa, la, aa in zip(p, lp, adv))
    assert not dv.identity_holds(dv.derived_first_order_change(k, "vanilla"), -eta * cov_raw, k)
    # Dropping the 1 in (1 + L) breaks the second-order term.
    _, _, dz, _, _ = dv.symbols(k)
    mean_d = sum(pa * d for pa, d in zip(p, dz))
    ell = dv.centred_logprob_expr(z)
    wrong = -sp.Rational(1, 2) * sum(pa * (d - mean_d) ** 2 * e for pa, d, e in zip(p, dz, ell))
    assert not dv.identity_holds(dv.derived_second_order_change(k), wrong, k)


def _random_point(k, seed):
    rng = np.random.default_rng(seed)
    return 2 * rng.standard_normal(k), rng.standard_normal(k), rng.standard_normal(k)


@pytest.mark.parametrize("k", [2, 3, pytest.param(4, marks=pytest.mark.slow)])
@pytest.mark.parametrize("seed", [0, 1])
def test_lambdified_derivations_match_torch(k, seed):
    z, adv, dz = _random_point(k, seed)
    zt, at, dt = (torch.tensor(v, dtype=F64) for v in (z, adv, dz))
    eta = 0.37

    def ev(expr):
        return np.asarray(dv.lambdify(expr, k)(z, adv, dz, eta, 0.0), dtype=float)

    np.testing.assert_allclose(ev(dv.derived_entropy_grad(k)), th.entropy_grad(zt), atol=1e-13)
    for geometry in ("vanilla", "natural"):
        np.testing.assert_allclose(
            ev(dv.derived_first_order_change(k, geometry)),
            th.predicted_entropy_change(zt, at, eta, geometry).item(),
            rtol=1e-11, atol=1e-14,
        )
        np.testing.assert_allclose(
            ev(dv.derived_beta_star(k, geometry)),
            th.repo_beta_star(zt, at, geometry).item(),
            rtol=1e-9, atol=1e-12,
        )
    np.testing.assert_allclose(
        ev(dv.derived_second_order_change(k)),
        th.second_order_entropy_change(zt, dt).item(),
        rtol=1e-11, atol=1e-14,
    )


def test_lambdified_repo_gradient_matches_torch_reinforce_expectation():
    k, beta = 4, 0.8
    z, adv, _ = _random_point(k, 5)
    zt = torch.tensor(z, dtype=F64, requires_grad=True)
    logp = torch.log_softmax(zt, -1)
    shaped = torch.tensor(adv, dtype=F64) - beta * th.centered_logprob(zt.detach())
    # E_{a∼π}[Â_a ∇ log π_a] = ∇_z Σ_a sg(π_a)·Â_a·log π_a
    (grad,) = torch.autograd.grad((logp.exp().detach() * shaped * logp).sum(), zt)
    got = np.asarray(dv.lambdify(dv.repo_expected_gradient(k), k)(z, adv, z, 0.0, beta))
    np.testing.assert_allclose(got, grad.numpy(), atol=1e-13)


@pytest.mark.parametrize(
    "call,arg",
    [
        (lambda: dv.symbols(1), "k"),
        (lambda: dv.symbols(2.5), "k"),
        (lambda: dv.pg_step_expr(3, "adam"), "geometry"),
        (lambda: dv.verify(2, ["nope"]), "names"),
    ],
)
def test_bad_input(call, arg):
    with pytest.raises(InputError, match=arg):
        call()
