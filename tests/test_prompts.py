"""Multi-prompt bandits: the entropy ceiling, pass@k, prompt sampling and the presets."""

import itertools
import math

import numpy as np
import pytest
import torch
from ceiling_search import max_entropy_at_success

from entropy_lab.problems import PromptBandit, entropy_ceiling, get_problem
from entropy_lab.validation import InputError

F64 = torch.float64


def _small(means, weights=None, logits=None):
    means = torch.tensor(means, dtype=F64)
    w = None if weights is None else torch.tensor(weights, dtype=F64)
    return PromptBandit(means, w, init_logits=logits)


def _entropy_and_success(z_flat, mask, w):
    """numpy reference: Σ_c w_c H(softmax z_c) and Σ_c w_c π_c(correct)."""
    z = z_flat.reshape(mask.shape)
    z = z - z.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    h = -(p * np.log(np.clip(p, 1e-300, None))).sum(1)
    return float((w * h).sum()), float((w * (p * mask).sum(1)).sum())


@pytest.mark.parametrize("target", [0.05, 0.3, 0.5, 0.8, 0.97])
def test_entropy_ceiling_matches_a_numerical_optimiser(target):
    mask = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=float)
    w = np.array([0.2, 0.5, 0.3])
    ceiling = float(entropy_ceiling(target, torch.tensor(mask.sum(1)), 4, torch.tensor(w)))
    best = max_entropy_at_success(lambda x: _entropy_and_success(x, mask, w), 12, target,
                                  starts=8)
    assert best <= ceiling + 1e-7            # no policy beats the ceiling ...
    assert ceiling - best < 1e-5             # ... and the optimiser reaches it


def test_no_random_policy_exceeds_the_ceiling_and_endpoints_are_exact():
    prob = _small([[1, 0, 0, 0, 0], [1, 1, 1, 0, 0]], [0.6, 0.4])
    gen = torch.Generator().manual_seed(3)
    z = 3.0 * torch.randn(2000, 2, 5, generator=gen, dtype=F64)
    j = prob.pass_at_k(z, 1)
    assert bool((prob.entropy(z) <= prob.entropy_ceiling(j) + 1e-12).all())
    # J = 1: uniform on the correct answers; J = 0: uniform on the wrong ones.
    assert math.isclose(float(prob.entropy_ceiling(1.0)), 0.4 * math.log(3), abs_tol=1e-12)
    assert math.isclose(float(prob.entropy_ceiling(0.0)),
                        0.6 * math.log(4) + 0.4 * math.log(2), abs_tol=1e-12)
    # equal m_c: the optimum puts p_c = J on every prompt (the unconstrained maximum at J = m/K).
    same = _small([[1, 0, 0, 0]] * 3)
    assert math.isclose(float(same.entropy_ceiling(0.25)), math.log(4), abs_tol=1e-10)


def test_pass_at_k_against_enumeration_and_at_k_256():
    prob = _small([[1, 0, 0], [0, 1, 1]], [0.25, 0.75])
    z = torch.tensor([[[0.3, -1.0, 0.5], [1.2, -0.4, -2.0]]], dtype=F64)
    p = torch.softmax(z, -1)[0].tolist()
    correct = [[True, False, False], [False, True, True]]
    for k in range(1, 6):
        want = 0.0
        for c, wc in enumerate((0.25, 0.75)):
            hit = sum(math.prod(p[c][a] for a in tup)
                      for tup in itertools.product(range(3), repeat=k)
                      if any(correct[c][a] for a in tup))
            want += wc * hit
        assert math.isclose(float(prob.pass_at_k(z, k)[0]), want, rel_tol=1e-12)
    fail = [1.0 - p[0][0], 1.0 - p[1][1] - p[1][2]]
    want = 0.25 * (1 - math.prod([fail[0]] * 256)) + 0.75 * (1 - math.prod([fail[1]] * 256))
    assert math.isclose(float(prob.pass_at_k(z, 256)[0]), want, rel_tol=1e-12)


