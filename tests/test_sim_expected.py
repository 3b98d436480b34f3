"""Expected mode: the binomial conditioning of group advantages, against independent formulas
(exact tier) and against the mean of many sampled updates (statistical tier)."""

from math import comb

import numpy as np
import pytest
import torch

from entropy_lab.algorithms import get_preset
from entropy_lab.sim import SimConfig, run
from entropy_lab.sim.expected import canonical_group_advantages, group_binary_weight

pytestmark = pytest.mark.usefixtures("one_thread")


def grpo_weight_by_hand(p: float, g: int, eps: float = 1e-6) -> float:
    """Σ_c Binom(c; G, p)·(1/G)·[c·a⁺(c)/p − (G − c)·a⁻(c)/(1 − p)], GRPO written out:
    a group with c ones has mean c/G and unbiased std sqrt(c(G − c)/(G(G − 1)))."""
    total = 0.0
    for c in range(g + 1):
        std = (c * (g - c) / (g * (g - 1))) ** 0.5
        a_pos = (1 - c / g) / (std + eps)
        a_neg = (0 - c / g) / (std + eps)
        weight = comb(g, c) * p**c * (1 - p) ** (g - c) / g
        total += weight * (c * a_pos / p - (g - c) * a_neg / (1 - p))
    return total


@pytest.mark.parametrize("g", [2, 5, 8, 16])
def test_grpo_weight_matches_the_sum_over_correct_counts(g):
    algo = get_preset("grpo")
    a_pos, a_neg = canonical_group_advantages(algo.advantages, g)
    p = torch.tensor([0.03, 0.3, 0.5, 0.9], dtype=torch.float64)
    mine = group_binary_weight(p, a_pos, a_neg)
    ref = [grpo_weight_by_hand(float(x), g) for x in p]
    assert np.allclose(mine.numpy(), ref, rtol=1e-12)


@pytest.mark.parametrize("preset, expected", [("rloo", lambda g: 1.0),
                                              ("dr_grpo", lambda g: (g - 1) / g)])
def test_baselines_independent_of_the_sample_are_unbiased(preset, expected):
    """E[A·∇log π] = c·∇J: RLOO (leave-one-out) is unbiased, Dr.GRPO (mean including the sample
    itself) shrinks the gradient by (G − 1)/G — the weight must be constant in p."""
    algo = get_preset(preset)
    p = torch.linspace(0.0, 1.0, 11, dtype=torch.float64)
    for g in (2, 4, 9):
        a_pos, a_neg = canonical_group_advantages(algo.advantages, g)
        assert torch.allclose(group_binary_weight(p, a_pos, a_neg),
                              torch.full_like(p, expected(g)), atol=1e-13)


def test_grpo_weight_is_finite_at_the_ends_with_the_one_lone_sample_limit():
    """p → 0: only groups where the sample is the single correct one count, w = a⁺(1) − a⁻(0)
    = (1 − 1/G)/(sqrt(1/G) + ε) (an all-zero group has advantage 0); p → 1 mirrors it."""
    g, eps = 8, 1e-6
    a_pos, a_neg = canonical_group_advantages(get_preset("grpo").advantages, g)
    w = group_binary_weight(torch.tensor([0.0, 1.0], dtype=torch.float64), a_pos, a_neg)
    lone = (1 - 1 / g) / ((1 / g) ** 0.5 + eps)
    assert torch.allclose(w, torch.tensor([lone, lone], dtype=torch.float64), rtol=1e-12)


@pytest.mark.parametrize("pid, overrides", [
    ("bandit/calibrated", {}),
    ("cbandit/anti", {}),
    ("tree/calibrated", {"problem.vocab_size": 3, "problem.horizon": 3, "problem.num_correct": 4}),
])
def test_expected_grpo_step_is_the_mean_of_sampled_steps(pid, overrides):
    """One SGD step (lr = 1) from identical initial logits: the exact expected step against the
    mean over many seeds of the sampled step (each seed is an independent batch), per logit,
    with a 4.5-standard-error tolerance (a few dozen logits: family-wise false alarm < 1e-3)."""
    n_seeds = 6000
    base = SimConfig(steps=1, lr=1.0, n_prompts=2, group_size=6, k=1)
    kw = dict(minibatches=1, loss="pg", **overrides)
    sampled = run(pid, "grpo", base.replace(seeds=n_seeds), **kw)
    exact = run(pid, "grpo", base.replace(seeds=1, mode="expected"), **kw)
    from entropy_lab.problems import get_problem

    prob_kw = {k.split(".", 1)[1]: v for k, v in overrides.items()}
    z0 = get_problem(pid, **prob_kw).init_logits(1)
    steps = sampled.logits - z0
    mean = steps.mean(0)
    se = steps.std(0) / n_seeds**0.5
    exact_step = (exact.logits - z0)[0]
    moving = se > 0
    assert moving.any()
    z = (mean - exact_step)[moving] / se[moving]
    assert z.abs().max() < 4.5, z.abs().max()
    # logits that no sample can move (unreachable prefixes) must not move in expectation either
    assert torch.allclose(exact_step[~moving], torch.zeros_like(exact_step[~moving]), atol=1e-15)
    assert exact_step.abs().max() > 0
