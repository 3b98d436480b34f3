"""Exact tier for entropy_lab.theory (Theorem 1): finite differences, autograd, independent forms.

Every expected number comes from an independent route: central finite differences of H, the
autograd gradient / Hessian of a plain ``−Σ softmax·log_softmax``, or a formula written here
from its definition (covariances, the root of a linear function), never from the function under
test.
"""

from __future__ import annotations

import math

import pytest
import torch

from entropy_lab import theory as th
from entropy_lab.validation import InputError

F64 = torch.float64
BATCH_SHAPES = [(5,), (3, 4), (2, 3, 6), (1, 1, 1, 3)]


def plain_entropy(z: torch.Tensor) -> torch.Tensor:
    """Reference H(softmax(z)) written from the definition (differentiable)."""
    p = torch.softmax(z, -1)
    return -(p * torch.log(p)).sum(-1)


def random_logits(shape, gen, dtype=F64, scale=2.0):
    return (scale * torch.randn(shape, generator=gen, dtype=F64)).to(dtype)


def expect(p, x):
    return (p * x).sum(-1)


# --- entropy, L, ∂H/∂z


@pytest.mark.parametrize("shape", BATCH_SHAPES)
def test_entropy_and_centred_logprob_match_definitions(shape, gen):
    z = random_logits(shape, gen)
    p = torch.softmax(z, -1)
    h_ref = -(p * p.log()).sum(-1)
    torch.testing.assert_close(th.entropy(z), h_ref, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(th.centered_logprob(z), p.log() + h_ref[..., None])
    # L is centred under π.
    zeros = torch.zeros(shape[:-1], dtype=F64)
    torch.testing.assert_close(expect(p, th.centered_logprob(z)), zeros)


@pytest.mark.parametrize("shape", BATCH_SHAPES)
def test_entropy_grad_equals_central_finite_differences(shape, gen):
    z = random_logits(shape, gen)
    h = 1e-6
    fd = torch.empty_like(z)
    for a in range(shape[-1]):
        e = torch.zeros_like(z)
        e[..., a] = h
        fd[..., a] = (th.entropy(z + e) - th.entropy(z - e)) / (2 * h)
    torch.testing.assert_close(th.entropy_grad(z), fd, rtol=0, atol=1e-8)


def test_entropy_grad_equals_autograd(gen):
    z = random_logits((4, 7), gen).requires_grad_(True)
    (g,) = torch.autograd.grad(plain_entropy(z).sum(), z)
    torch.testing.assert_close(th.entropy_grad(z.detach()), g, rtol=1e-12, atol=1e-14)


def test_entropy_of_known_distributions():
    k = 6
    uniform = torch.zeros(k, dtype=F64)
    assert th.entropy(uniform).item() == pytest.approx(math.log(k), rel=1e-15)
    # Two equal logits far above the rest: H -> log 2, the rest underflows to exactly 0·log 0.
    z = torch.tensor([0.0, 0.0, -1e4, -1e4], dtype=F64)
    assert th.entropy(z).item() == pytest.approx(math.log(2), rel=1e-15)
    torch.testing.assert_close(th.entropy_grad(uniform), torch.zeros(k, dtype=F64))


# --- ΔH to first/second order


@pytest.mark.parametrize("shape", BATCH_SHAPES)
def test_first_order_is_directional_derivative(shape, gen):
    z = random_logits(shape, gen)
    dz = random_logits(shape, gen, scale=1.0)
    z_ = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(plain_entropy(z_).sum(), z_)
    torch.testing.assert_close(th.first_order_entropy_change(z, dz), (g * dz).sum(-1))
    # = −Cov_π(log π, Δz), written from the covariance definition.
    p = torch.softmax(z, -1)
    cov = expect(p, p.log() * dz) - expect(p, p.log()) * expect(p, dz)
    torch.testing.assert_close(th.first_order_entropy_change(z, dz), -cov)


@pytest.mark.parametrize("k", [2, 3, 5, 9])
def test_second_order_equals_half_autograd_hessian_quadratic_form(k, gen):
    for _ in range(4):
        z = random_logits((k,), gen)
        dz = random_logits((k,), gen, scale=1.0)
        hess = torch.autograd.functional.hessian(plain_entropy, z)
        torch.testing.assert_close(
            th.second_order_entropy_change(z, dz), 0.5 * dz @ hess @ dz, rtol=1e-10, atol=1e-13
        )


@pytest.mark.parametrize("shape", BATCH_SHAPES)
def test_second_order_equals_second_finite_difference(shape, gen):
    z = random_logits(shape, gen)
    dz = random_logits(shape, gen, scale=1.0)
    h = 1e-4
    fd2 = (th.entropy(z + h * dz) - 2 * th.entropy(z) + th.entropy(z - h * dz)) / (2 * h * h)
    torch.testing.assert_close(th.second_order_entropy_change(z, dz), fd2, rtol=0, atol=1e-6)


def test_exact_change_is_difference_and_taylor_remainder_is_cubic(gen):
    z = random_logits((3, 5), gen)
    dz = random_logits((3, 5), gen, scale=1.0)
    torch.testing.assert_close(
        th.exact_entropy_change(z, dz), plain_entropy(z + dz) - plain_entropy(z)
    )
    # Remainder after two Taylor terms shrinks like η³ (η halves -> error / 8).
    errs = []
    for eta in (1e-1, 5e-2, 2.5e-2):
        step = eta * dz
        pred = th.first_order_entropy_change(z, step) + th.second_order_entropy_change(z, step)
        errs.append((th.exact_entropy_change(z, step) - pred).abs())
    for e_big, e_small in zip(errs, errs[1:]):
        ratio = e_big / e_small
        assert bool(((ratio > 6.5) & (ratio < 9.5)).all()), ratio


def test_constant_logit_shift_changes_nothing(gen):
    z = random_logits((4, 6), gen)
    shift = torch.full_like(z, 3.7)
    torch.testing.assert_close(th.first_order_entropy_change(z, shift), torch.zeros(4, dtype=F64))
    torch.testing.assert_close(th.second_order_entropy_change(z, shift), torch.zeros(4, dtype=F64))
    torch.testing.assert_close(th.exact_entropy_change(z, shift), torch.zeros(4, dtype=F64))


# --- policy-gradient closed forms


@pytest.mark.parametrize("shape", BATCH_SHAPES)
def test_vanilla_step_is_lr_times_exact_gradient_of_expected_advantage(shape, gen):
    z = random_logits(shape, gen)
    adv = torch.randn(shape, generator=gen, dtype=F64)
    z_ = z.clone().requires_grad_(True)
    (grad_j,) = torch.autograd.grad((torch.softmax(z_, -1) * adv).sum(), z_)
    torch.testing.assert_close(th.pg_logit_step(z, adv, 0.3, "vanilla"), 0.3 * grad_j)


def test_natural_step_solves_fisher_system_and_is_centred(gen):
    z = random_logits((6,), gen)
    adv = torch.randn(6, generator=gen, dtype=F64)
    p = torch.softmax(z, -1)
    fisher = torch.diag(p) - torch.outer(p, p)
    grad_j = p * (adv - (p * adv).sum())
    step = th.pg_logit_step(z, adv, 0.5, "natural")
    torch.testing.assert_close(fisher @ step, 0.5 * grad_j)
    assert abs(float((p * step).sum())) < 1e-14


@pytest.mark.parametrize("geometry", ["vanilla", "natural"])
@pytest.mark.parametrize("shape", BATCH_SHAPES)
def test_predicted_change_equals_covariance_forms(geometry, shape, gen):
    z = random_logits(shape, gen)
    adv = torch.randn(shape, generator=gen, dtype=F64)
    p = torch.softmax(z, -1)
    # vanilla: −η Cov_π(log π, π·A_c);  natural: −η Cov_π(log π, A)   (docs/theory.md, "Theorem 1").
    # The vanilla covariance needs A centred under π (Cui et al.'s A is Q − V): π·A is not
    # shift invariant, so Cov_π(log π, π·A) with a raw A is a different number.
    adv_c = adv - expect(p, adv)[..., None]
    x = p * adv_c if geometry == "vanilla" else adv
    cov = expect(p, p.log() * x) - expect(p, p.log()) * expect(p, x)
    pred = th.predicted_entropy_change(z, adv, 0.2, geometry)
    torch.testing.assert_close(pred, -0.2 * cov)
    # and equals the general form evaluated at the step (Theorem 1, premises hold).
    step = th.pg_logit_step(z, adv, 0.2, geometry)
    torch.testing.assert_close(pred, th.first_order_entropy_change(z, step))


def test_closed_forms_ignore_a_constant_baseline(gen):
    z = random_logits((3, 5), gen)
    adv = torch.randn((3, 5), generator=gen, dtype=F64)
    for geometry in ("vanilla", "natural"):
        torch.testing.assert_close(
            th.predicted_entropy_change(z, adv + 11.0, 0.1, geometry),
            th.predicted_entropy_change(z, adv, 0.1, geometry),
        )


@pytest.mark.parametrize("geometry", ["vanilla", "natural"])
def test_beta_star_is_root_of_the_linear_first_order_change(geometry, gen):
    z = random_logits((8, 5), gen)
    adv = torch.randn((8, 5), generator=gen, dtype=F64)
    ell = th.centered_logprob(z)

    def f(beta):
        return th.predicted_entropy_change(z, adv - beta[..., None] * ell, 1.0, geometry)

    zero, one = torch.zeros(8, dtype=F64), torch.ones(8, dtype=F64)
    root = f(zero) / (f(zero) - f(one))  # f is affine in β
    beta = th.repo_beta_star(z, adv, geometry)
    torch.testing.assert_close(beta, root)
    assert f(beta).abs().max() < 1e-14


def test_beta_star_is_zero_for_uniform_policy():
    z = torch.zeros(3, 4, dtype=F64)
    adv = torch.arange(12, dtype=F64).reshape(3, 4)
    for geometry in ("vanilla", "natural"):
        assert torch.equal(th.repo_beta_star(z, adv, geometry), torch.zeros(3, dtype=F64))


# --- dtypes


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_is_kept_and_float32_agrees_with_float64(dtype, gen):
    z64 = random_logits((4, 7), gen)
    dz64 = random_logits((4, 7), gen, scale=0.1)
    adv64 = torch.randn((4, 7), generator=gen, dtype=F64)
    z, dz, adv = z64.to(dtype), dz64.to(dtype), adv64.to(dtype)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 0, "atol": 0}
    pairs = [
        (th.entropy(z), th.entropy(z64)),
        (th.centered_logprob(z), th.centered_logprob(z64)),
        (th.entropy_grad(z), th.entropy_grad(z64)),
        (th.first_order_entropy_change(z, dz), th.first_order_entropy_change(z64, dz64)),
        (th.second_order_entropy_change(z, dz), th.second_order_entropy_change(z64, dz64)),
        (th.exact_entropy_change(z, dz), th.exact_entropy_change(z64, dz64)),
        (th.pg_logit_step(z, adv, 0.1), th.pg_logit_step(z64, adv64, 0.1)),
        (th.predicted_entropy_change(z, adv, 0.1), th.predicted_entropy_change(z64, adv64, 0.1)),
        (th.repo_beta_star(z, adv), th.repo_beta_star(z64, adv64)),
    ]
    for got, ref in pairs:
        assert got.dtype == dtype
        torch.testing.assert_close(got.to(F64), ref, **tol)