def test_batches_hold_distinct_prompts_with_inclusion_n_over_c():
    prob = get_problem("prompts-many/calibrated", num_prompts=12, num_answers=16)
    z = prob.init_logits(400)
    roll = prob.sample(z, 5, 2, torch.Generator().manual_seed(0))
    prompts = roll.prompts
    assert prompts.shape == (400, 5)
    assert all(len(set(row.tolist())) == 5 for row in prompts)
    counts = torch.bincount(prompts.flatten(), minlength=12).to(F64) / 400
    pi = 5 / 12
    assert bool(((counts - pi).abs() < 5 * math.sqrt(pi * (1 - pi) / 400)).all())
    with pytest.raises(InputError, match=r"n_prompts=13.*at most the problem's C = 12"):
        prob.sample(z, 13, 2, None)


def test_many_correct_preset_ceiling_does_not_bind():
    prob = get_problem("prompts-many/calibrated")
    z = prob.init_logits(1)
    assert prob.num_actions == 1024 and bool((prob.num_correct == 256).all())
    assert float(prob.entropy_ceiling(1.0)) > float(prob.entropy(z)[0])


def _cov(prob):
    z = prob.init_logits(1)[0]
    p, lp = torch.softmax(z, -1), torch.log_softmax(z, -1)
    mu = prob.means
    lc = lp - (p * lp).sum(-1, keepdim=True)
    return (p * lc * (mu - (p * mu).sum(-1, keepdim=True))).sum(-1)


def test_many_correct_initialisations_set_the_covariance_sign():
    assert bool((_cov(get_problem("prompts-many/calibrated")) > 0).all())
    assert float(_cov(get_problem("prompts-many/uncorrelated")).abs().max()) < 1e-12
    assert bool((_cov(get_problem("prompts-many/anti")) < 0).all())


def test_llm_preset_statistics():
    prob = get_problem("prompts-llm/calibrated")
    z = prob.init_logits(1)
    lp = torch.log_softmax(z, -1)[0]
    h = prob.state_entropy(z)[0]
    assert prob.num_prompts == 256 and prob.num_actions == 256
    assert float(lp.max(-1).values.exp().min()) >= 0.92
    assert 0.2 < float(h.min()) and float(h.max()) < 0.6
    answer = lp[prob.correct_arms]                     # one correct answer per prompt
    assert answer.shape == (256,)
    is_mode = answer == lp.max(-1).values
    assert 0.4 < float(is_mode.double().mean()) < 0.6
    tail = -answer[~is_mode]
    assert bool(((tail >= 8) & (tail <= 12)).all())
    b = prob.with_task("B")
    assert not bool((b.correct_arms & prob.correct_arms).any())   # disjoint on every prompt
    big = get_problem("prompts-llm/anti", num_prompts=1024, num_answers=1024)
    assert big.means.shape == (1024, 1024)


def test_bottleneck_preset():
    prob = get_problem("prompts-bottleneck/calibrated")
    z = prob.init_logits(1)[0]
    p = torch.softmax(z, -1)
    assert torch.allclose(p[prob.means == 0.5], torch.tensor(0.6, dtype=F64))
    assert torch.allclose(p[prob.means == 1.0], torch.tensor(math.exp(-6), dtype=F64))
    b = prob.with_task("B")
    assert not bool(((b.means > 0) & (prob.means > 0)).any())


@pytest.mark.parametrize("call, words", [
    (lambda: get_problem("prompts-many/calibrated", num_answers=1022),
     ["num_answers=1022", "multiple"]),
    (lambda: get_problem("prompts-llm/calibrated", num_answers=16),
     ["num_answers=16", "tail tokens"]),
    (lambda: get_problem("prompts-llm/uncorrelated"), ["prompts-llm/uncorrelated"]),
    (lambda: PromptBandit(torch.tensor([[0.5, 0.0, 1.0]], dtype=F64), bernoulli=True)
     .entropy_ceiling(0.5), ["0/1 correctness"]),
    (lambda: entropy_ceiling(1.5, torch.tensor([1.0]), 3, torch.tensor([1.0])),
     ["success", "[0, 1]"]),
    (lambda: entropy_ceiling(0.5, torch.tensor([3.0]), 3, torch.tensor([1.0])),
     ["num_correct", "K - 1"]),
])
def test_bad_input(call, words):
    with pytest.raises((InputError, KeyError, ValueError)) as err:
        call()
    for word in words:
        assert word in str(err.value)
