"""Theorem 2: the exact identity, the concavity proof of the lower end, both bound forms on random
ratio-bounded pairs, the sharpness family, the searches, and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from entropy_lab import theory as th
from entropy_lab.theory import clip_bounds as cb
from entropy_lab.validation import InputError

F64 = torch.float64


def random_ratio_pairs(n, k, eps_low, eps_high, gen, peaked=4.0):
    """(π, r) with every r in [1 − ε_low, 1 + ε_high] and Σ r·π = 1, by rejection.

    r − 1 is drawn uniformly in the band, then its π-mean is removed (so Σ r·π = 1 exactly);
    rows that leave the band are dropped.
    """
    p = torch.softmax(peaked * torch.randn(n, k, generator=gen, dtype=F64), -1)
    r = (1 - eps_low) + (eps_low + eps_high) * torch.rand(n, k, generator=gen, dtype=F64)
    u = r - 1
    u = u - (p * u).sum(-1, keepdim=True)
    r = 1 + u
    ok = ((r >= 1 - eps_low) & (r <= 1 + eps_high)).all(-1)
    return p[ok], r[ok]


@pytest.mark.parametrize("k", [2, 3, 7, 50])
def test_identity_holds_exactly(k, gen):
    p, r = random_ratio_pairs(400, k, 0.2, 0.28, gen)
    assert p.shape[0] > 10
    t = cb.ratio_entropy_terms(p, r)
    torch.testing.assert_close(t.entropy_new, t.weighted - t.kl, rtol=1e-13, atol=1e-15)
    # the independent pieces: H(π) via the logits path of theory.entropy
    torch.testing.assert_close(t.entropy_old, th.entropy(p.log()), rtol=1e-13, atol=1e-15)


def test_identity_with_zero_probabilities():
    p = torch.tensor([[0.5, 0.5, 0.0]], dtype=F64)
    r = torch.tensor([[1.2, 0.8, 1.1]], dtype=F64)
    t = cb.ratio_entropy_terms(p, r)
    expected = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert t.entropy_new.item() == pytest.approx(expected, rel=1e-15)
    assert t.entropy_new.item() == pytest.approx((t.weighted - t.kl).item(), rel=1e-14)


@pytest.mark.parametrize("eps_low,eps_high", [(0.2, 0.28), (0.2, 0.2), (0.5, 1.0), (0.9, 3.0)])
@pytest.mark.parametrize("peaked", [0.5, 4.0, 15.0])
def test_both_forms_bound_random_ratio_bounded_pairs(eps_low, eps_high, peaked, gen):
    p, r = random_ratio_pairs(3000, 6, eps_low, eps_high, gen, peaked)
    t = cb.ratio_entropy_terms(p, r)
    for form in ("paper", "rigorous"):
        lo, hi = th.entropy_bounds_under_ratio_clip(t.entropy_old, eps_low, eps_high, form)
        assert bool((t.entropy_new >= lo - 1e-12).all()), form
        assert bool((t.entropy_new <= hi + 1e-12).all()), form
    # proof (2): H(π_new) ≥ (1 − ε_low)H + ε_low H(q) with the band's own ε_low.
    t2 = cb.ratio_entropy_terms(p, r, eps_low=eps_low)
    slack = t2.entropy_new - (1 - eps_low) * t2.entropy_old - eps_low * t2.mixture_entropy
    assert bool((slack >= -1e-12).all())


def test_rigorous_lower_end_is_looser_than_paper():
    lo_p, _ = th.entropy_bounds_under_ratio_clip(1.5, 0.2, 0.28, "paper")
    lo_r, hi_r = th.entropy_bounds_under_ratio_clip(1.5, 0.2, 0.28, "rigorous")
    assert lo_p == pytest.approx(1.2)
    assert lo_r == pytest.approx(1.2 - math.log(1.28))
    assert hi_r == pytest.approx(1.5 * 1.28)
    assert th.entropy_bounds_under_ratio_clip(0.1, 0.2, 0.28, "rigorous")[0] == 0.0


def test_tensor_input_keeps_shape_and_dtype():
    h = torch.rand(3, 4, dtype=torch.float32)
    lo, hi = th.entropy_bounds_under_ratio_clip(h, 0.2, 0.28, "rigorous")
    assert lo.shape == hi.shape == (3, 4) and lo.dtype == hi.dtype == torch.float32


def test_paper_constants_are_sharp():
    deltas = [1e-2, 1e-8, 1e-50, 1e-300]
    low = cb.sharp_family_ratio(0.2, deltas, "lower")
    high = cb.sharp_family_ratio(0.28, deltas, "upper")
    # Monotone approach from inside the band to its ends.
    assert all(a > b > 0.8 for a, b in zip(low, low[1:]))
    assert all(a < b < 1.28 for a, b in zip(high, high[1:]))
    assert low[-1] - 0.8 < 1e-3 and 1.28 - high[-1] < 1e-3
    # independent evaluation of one member through ratio_entropy_terms (δ = 1e-2)
    d = 1e-2
    p = torch.tensor([[1 - d, d / 2, d / 2]], dtype=F64)
    r = torch.tensor([[(1 - 0.8 * d) / (1 - d), 0.8, 0.8]], dtype=F64)
    t = cb.ratio_entropy_terms(p, r)
    assert (t.entropy_new / t.entropy_old).item() == pytest.approx(low[0], rel=1e-12)


def test_searches_find_no_violation_and_stay_feasible(gen):
    for k in (2, 3):
        res = cb.grid_search_entropy_ratio(k, 0.2, 0.28, n_probs=30, n_ratios=20)
        assert 0.8 <= res.min_ratio and res.max_ratio <= 1.28 and res.evaluated > 100
    res = cb.optimise_entropy_ratio(4, 0.2, 0.28, starts=4, generator=gen)
    assert 0.8 - 1e-9 <= res.min_ratio < 0.9 and 1.15 < res.max_ratio <= 1.28 + 1e-9
    p, r = (torch.tensor(x, dtype=F64) for x in res.argmin)
    assert abs(float((p * r).sum()) - 1) < 1e-12
    assert bool(((r >= 0.8 - 1e-9) & (r <= 1.28 + 1e-9)).all())


BAD = [
    (lambda: th.entropy_bounds_under_ratio_clip(1.0, 0.2, 0.28, "tight"), "form"),
    (lambda: th.entropy_bounds_under_ratio_clip(1.0, 1.5, 0.28), "eps_low"),
    (lambda: th.entropy_bounds_under_ratio_clip(1.0, -0.1, 0.28), "eps_low"),
    (lambda: th.entropy_bounds_under_ratio_clip(1.0, 0.2, float("inf")), "eps_high"),
    (lambda: th.entropy_bounds_under_ratio_clip(-1.0, 0.2, 0.28), "entropy"),
    (lambda: th.entropy_bounds_under_ratio_clip(torch.tensor([-1.0]), 0.2, 0.28), "entropy"),
    (lambda: th.entropy_bounds_under_ratio_clip(torch.tensor([float("nan")]), 0.2, 0.2),
     "entropy"),
    (lambda: cb.ratio_entropy_terms(torch.tensor([0.5, 0.6]), torch.ones(2)), "probs"),
    (lambda: cb.ratio_entropy_terms(torch.tensor([0.5, 0.5]), torch.tensor([1.5, 1.0])),
     "ratios"),
    (lambda: cb.ratio_entropy_terms(torch.tensor([0.5, 0.5]), torch.ones(3)), "ratios"),
    (lambda: cb.ratio_entropy_terms(
        torch.tensor([0.5, 0.5], dtype=F64), torch.tensor([0.7, 1.3], dtype=F64), 0.2
    ), "eps_low"),
    (lambda: cb.sharp_family_ratio(0.2, [1e-3], "middle"), "side"),
    (lambda: cb.grid_search_entropy_ratio(4, 0.2, 0.28), "k"),
]


@pytest.mark.parametrize("call,arg", BAD)
def test_bad_input_names_the_argument(call, arg):
    with pytest.raises(InputError, match=arg):
        call()
