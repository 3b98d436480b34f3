"""Multi-prompt token trees: exact quantities against brute-force enumeration, the one-prompt
case against the token tree, expected mode against Monte Carlo, presets and bad input."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch
from ceiling_search import max_entropy_at_success

from entropy_lab.problems import PromptTree, get_problem
from entropy_lab.sim import SimConfig, run
from entropy_lab.sim.expected_mc import compare_expected_sampled
from entropy_lab.validation import InputError

F64 = torch.float64
V, T = 3, 2
W = [0.3, 0.7]
# correct sequences (x1, x2) of each prompt
CORRECT = [{(0, 1), (2, 2)}, {(1, 0)}]

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny(weights=W):
    rewards = torch.zeros(2, V**T, dtype=F64)
    for c, seqs in enumerate(CORRECT):
        for x1, x2 in seqs:
            rewards[c, x1 * V + x2] = 1.0
    return PromptTree(V, T, rewards, torch.tensor(weights, dtype=F64))


def _logits(seeds=2, seed=0):
    """[B, C·S_T, V]: S_T = 1 + V = 4 prefixes per prompt."""
    return 1.5 * torch.randn(seeds, 2 * (1 + V), V, generator=torch.Generator().manual_seed(seed),
                             dtype=F64)


def _brute(z_sk):
    """Enumerate every (prompt, sequence): P_c(x), p_c, token entropy, visits (one seed)."""
    p = torch.softmax(z_sk, -1).tolist()
    probs, p_c, seq_h, visits = {}, [0.0, 0.0], [0.0, 0.0], [0.0] * (2 * (1 + V))
    for c in range(2):
        root = c * (1 + V)
        for x1, x2 in itertools.product(range(V), repeat=2):
            px = p[root][x1] * p[root + 1 + x1][x2]
            probs[c, x1, x2] = px
            p_c[c] += px if (x1, x2) in CORRECT[c] else 0.0
            seq_h[c] -= px * math.log(px)
        visits[root] = W[c]
        for x1 in range(V):
            visits[root + 1 + x1] = W[c] * p[root][x1]
    token_h = sum(W[c] * seq_h[c] for c in range(2)) / T
    return probs, p_c, token_h, visits


def test_exact_quantities_against_enumeration():
    prob = _tiny()
    z = _logits()
    assert prob.num_states == 8 and prob.num_prompts == 2 and prob.horizon == T
    for b in range(2):
        probs, p_c, token_h, visits = _brute(z[b])
        np.testing.assert_allclose(prob.success_prob(z)[b].numpy(), p_c, rtol=1e-13)
        assert math.isclose(float(prob.expected_reward(z)[b]), sum(W[c] * p_c[c] for c in range(2)),
                            rel_tol=1e-13)
        assert math.isclose(float(prob.entropy(z)[b]), token_h, rel_tol=1e-13)
        np.testing.assert_allclose(prob.visits(z)[b].numpy(), visits, rtol=1e-13)
        for k in (1, 2, 3):  # pass@k by enumerating k i.i.d. sequences per prompt
            want = sum(W[c] * sum(math.prod(probs[(c, *x)] for x in tup)
                                  for tup in itertools.product(
                                      itertools.product(range(V), repeat=2), repeat=k)
                                  if any(x in CORRECT[c] for x in tup)) for c in range(2))
            assert math.isclose(float(prob.pass_at_k(z, k)[b]), want, rel_tol=1e-12)
        want = sum(W[c] * (1 - (1 - p_c[c]) ** 256) for c in range(2))
        assert math.isclose(float(prob.pass_at_k(z, 256)[b]), want, rel_tol=1e-12)
    ev = prob.evaluate(z, ks=(256,))
    torch.testing.assert_close(ev["entropy"], prob.entropy(z), rtol=1e-13, atol=0)
    torch.testing.assert_close(ev["pass@256"], prob.pass_at_k(z, 256), rtol=1e-13, atol=0)
    torch.testing.assert_close(ev["success"], prob.success_prob(z), rtol=1e-13, atol=0)


def test_gradient_and_action_values_against_autograd_of_the_enumeration():
    prob = _tiny()
    z = _logits(seed=1)[:1].clone().requires_grad_(True)
    with torch.enable_grad():
        p = torch.softmax(z[0], -1)
        j = sum(W[c] * p[c * 4, x1] * p[c * 4 + 1 + x1, x2]
                for c in range(2) for x1, x2 in CORRECT[c])
        (g,) = torch.autograd.grad(j, z)
    torch.testing.assert_close(prob.grad_J(z.detach()), g, rtol=1e-12, atol=1e-15)
    q = prob.action_values(z.detach())[0]
    for c in range(2):
        for x1 in range(V):  # Q(root, x1) = P(correct | x1); Q(prefix x1, x2) = R(x1, x2)
            want = sum(float(p.detach()[c * 4 + 1 + x1, x2]) for x2 in range(V)
                       if (x1, x2) in CORRECT[c])
            assert math.isclose(float(q[c * 4, x1]), want, rel_tol=1e-13, abs_tol=1e-15)
            for x2 in range(V):
                assert float(q[c * 4 + 1 + x1, x2]) == float((x1, x2) in CORRECT[c])


@pytest.mark.parametrize("target", [0.1, 0.4, 0.8])
def test_entropy_ceiling_matches_a_numerical_optimiser_over_tree_logits(target):
    prob = _tiny()
    ceiling = float(prob.entropy_ceiling(target))

    def measure(x):
        z = torch.tensor(x, dtype=F64).reshape(1, 8, V)
        return float(prob.entropy(z)[0]), float(prob.expected_reward(z)[0])

    best = max_entropy_at_success(measure, 8 * V, target)
    assert best <= ceiling + 1e-7
    assert ceiling - best < 1e-5
    z = 3.0 * torch.randn(2000, 8, V, generator=torch.Generator().manual_seed(2), dtype=F64)
    assert bool((prob.entropy(z) <= prob.entropy_ceiling(prob.pass_at_k(z, 1)) + 1e-12).all())


def test_one_prompt_is_the_token_tree_same_frame():
    tree = get_problem("tree/calibrated", vocab_size=3, horizon=3, num_correct=3)
    one = PromptTree(3, 3, tree.leaf_rewards[None], init_logits=tree.base_logits)
    z = tree.init_logits(2)
    for name in ("entropy", "expected_reward", "visits", "grad_J", "action_values"):
        torch.testing.assert_close(getattr(one, name)(z), getattr(tree, name)(z), rtol=0, atol=0)
    for mode, kw in (("sampled", {}), ("expected", {"epochs": 1, "minibatches": 1})):
        cfg = SimConfig(steps=4, seeds=3, n_prompts=1, group_size=4, k=16, lr=0.3, mode=mode)
        a = run(tree, "grpo", cfg, torch.Generator().manual_seed(0), **kw).frame
        b = run(one, "grpo", cfg, torch.Generator().manual_seed(0), **kw).frame
        assert "H_max" in a
        pd.testing.assert_frame_equal(b, a)


def test_batches_hold_distinct_prompts_and_rewards_follow_the_prompt():
    prob = get_problem("prompts-tree/mixed", num_prompts=6, vocab_size=3, horizon=3,
                       num_correct=2)
    z = prob.init_logits(300)
    roll = prob.sample(z, 4, 5, torch.Generator().manual_seed(0))
    assert roll.prompts.shape == (300, 4) and roll.states.shape == (300, 4, 5, 3)
    assert all(len(set(row.tolist())) == 4 for row in roll.prompts)
    # every state of a group lies in its prompt's block of S_T = 13 prefixes
    assert bool((roll.states // prob.tree_states == roll.prompts[:, :, None, None]).all())
    r = prob.reward(roll)
    seq = prob.sequence_ids(roll)
    want = prob.leaf_rewards[roll.prompts[:, :, None].expand(-1, -1, 5), seq]
    assert torch.equal(r, want)
    # the sampled success rate matches p_c averaged over the sampled prompts
    p_bc = prob.success_prob(z)
    p_bn = p_bc.gather(1, roll.prompts)
    hit = prob.correct(roll, r).to(F64).mean(-1)
    se = (p_bn * (1 - p_bn) / 5).sqrt().mean() / math.sqrt(300 * 4)
    assert abs(float(hit.mean() - p_bn.mean())) < 5 * float(se)


def test_preset_statistics():
    prob = get_problem("prompts-tree/mixed")
    z = prob.init_logits(1)
    assert prob.num_prompts == 64 and prob.num_states == 64 * 85 and prob.num_actions == 4
    p_c = prob.success_prob(z)[0]
    assert float(p_c.min()) < 0.01 and float(p_c.max()) > 0.3     # hard and easy prompts
    assert math.isclose(float(prob.entropy_ceiling(1.0)), math.log(8) / 4, rel_tol=1e-12)
    assert float(prob.pass_at_k(z, 256)[0]) < 0.9
    b = prob.with_task("B")
    assert torch.equal(b.base_logits, prob.base_logits)
    assert not torch.equal(b.leaf_rewards, prob.leaf_rewards)


Z_MAX = 4.0


@pytest.mark.parametrize("agg", ["seq-mean-token-mean", "token-mean"])
@pytest.mark.parametrize("policy,options", [("tabular", {}), ("lowrank", {"rank": 3})])
def test_expected_is_sampled_mean(policy, options, agg):
    """Expected mode = the Monte Carlo mean of sampled mode (one SGD step from one start; the
    rule of tests/test_expected_aggregation_mc.py: |ratio − 1| < 4 se, |orth| < 4 se), with
    N = 4 of C = 8 prompts per batch drawn without replacement."""
    prob = get_problem("prompts-tree/mixed", num_prompts=8, vocab_size=3, horizon=3,
                       num_correct=3)
    kw = {f"policy.{k}": v for k, v in {**options, "shared_init": True}.items()} if options else {}
    lr = 1e-4 if options else 1e-2
    c = compare_expected_sampled(prob, "grpo", seeds=300, n_prompts=4, agg=agg, lr=lr,
                                 policy=policy, **kw)
    assert abs(c.ratio - 1.0) < Z_MAX * c.ratio_se, (c.ratio, c.ratio_se)
    assert abs(c.orth) < Z_MAX * c.orth_se, (c.orth, c.orth_se)


BAD = [
    (lambda: get_problem("prompts-tree/mixed", num_prompts=4, vocab_size=2, horizon=2,
                         num_correct=1).sample(torch.zeros(1, 12, 2, dtype=F64), 5, 2, None),
     r"n_prompts=5.*at most the problem's C = 4"),
    (lambda: PromptTree(3, 2, torch.zeros(2, 8, dtype=F64)),
     r"leaf_rewards.*\[C, V\^T\] = \[C, 9\]"),
    (lambda: PromptTree(3, 2, torch.zeros(9, dtype=F64)), r"leaf_rewards.*rank 2"),
    (lambda: PromptTree(3, 2, torch.zeros(2, 9, dtype=F64), torch.ones(3, dtype=F64) / 3),
     r"prompt_probs.*\[C\] = \[2\]"),
    (lambda: PromptTree(3, 2, torch.zeros(2, 9, dtype=F64),
                        init_logits=torch.zeros(4, 3, dtype=F64)),
     r"init_logits.*\[S, K\] = \[8, 3\]"),
    (lambda: _tiny().entropy(torch.zeros(1, 4, 3, dtype=F64)), r"logits.*\[B, 8, 3\]"),
    (lambda: get_problem("prompts-tree/mixed", num_prompts=0), r"num_prompts=0"),
    (lambda: get_problem("prompts-tree/sideways"), r"prompts-tree/sideways"),
]


@pytest.mark.parametrize("call,match", BAD)
def test_bad_input(call, match):
    with pytest.raises(InputError, match=match):
        call()

