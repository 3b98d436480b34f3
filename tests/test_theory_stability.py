"""Property tests: the theory functions stay finite and correct on random and extreme logits.

Extreme means logit spreads up to 1e4 and probabilities down to 1e-300 in float64, where a
naive ``softmax(z).log()`` gives ``0·(−inf) = NaN``. The reference for the entropy is mpmath at
50 digits, written from the definition.
"""

from __future__ import annotations

import math

import mpmath
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from entropy_lab import theory as th

F64 = torch.float64
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def logit_vectors(max_k: int = 8, spread: float = 1e4):
    finite = st.floats(-spread / 2, spread / 2, allow_nan=False, allow_infinity=False)
    return st.lists(finite, min_size=2, max_size=max_k)


def extreme_vectors():
    """Logits mixing O(1) values with ones far below (π down to ~1e-300 and below, to 0)."""
    near = st.floats(-3, 3)
    far = st.floats(-1e4, -690.0)
    return st.lists(st.one_of(near, far), min_size=2, max_size=8).filter(
        lambda xs: any(x > -690.0 for x in xs)
    )


def mp_logp(zs: list) -> list:
    """log π at the working precision: log π_a = (z_a − z_top) − log1p(Σ_{b≠top} e^{z_b − z_top}).

    (The log1p form keeps log π_top ≈ −Σ_{b≠top} π_b exact at any spread.)
    """
    top = max(range(len(zs)), key=lambda a: zs[a])
    rest = mpmath.fsum(mpmath.exp(x - zs[top]) for a, x in enumerate(zs) if a != top)
    return [x - zs[top] - mpmath.log1p(rest) for x in zs]


def mp_entropy(z: list[float]) -> float:
    with mpmath.workdps(50):
        logp = mp_logp([mpmath.mpf(x) for x in z])
        return float(-mpmath.fsum(mpmath.exp(lp) * lp for lp in logp))


def all_outputs(z: torch.Tensor, dz: torch.Tensor, adv: torch.Tensor) -> list[torch.Tensor]:
    return [
        th.entropy(z),
        th.centered_logprob(z),
        th.entropy_grad(z),
        th.first_order_entropy_change(z, dz),
        th.second_order_entropy_change(z, dz),
        th.exact_entropy_change(z, dz),
        th.pg_logit_step(z, adv, 0.5, "vanilla"),
        th.pg_logit_step(z, adv, 0.5, "natural"),
        th.predicted_entropy_change(z, adv, 0.5, "vanilla"),
        th.predicted_entropy_change(z, adv, 0.5, "natural"),
        th.repo_beta_star(z, adv, "vanilla"),
        th.repo_beta_star(z, adv, "natural"),
    ]


@SETTINGS
@given(z=st.one_of(logit_vectors(), extreme_vectors()), dtype=st.sampled_from([F64, torch.float32]))
def test_everything_finite_and_entropy_in_range(z, dtype):
    zt = torch.tensor(z, dtype=dtype)
    k = zt.shape[-1]
    dz = torch.linspace(-1.0, 1.0, k, dtype=dtype)
    adv = torch.linspace(1.0, -2.0, k, dtype=dtype)
    for out in all_outputs(zt, dz, adv):
        assert out.dtype == dtype
        assert bool(torch.isfinite(out).all()), out
    h = th.entropy(zt).item()
    assert -1e-6 <= h <= math.log(k) + 1e-6
    # Shift invariance of π makes the gradient sum to zero; L is centred under π.
    grad = th.entropy_grad(zt).to(F64)
    assert abs(float(grad.sum())) <= 1e-5 * (1 + float(grad.abs().sum()))


@SETTINGS
@given(z=st.one_of(logit_vectors(), extreme_vectors()))
def test_float64_entropy_matches_50_digit_reference(z):
    got = th.entropy(torch.tensor(z, dtype=F64)).item()
    ref = mp_entropy(z)
    assert abs(got - ref) <= 1e-13 * ref + 1e-310, (got, ref)  # relative, even for tiny H


