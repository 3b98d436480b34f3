"""Inverse-CDF sampling by binary search: the draws of a comparison count, right frequencies."""

import pytest
import torch
from scipy import stats

from entropy_lab.commands.bench import load
from entropy_lab.problems import get_problem, sample_categorical
from entropy_lab.project import project_root

pytestmark = pytest.mark.usefixtures("one_thread")


# The previous O(K) sampler, kept as the reference in the benchmark that times the two.
count_sample = load("sampling", project_root() / "benchmarks" / "bench_sampling.py").count_sample


@pytest.mark.parametrize("draws", [None, 1, 16])
@pytest.mark.parametrize("k", [2, 7, 64])
def test_search_gives_bitwise_the_draws_of_a_comparison_count(draws, k):
    g = torch.Generator().manual_seed(k)
    logits = 3.0 * torch.randn(5, 3, k, generator=g, dtype=torch.float64)
    logits[..., 0] = -torch.inf  # zero-probability entries give runs of equal CDF values
    logits[0, 0, 1:-1] = -torch.inf  # a row with only the last action possible
    probs = torch.softmax(logits, -1)
    got = sample_categorical(probs, torch.Generator().manual_seed(7), draws=draws)
    ref = count_sample(probs, torch.Generator().manual_seed(7), draws=draws)
    assert got.dtype == torch.int64 and got.shape == ref.shape
    assert torch.equal(got, ref)
    assert bool((probs.gather(-1, got.reshape(5, 3, -1)) > 0).all())


def test_search_frequencies_pass_a_chi_square_test():
    # Decision rule fixed before running: reject at p < 1e-3 (fixed seed, 200k draws, K = 10).
    probs = torch.tensor([0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.03, 0.015, 0.005],
                         dtype=torch.float64)
    n = 200_000
    idx = sample_categorical(probs.expand(n // 100, 10), torch.Generator().manual_seed(3),
                             draws=100)
    counts = torch.bincount(idx.reshape(-1), minlength=10).double()
    _, p_value = stats.chisquare(counts.numpy(), (n * probs).numpy())
    assert p_value > 1e-3, (counts.tolist(), p_value)


def test_bandit_rollouts_are_unchanged_by_the_search():
    problem = get_problem("bandit64/calibrated")
    logits = problem.init_logits(4, torch.Generator().manual_seed(0))
    got = problem.sample(logits, 2, 16, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    prompts = count_sample(problem.prompt_probs.expand(4, 2, problem.num_prompts), g)
    p_bnk = torch.softmax(logits, -1).gather(1, prompts[..., None].expand(-1, -1, 64))
    actions = count_sample(p_bnk, g, draws=16)
    assert torch.equal(got.prompts, prompts) and torch.equal(got.actions[..., 0], actions)
