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

from entropy_lab.passk import exact_pass_at_k, pass_at_k
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


# ---------------------------------------------------------------- exact pass@k: one definition
def test_exact_pass_at_k_hand_values_and_precision():
    p = torch.tensor([[0.1, 0.5, 1.0, 0.0]], dtype=torch.float64)
    w = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
    for k in (1, 2, 3, 256):
        want = 0.4 * (1 - 0.9**k) + 0.3 * (1 - 0.5**k) + 0.2
        assert math.isclose(float(exact_pass_at_k(p, k, w)[0]), want, rel_tol=1e-14)
    assert float(exact_pass_at_k(p, 1)[0]) == float(p.mean())       # uniform weights, pass@1 = p̄
    tiny = torch.tensor([1e-18], dtype=torch.float64)
    assert math.isclose(float(exact_pass_at_k(tiny, 4)), 4e-18, rel_tol=1e-12)
    for bad, match in (((p, 0), "k=0"), ((p, 2.5), "k=2.5"),
                       ((p, 2, w[:3]), r"weights.*\[C\] = \[4\]"),
                       ((torch.tensor(0.3), 2), "success_prob")):
        with pytest.raises(InputError, match=match):
            exact_pass_at_k(*bad)


class _StubTask:
    """Two prompts; prompt 0's correct set {(0,), (1,)}, prompt 1's {(3,)} (one-token responses)."""

    num_prompts = 2
    sets = {0: [[0], [1]], 1: [[3]]}

    def correct_set(self, param):
        return torch.tensor(self.sets[param])

    def prompt_ids(self, params):
        return params[:, None]


def test_harness_and_simulator_exact_pass_at_k_are_one_definition(monkeypatch):
    """Both worlds compute exact pass@k through entropy_lab.passk.exact_pass_at_k and agree on a
    hand-made case: π = (0.1, 0.2, 0.3, 0.4) on every prompt, so p = (0.3, 0.4)."""
    from entropy_lab import passk
    from entropy_lab.harness import metrics as harness_metrics
    from entropy_lab.problems import PromptBandit
    from entropy_lab.sim.record import snapshot

    probs = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    monkeypatch.setattr(harness_metrics, "trainer_logits", lambda model, prompt, resp, mode:
                        torch.log(probs).expand(resp.shape[0], resp.shape[1], 4))
    calls = []
    real = passk.exact_pass_at_k
    monkeypatch.setattr(passk, "exact_pass_at_k",
                        lambda *a, **kw: calls.append(a[1]) or real(*a, **kw))
    k = 5
    want = 0.5 * (1 - 0.7**k) + 0.5 * (1 - 0.6**k)
    harness = harness_metrics.exact_success(None, _StubTask(), k, torch.device("cpu"))
    assert calls == [1, k]
    bandit = PromptBandit(torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]],
                                       dtype=torch.float64))
    z = torch.log(probs).expand(1, 2, 4).clone()
    sim_problem = float(bandit.pass_at_k(z, k)[0])
    sim_frame = float(snapshot(bandit, z, k).passk[0])
    assert calls[2:] == [k, 1, k]
    for got in (harness[f"exact/pass@{k}"], sim_problem, sim_frame):
        assert math.isclose(got, want, rel_tol=1e-12)
    assert math.isclose(harness["exact/pass@1"], 0.35, rel_tol=1e-12)