# --- bad input

Z = torch.zeros(2, 3, dtype=F64)
A = torch.ones(2, 3, dtype=F64)
NAN_Z = torch.tensor([[0.0, float("nan"), 1.0]], dtype=F64)
INF_Z = torch.tensor([[0.0, float("inf"), 1.0]], dtype=F64)
ONE_K = torch.zeros(2, 1, dtype=F64)
SCALAR = torch.tensor(1.0, dtype=F64)
INTS = torch.zeros(2, 3, dtype=torch.int64)

BAD_INPUTS = [
    ("entropy-rank0", lambda: th.entropy(SCALAR), "logits"),
    ("entropy-K1", lambda: th.entropy(ONE_K), "logits"),
    ("entropy-nan", lambda: th.entropy(NAN_Z), "logits"),
    ("entropy-inf", lambda: th.entropy(INF_Z), "logits"),
    ("entropy-int", lambda: th.entropy(INTS), "logits"),
    ("entropy-list", lambda: th.entropy([0.0, 1.0]), "logits"),
    ("centred-K1", lambda: th.centered_logprob(ONE_K), "logits"),
    ("grad-nan", lambda: th.entropy_grad(NAN_Z), "logits"),
    ("first-shape", lambda: th.first_order_entropy_change(Z, torch.zeros(2, 4, dtype=F64)),
     "delta_logits"),
    ("first-nan-delta", lambda: th.first_order_entropy_change(Z, NAN_Z.expand(2, 3)),
     "delta_logits"),
    ("second-K1", lambda: th.second_order_entropy_change(ONE_K, ONE_K), "logits"),
    ("exact-rank0-delta", lambda: th.exact_entropy_change(Z, SCALAR), "delta_logits"),
    ("step-neg-lr", lambda: th.pg_logit_step(Z, A, -0.1), "lr"),
    ("step-nan-lr", lambda: th.pg_logit_step(Z, A, float("nan")), "lr"),
    ("step-inf-lr", lambda: th.pg_logit_step(Z, A, float("inf")), "lr"),
    ("step-str-lr", lambda: th.pg_logit_step(Z, A, "0.1"), "lr"),
    ("step-geometry", lambda: th.pg_logit_step(Z, A, 0.1, "fisher"), "geometry"),
    ("step-shape", lambda: th.pg_logit_step(Z, torch.ones(3, dtype=F64), 0.1), "advantages"),
    ("step-adv-inf", lambda: th.pg_logit_step(Z, A * float("inf"), 0.1), "advantages"),
    ("pred-neg-lr", lambda: th.predicted_entropy_change(Z, A, -1.0), "lr"),
    ("pred-geometry", lambda: th.predicted_entropy_change(Z, A, 0.1, "adam"), "geometry"),
    ("pred-K1", lambda: th.predicted_entropy_change(ONE_K, ONE_K, 0.1), "logits"),
    ("beta-geometry", lambda: th.repo_beta_star(Z, A, "other"), "geometry"),
    ("beta-shape", lambda: th.repo_beta_star(Z, torch.ones(2, 2, dtype=F64)), "advantages"),
    ("beta-nan-logits", lambda: th.repo_beta_star(NAN_Z, A[:1]), "logits"),
]


@pytest.mark.parametrize("case,call,arg", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_raises_naming_the_argument(case, call, arg):
    with pytest.raises(InputError) as info:
        call()
    assert arg in str(info.value), str(info.value)
