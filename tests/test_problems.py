"""Bandits, the shared interface, presets and the bad-input table of entropy_lab.problems."""

import math

import pytest
import torch

from entropy_lab.problems import (
    Bandit,
    ContextualBandit,
    TabularMDP,
    TokenTree,
    get_problem,
    problem_names,
)
from entropy_lab.validation import InputError

F64 = torch.float64


# ------------------------------------------------------------------ exact tier: bandits
def test_bandit_hand_computed_numbers():
    # π = (0.5, 0.3, 0.2), arms 0 and 2 correct: J = 0.7, pass@2 = 1 − 0.3² = 0.91
    bandit = Bandit(torch.tensor([1.0, 0.0, 1.0], dtype=F64))
    z = torch.log(torch.tensor([[[0.5, 0.3, 0.2]]], dtype=F64))
    torch.testing.assert_close(bandit.expected_reward(z), torch.tensor([0.7], dtype=F64))
    torch.testing.assert_close(bandit.pass_at_k(z, 2), torch.tensor([0.91], dtype=F64))
    h = -(0.5 * math.log(0.5) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2))
    torch.testing.assert_close(bandit.entropy(z), torch.tensor([h], dtype=F64))
    torch.testing.assert_close(bandit.sequence_entropy(z), torch.tensor([h], dtype=F64))
    # ∂J/∂z_a = π_a (μ_a − J)
    expect = torch.tensor([[[0.5 * 0.3, 0.3 * -0.7, 0.2 * 0.3]]], dtype=F64)
    torch.testing.assert_close(bandit.grad_J(z), expect)


def test_bernoulli_success_is_the_mean():
    bandit = Bandit(torch.tensor([0.9, 0.2], dtype=F64), bernoulli=True)
    z = torch.zeros(1, 1, 2, dtype=F64)
    torch.testing.assert_close(bandit.success_prob(z), torch.tensor([[0.55]], dtype=F64))


@pytest.mark.parametrize("pid", ["bandit/calibrated", "cbandit/anti", "tree/calibrated",
                                 "mdp/uncorrelated"])
def test_closed_form_grad_equals_autograd(pid, gen):
    problem = get_problem(pid)
    z = problem.init_logits(2) + 0.3 * torch.randn(2, problem.num_states, problem.num_actions,
                                                   generator=gen, dtype=F64)
    zz = z.clone().requires_grad_(True)
    (g_auto,) = torch.autograd.grad(problem.expected_reward(zz).sum(), zz)
    torch.testing.assert_close(problem.grad_J(z), g_auto, rtol=1e-10, atol=1e-14)


def test_cbandit_visits_are_prompt_weights_and_grad_matches_fd(gen):
    cb = ContextualBandit(torch.rand(3, 4, generator=gen, dtype=F64),
                          torch.tensor([0.5, 0.3, 0.2], dtype=F64), bernoulli=True)
    z = torch.randn(2, 3, 4, generator=gen, dtype=F64)
    torch.testing.assert_close(cb.visits(z), torch.tensor([[0.5, 0.3, 0.2]] * 2, dtype=F64))
    g = cb.grad_J(z)
    e = torch.zeros_like(z)
    e[:, 1, 2] = 1e-6
    fd = (cb.expected_reward(z + e) - cb.expected_reward(z - e)) / 2e-6
    torch.testing.assert_close(g[:, 1, 2], fd, rtol=1e-6, atol=1e-12)


def test_logprobs_gather_mask_and_gradient(gen):
    problem = get_problem("cbandit/calibrated")
    z = problem.init_logits(2).requires_grad_(True)
    roll = problem.sample(z, 3, 5, gen)
    logp = problem.logprobs(z, roll)
    ref = torch.log_softmax(z, -1)[torch.arange(2)[:, None, None, None], roll.states,
                                   roll.actions]
    torch.testing.assert_close(logp, ref)
    logp.sum().backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0
    masked = type(roll)(roll.prompts, roll.states, roll.actions, torch.zeros_like(roll.mask))
    assert float(problem.logprobs(z, masked).detach().abs().max()) == 0.0