@SETTINGS
@given(z=extreme_vectors())
def test_float32_entropy_close_to_float64(z):
    h32 = th.entropy(torch.tensor(z, dtype=torch.float32)).item()
    h64 = th.entropy(torch.tensor(z, dtype=F64)).item()
    assert abs(h32 - h64) <= 1e-5 * (1 + h64)


def test_probabilities_down_to_1e_300_and_exact_zero():
    # π_1 ≈ 1e-300 (log ≈ −690.8) stays representable; π_2 underflows to 0 and must add 0·log 0.
    z = torch.tensor([0.0, math.log(1e-300), -1e4], dtype=F64)
    p = torch.softmax(z, -1)
    assert p[1] > 0 and p[2] == 0
    h = th.entropy(z).item()
    assert abs(h - mp_entropy(z.tolist())) <= 1e-15 * h
    assert h > 0  # the 1e-300 term (≈ 6.9e-298) is kept, not flushed
    # 0·log 0 = 0: appending an impossible action changes nothing.
    z2 = torch.tensor([0.0, 1.0, -2.0], dtype=F64)
    z3 = torch.tensor([0.0, 1.0, -2.0, -1e4], dtype=F64)
    assert th.entropy(z3).item() == th.entropy(z2).item()
    assert th.entropy_grad(z3)[-1].item() == 0.0


def test_spread_1e4_both_dtypes():
    for dtype in (F64, torch.float32):
        z = torch.tensor([[5e3, -5e3, 0.0], [1e4, 1e4, 0.0]], dtype=dtype)
        h = th.entropy(z)
        assert h[0].item() == 0.0
        assert abs(h[1].item() - math.log(2)) < 1e-6
        assert bool(torch.isfinite(th.second_order_entropy_change(z, torch.ones_like(z))).all())


def mp_entropy_change(z: list[float], dz: list[float]) -> float:
    """H(z + Δz) − H(z) at 60 digits, z + Δz formed exactly."""
    with mpmath.workdps(60):

        def h(v):
            return -mpmath.fsum(mpmath.exp(lp) * lp for lp in mp_logp(v))

        zs, ds = [mpmath.mpf(x) for x in z], [mpmath.mpf(x) for x in dz]
        return float(h([a + b for a, b in zip(zs, ds)]) - h(zs))


def test_exact_change_keeps_relative_precision_for_tiny_steps():
    gen = torch.Generator().manual_seed(5)
    for scale in (1e-14, 1e-12, 1e-8, 1e-4, 1e-1, 0.9, 3.0, 100.0, 1e4):
        z = 2 * torch.randn(6, generator=gen, dtype=F64)
        dz = scale * torch.randn(6, generator=gen, dtype=F64)
        ref = mp_entropy_change(z.tolist(), dz.tolist())
        got = th.exact_entropy_change(z, dz).item()
        assert abs(got - ref) <= 1e-12 * abs(ref), (scale, got, ref)


@SETTINGS
@given(
    z=st.one_of(logit_vectors(max_k=6), extreme_vectors()),
    log_scale=st.floats(-14, 4),
    seed=st.integers(0, 2**16),
)
def test_exact_change_matches_60_digit_reference(z, log_scale, seed):
    gen = torch.Generator().manual_seed(seed)
    zt = torch.tensor(z, dtype=F64)
    dz = 10.0**log_scale * torch.randn(zt.shape, generator=gen, dtype=F64)
    got = th.exact_entropy_change(zt, dz).item()
    ref = mp_entropy_change(z, dz.tolist())
    # Rounding scale: the size of the summands, E_π[|c|(1 + |L|)] (their sum may cancel).
    p = torch.softmax(zt, -1)
    c = dz - (p * dz).sum()
    scale = abs(ref) + float((p * c.abs() * (1 + th.centered_logprob(zt).abs())).sum())
    scale += float((p * c * c).sum())
    if float(c.abs().max()) > 20:  # very large steps: difference of two entropies
        scale += 1e-3 * float(th.entropy(zt) + th.entropy(zt + dz))
    assert abs(got - ref) <= 1e-11 * scale + 1e-310, (got, ref, scale)  # subnormals
