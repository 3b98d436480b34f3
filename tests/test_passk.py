"""pass@k estimator: exact combinatorics (math.comb), its subset definition, and bad input.

pass@k(n, c, k) is the probability that a uniformly random k-subset of n samples, c of them
correct, holds at least one correct sample. The references below compute exactly that, by
fractions of binomials and by enumerating or sampling subsets.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from entropy_lab.passk import pass_at_k
from entropy_lab.validation import InputError


def comb_reference(n: int, c: int, k: int) -> float:
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def test_matches_binomial_fractions_on_a_grid():
    for n in range(1, 25):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(comb_reference(n, c, k), abs=1e-13)


def test_large_n_matches_binomials():
    for n, c, k in [(200, 3, 50), (1000, 1, 1), (1000, 999, 2), (500, 17, 100), (5000, 5, 4000)]:
        assert pass_at_k(n, c, k) == pytest.approx(comb_reference(n, c, k), rel=1e-8, abs=1e-15)


def test_small_pass_rate_at_very_large_n_keeps_relative_accuracy():
    # C(n-1, 1)/C(n, 1) = (n-1)/n, so pass@1 with one correct sample is exactly 1/n.
    for n in (10**3, 10**6, 10**7):
        assert pass_at_k(n, 1, 1) == pytest.approx(1 / n, rel=1e-8)


def test_equals_subset_enumeration():
    n = 7
    for c in range(n + 1):
        correct = set(range(c))
        for k in range(1, n + 1):
            subsets = list(itertools.combinations(range(n), k))
            hit = sum(bool(correct.intersection(s)) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(hit, abs=1e-13)


def test_monte_carlo_over_random_subsets():
    rng = np.random.default_rng(7)
    n, c, k, draws = 60, 4, 10, 20000
    hits = np.array([rng.choice(n, size=k, replace=False).min() < c for _ in range(draws)])
    se = hits.std(ddof=1) / math.sqrt(draws)
    assert abs(hits.mean() - pass_at_k(n, c, k)) < 4 * se


def test_edges_and_pass_at_1():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 6, 5) == 1.0  # n − c < k: every subset holds a correct sample
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3, abs=1e-15)


def test_vectorised_broadcasting_and_input_types():
    n = np.array([10, 20, 30])
    c = np.array([[1], [5]])
    out = pass_at_k(n, c, 3)
    assert out.shape == (2, 3) and out.dtype == np.float64
    for i, cc in enumerate([1, 5]):
        for j, nn in enumerate([10, 20, 30]):
            assert out[i, j] == pytest.approx(comb_reference(nn, cc, 3), abs=1e-13)
    t = pass_at_k(torch.tensor([8, 8]), torch.tensor([2, 0]), torch.tensor([2, 2]))
    np.testing.assert_allclose(t, [comb_reference(8, 2, 2), 0.0], atol=1e-13)
    assert isinstance(pass_at_k(5.0, 2.0, 1.0), float)


BAD = [
    ("n-zero", (0, 0, 1), "n"),
    ("c-negative", (5, -1, 1), "c"),
    ("c-above-n", (5, 6, 1), "c"),
    ("k-zero", (5, 1, 0), "k"),
    ("k-above-n", (5, 1, 6), "k"),
    ("n-fraction", (5.5, 1, 1), "n"),
    ("c-nan", (5, float("nan"), 1), "c"),
    ("k-string", (5, 1, "2"), "k"),
    ("c-array-above-n", (np.array([3, 4]), np.array([1, 5]), 1), "c"),
]


@pytest.mark.parametrize("case,args,arg", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_argument(case, args, arg):
    with pytest.raises(InputError) as info:
        pass_at_k(*args)
    assert str(info.value).startswith(f"{arg}="), str(info.value)