def test_init_logits_replicas_and_noise():
    problem = get_problem("bandit/calibrated", init_noise=0.1)
    same = problem.init_logits(3)
    assert same.shape == (3, 1, 8) and same.dtype == F64
    assert torch.equal(same[0], same[2])
    noisy = problem.init_logits(3, torch.Generator().manual_seed(0))
    assert not torch.equal(noisy[0], noisy[1])


# ------------------------------------------------------------------ statistical tier
def test_bandit_sampling_matches_exact():
    problem = get_problem("cbandit/uncorrelated", bernoulli=True, reward_hi=0.8, reward_lo=0.1)
    z = problem.init_logits(2)
    g = torch.Generator().manual_seed(9)
    n, gs = 2000, 8
    roll = problem.sample(z, n, gs, g)
    freq_c = torch.stack([(roll.prompts == c).double().mean(-1) for c in range(4)], -1)
    w = problem.prompt_probs
    assert bool(((freq_c - w).abs() < 5 * (w * (1 - w) / n).sqrt()).all())
    r = problem.reward(roll, g)
    J = problem.expected_reward(z)
    se = r.std((1, 2)) / math.sqrt(n * gs)
    assert bool(((r.mean((1, 2)) - J).abs() < 5 * se).all())
    hit = problem.correct(roll, r).double().mean((1, 2))
    p1 = problem.pass_at_k(z, 1)
    assert bool(((hit - p1).abs() < 5 * (p1 * (1 - p1) / (n * gs)).sqrt()).all())


def test_sampling_is_reproducible_with_a_generator():
    problem = get_problem("tree/calibrated")
    z = problem.init_logits(2)
    a = problem.sample(z, 4, 3, torch.Generator().manual_seed(1))
    b = problem.sample(z, 4, 3, torch.Generator().manual_seed(1))
    assert torch.equal(a.actions, b.actions)


# ------------------------------------------------------------------ presets
@pytest.mark.parametrize("pid", problem_names())
def test_every_preset_builds_and_has_task_b(pid):
    if pid.startswith("tree8x6"):
        pytest.skip("large variant; exercised by the benchmark")
    problem = get_problem(pid)
    assert problem.name == pid and problem.task == "A"
    z = problem.init_logits(2)
    assert z.shape == (2, problem.num_states, problem.num_actions)
    for value in (problem.entropy(z), problem.expected_reward(z), problem.pass_at_k(z, 8)):
        assert value.shape == (2,) and bool(torch.isfinite(value).all())
    torch.testing.assert_close(problem.prompt_probs.sum(), torch.tensor(1.0, dtype=F64))
    b = problem.with_task("B")
    assert b.task == "B" and b.with_task("A").task == "A"
    assert torch.equal(b.init_logits(1), problem.init_logits(1))
    assert not torch.equal(b.action_values(z), problem.action_values(z))  # another reward


def _state_covariances(problem):
    """Cov_π(log π, Q) per state at the initial logits, with the visit weights. [S], [S]."""
    z = problem.init_logits(1)
    p = torch.softmax(z, -1)[0]
    logp = torch.log_softmax(z, -1)[0]
    q = problem.action_values(z)[0]
    cov = (p * (logp - (p * logp).sum(-1, keepdim=True)) * (q - (p * q).sum(-1, keepdim=True)))
    return cov.sum(-1), problem.visits(z)[0]


@pytest.mark.parametrize("family", ["bandit", "bandit64", "cbandit", "tree"])
def test_initialisations_set_the_sign_of_cov_logp_q_at_every_state(family):
    cal, w = _state_covariances(get_problem(f"{family}/calibrated"))
    unc, _ = _state_covariances(get_problem(f"{family}/uncorrelated"))
    anti, w_anti = _state_covariances(get_problem(f"{family}/anti"))
    live = cal.abs() > 1e-300  # prefixes off every correct path have Q ≡ 0
    assert bool((cal[live] > 0).all()) and bool((anti[anti.abs() > 1e-300] < 0).all())
    assert float(unc.abs().max()) < 1e-12
    assert float((w * cal).sum()) > 0 > float((w_anti * anti).sum())


def test_mdp_initialisations_sign_on_average():
    unc, _ = _state_covariances(get_problem("mdp/uncorrelated"))
    assert float(unc.abs().max()) < 1e-13
    for mode, sign in (("calibrated", 1), ("anti", -1)):
        cov, w = _state_covariances(get_problem(f"mdp/{mode}"))
        assert sign * float((w * cov).sum()) > 0


def test_tree_preset_is_llm_like():
    tree = get_problem("tree/calibrated")
    z = tree.init_logits(1)
    assert float(tree.pass_at_k(z, 1)[0]) < 0.2 < 0.9 < float(tree.pass_at_k(z, 64)[0])


def test_overrides_change_sizes_and_seed():
    tree = get_problem("tree/calibrated", vocab_size=3, horizon=3, num_correct=2, seed=4)
    assert tree.num_states == 13 and float(tree.leaf_rewards.sum()) == 2.0
    other = get_problem("tree/calibrated", vocab_size=3, horizon=3, num_correct=2, seed=5)
    assert not torch.equal(tree.leaf_rewards, other.leaf_rewards)
    assert tree.with_task("B").num_states == 13


# ------------------------------------------------------------------ bad input
def _mdp(**kw):
    p = torch.full((2, 2, 2), 0.5, dtype=F64)
    args = {"transitions": p, "rewards": torch.zeros(2, 2, dtype=F64), "horizon": 2,
            "initial": torch.tensor([1.0, 0.0], dtype=F64)}
    args.update(kw)
    return TabularMDP(args.pop("transitions"), args.pop("rewards"), args.pop("horizon"),
                      args.pop("initial"), **args)


BANDIT = Bandit(torch.tensor([1.0, 0.0, 0.0], dtype=F64))
BAD_P = torch.full((2, 2, 2), 0.5, dtype=F64)
BAD_P[1, 0] = torch.tensor([0.5, 0.6], dtype=F64)

BAD_INPUTS = {
    "logits rank": (lambda: BANDIT.entropy(torch.zeros(1, 3, dtype=F64)),
                    ["logits=", "shape=[1, 3]", "rank 3", "[B, S, K] = [B, 1, 3]"]),
    "logits shape": (lambda: BANDIT.expected_reward(torch.zeros(2, 1, 4, dtype=F64)),
                     ["logits=", "shape=[2, 1, 4]", "[B, S, K] = [B, 1, 3]"]),
    "logits non-finite": (lambda: BANDIT.grad_J(torch.tensor([[[0.0, math.nan, 1.0]]])),
                          ["logits", "1 non-finite", "expected all finite"]),
    "logits integer": (lambda: BANDIT.visits(torch.zeros(1, 1, 3, dtype=torch.int64)),
                       ["logits=", "int64", "floating-point"]),
    "bandit K < 2": (lambda: Bandit(torch.tensor([1.0])), ["means=", "shape=[1, 1]", "K >= 2"]),
    "bernoulli mean > 1": (lambda: Bandit(torch.tensor([1.5, 0.0]), bernoulli=True),
                           ["means=", "Bernoulli means in [0, 1]"]),
    "tree V < 2": (lambda: TokenTree(1, 3, torch.zeros(1)), ["vocab_size=1", ">= 2"]),
    "tree horizon < 1": (lambda: TokenTree(3, 0, torch.zeros(1)), ["horizon=0", ">= 1"]),
    "tree rewards shape": (lambda: TokenTree(2, 2, torch.zeros(3)),
                           ["leaf_rewards=", "shape=[3]", "[V^T] = [4]"]),
    "tree too large": (lambda: TokenTree(10, 9, torch.zeros(1)),
                       ["vocab_size**horizon=1000000000", "at most 50,000,000"]),
    "tree bad token": (lambda: TokenTree.from_correct(3, 2, [[0, 3]]),
                       ["sequences=", "tokens in [0, 3)"]),
    "mdp horizon < 1": (lambda: _mdp(horizon=0), ["horizon=0", ">= 1"]),
    "mdp rows": (lambda: _mdp(transitions=BAD_P),
                 ["transitions=", "summing to 1", "s=1, a=0 sums to 1.1"]),
    "mdp K < 2": (lambda: _mdp(transitions=torch.ones(2, 1, 2, dtype=F64) / 2),
                  ["transitions=", "K >= 2"]),
    "mdp initial": (lambda: _mdp(initial=torch.tensor([0.7, 0.7], dtype=F64)),
                    ["initial=", "summing to 1", "sum was 1.4"]),
    "mdp discount": (lambda: _mdp(discount=0.0), ["discount=0.0", "> 0", "<= 1"]),
    "mdp no goal": (lambda: _mdp().success_prob(torch.zeros(1, 2, 2, dtype=F64)),
                    ["goal=", "at least one goal state"]),
    "cbandit prompts": (lambda: ContextualBandit(torch.zeros(2, 3), torch.tensor([1.2, -0.2])),
                        ["prompt_probs=", "entries >= 0 summing to 1"]),
    "unknown preset": (lambda: get_problem("tree/nope"),
                       ["unknown problem 'tree/nope'", "'bandit/calibrated'", "'tree/anti'"]),
    "unknown override": (lambda: get_problem("bandit/anti", vocab_size=4),
                         ["override='vocab_size'", "num_arms", "bandit/anti"]),
    "bad task": (lambda: get_problem("bandit/anti").with_task("C"),
                 ["task='C'", "one of 'A', 'B'"]),
    "no task on a raw problem": (lambda: BANDIT.with_task("B"),
                                 ["task='B'", "defines no other task"]),
    "tree evaluate non-finite": (
        lambda: get_problem("tree/anti", vocab_size=2, horizon=2, num_correct=1).evaluate(
            torch.tensor([[[0.0, 1.0], [math.inf, 0.0], [0.0, 0.0]]], dtype=F64)),
        ["logits has 1 non-finite", "expected all finite"]),
    "k < 1": (lambda: BANDIT.pass_at_k(torch.zeros(1, 1, 3, dtype=F64), 0),
              ["k=0", "an integer >= 1"]),
    "k not integer": (lambda: BANDIT.pass_at_k(torch.zeros(1, 1, 3, dtype=F64), 2.5),
                      ["k=2.5", "an integer >= 1"]),
    "seeds < 1": (lambda: BANDIT.init_logits(0), ["seeds=0", ">= 1"]),
    "group size < 1": (lambda: BANDIT.sample(torch.zeros(1, 1, 3, dtype=F64), 2, 0, None),
                       ["group_size=0", ">= 1"]),
    "num_correct too big": (lambda: get_problem("bandit/calibrated", num_correct=5),
                            ["num_correct=5", "<= 4"]),
    "odd arms uncorrelated": (lambda: get_problem("bandit/uncorrelated", num_arms=7),
                              ["num_arms=7", "even number"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_rejected_with_a_message(case):
    call, fragments = BAD_INPUTS[case]
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert isinstance(info.value, (InputError, KeyError))


@pytest.mark.parametrize("pid", ["bandit/calibrated", "cbandit/anti", "tree/calibrated",
                                 "mdp/calibrated"])
def test_float32_logits_keep_their_dtype_and_agree(pid, gen):
    problem = get_problem(pid)
    z64 = problem.init_logits(2)
    z32 = z64.float()
    for method in ("entropy", "expected_reward", "grad_J", "visits"):
        out32, out64 = getattr(problem, method)(z32), getattr(problem, method)(z64)
        assert out32.dtype == torch.float32
        torch.testing.assert_close(out32.double(), out64, rtol=1e-4, atol=1e-6)
    roll = problem.sample(z32, 2, 3, gen)
    assert problem.logprobs(z32, roll).dtype == torch.float32
