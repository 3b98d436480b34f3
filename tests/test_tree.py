"""Token tree: exact DP quantities against brute-force enumeration of every sequence.

The reference enumerates the V^T sequences with itertools, numbers prefixes by its own
level-by-level enumeration (independent of the tree's index arithmetic), and multiplies
per-token probabilities along each sequence.
"""

import itertools
import math

import pytest
import torch
from ceiling_search import max_entropy_at_success

from entropy_lab.problems import TokenTree
from entropy_lab.validation import InputError

SIZES = [(3, 3), (2, 5)]


def _prefix_ids(v, t_max):
    ids = {}
    for t in range(t_max):
        for prefix in itertools.product(range(v), repeat=t):
            ids[prefix] = len(ids)
    return ids


def _brute(tree, logits, k=4):
    """Per-sequence enumeration: J, visits, sequence entropy, Q, p_correct for seed rows."""
    v, t_max = tree.vocab_size, tree.horizon
    ids = _prefix_ids(v, t_max)
    p = torch.softmax(logits, -1)
    b = logits.shape[0]
    J = torch.zeros(b, dtype=torch.float64)
    seq_h = torch.zeros(b, dtype=torch.float64)
    p_corr = torch.zeros(b, dtype=torch.float64)
    visits = torch.zeros(b, tree.num_states, dtype=torch.float64)
    reward_mass = torch.zeros(b, tree.num_states, v, dtype=torch.float64)
    prob_through = torch.zeros(b, tree.num_states, v, dtype=torch.float64)
    for leaf, seq in enumerate(itertools.product(range(v), repeat=t_max)):
        prob = torch.ones(b, dtype=torch.float64)
        for t in range(t_max):
            prob = prob * p[:, ids[seq[:t]], seq[t]]
        r = float(tree.leaf_rewards[leaf])
        J += prob * r
        seq_h -= prob * torch.log(prob)
        p_corr += prob * float(r >= 1.0)
        for t in range(t_max):
            visits[:, ids[seq[:t]]] += prob
            reward_mass[:, ids[seq[:t]], seq[t]] += prob * r
            prob_through[:, ids[seq[:t]], seq[t]] += prob
    q = reward_mass / prob_through
    return {"J": J, "seq_h": seq_h, "p_correct": p_corr, "visits": visits, "Q": q,
            "pass@k": 1 - (1 - p_corr) ** k}


@pytest.fixture(params=SIZES, ids=lambda s: f"V{s[0]}T{s[1]}")
def case(request):
    v, t = request.param
    g = torch.Generator().manual_seed(7 + v)
    rewards = (torch.rand(v**t, generator=g, dtype=torch.float64) < 0.3).double()
    tree = TokenTree(v, t, rewards)
    logits = 1.5 * torch.randn(2, tree.num_states, v, generator=g, dtype=torch.float64)
    return tree, logits, _brute(tree, logits)


def test_state_count_matches_formula():
    for v, t in SIZES + [(10, 6)]:
        assert TokenTree(v, t, torch.zeros(v**t, dtype=torch.float64)).num_states == (
            (v**t - 1) // (v - 1)
        )


def test_prefix_index_matches_enumeration():
    tree = TokenTree(3, 3, torch.zeros(27, dtype=torch.float64))
    for prefix, sid in _prefix_ids(3, 3).items():
        assert int(tree.prefix_ids(torch.tensor(prefix, dtype=torch.int64))) == sid


def test_exact_quantities_match_enumeration(case):
    tree, z, ref = case
    torch.testing.assert_close(tree.expected_reward(z), ref["J"], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(tree.visits(z), ref["visits"], rtol=1e-12, atol=1e-14)
    # chain rule: Σ_s visits·H_s equals the entropy of the sequence distribution
    torch.testing.assert_close(tree.sequence_entropy(z), ref["seq_h"], rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(tree.entropy(z), ref["seq_h"] / tree.horizon, rtol=1e-12,
                               atol=1e-13)
    torch.testing.assert_close(tree.success_prob(z)[:, 0], ref["p_correct"], rtol=1e-12,
                               atol=1e-14)
    torch.testing.assert_close(tree.pass_at_k(z, 4), ref["pass@k"], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(tree.action_values(z), ref["Q"], rtol=1e-10, atol=1e-13)


def test_evaluate_agrees_with_methods(case):
    tree, z, _ = case
    out = tree.evaluate(z, ks=(1, 3))
    torch.testing.assert_close(out["J"], tree.expected_reward(z), rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(out["entropy"], tree.entropy(z), rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(out["pass@3"], tree.pass_at_k(z, 3), rtol=1e-13, atol=1e-15)


def test_grad_matches_autograd_of_enumeration(case):
    tree, z, _ = case
    zz = z.clone().requires_grad_(True)
    (g_ref,) = torch.autograd.grad(_brute(tree, zz)["J"].sum(), zz)
    torch.testing.assert_close(tree.grad_J(z), g_ref, rtol=1e-10, atol=1e-14)


def test_grad_matches_finite_differences(case):
    tree, z, _ = case
    g = tree.grad_J(z)
    h = 1e-6
    gen = torch.Generator().manual_seed(3)
    for _ in range(5):
        s = int(torch.randint(0, tree.num_states, (1,), generator=gen))
        a = int(torch.randint(0, tree.vocab_size, (1,), generator=gen))
        e = torch.zeros_like(z)
        e[:, s, a] = h
        fd = (tree.expected_reward(z + e) - tree.expected_reward(z - e)) / (2 * h)
        torch.testing.assert_close(g[:, s, a], fd, rtol=1e-6, atol=1e-10)


def test_from_function_and_from_correct_agree():
    correct = [(0, 1, 2), (2, 2, 0)]
    a = TokenTree.from_correct(3, 3, correct)
    b = TokenTree.from_function(
        3, 3, lambda x: ((x == torch.tensor([0, 1, 2])).all(-1) | (x == torch.tensor([2, 2, 0]))
                         .all(-1)).double())
    assert torch.equal(a.leaf_rewards, b.leaf_rewards)
    assert float(a.leaf_rewards.sum()) == 2.0


def test_sampled_rewards_and_visit_frequencies_match_exact():
    g = torch.Generator().manual_seed(11)
    tree = TokenTree(3, 3, (torch.rand(27, generator=g, dtype=torch.float64) < 0.4).double())
    z = torch.randn(2, tree.num_states, 3, generator=g, dtype=torch.float64)
    n, gs = 200, 20
    roll = tree.sample(z, n, gs, g)
    assert roll.states.shape == (2, n, gs, 3)
    r = tree.reward(roll)
    mean = r.mean((1, 2))
    J = tree.expected_reward(z)
    se = torch.sqrt(J * (1 - J) / (n * gs))
    assert bool(((mean - J).abs() < 5 * se).all())
    # empirical visit frequency of every prefix vs reach probability
    counts = torch.zeros(2, tree.num_states, dtype=torch.float64)
    ones = torch.ones(2, n * gs * 3, dtype=torch.float64)
    counts.scatter_add_(1, roll.states.reshape(2, -1), ones)
    freq = counts / (n * gs)
    vis = tree.visits(z)
    se_v = torch.sqrt(vis * (1 - vis) / (n * gs)) + 1e-12
    assert bool(((freq - vis).abs() <= 5 * se_v + 1e-12).all())


def test_logprobs_sum_to_sequence_logprob(gen):
    tree = TokenTree(3, 3, torch.zeros(27, dtype=torch.float64))
    z = torch.randn(2, tree.num_states, 3, generator=gen, dtype=torch.float64)
    roll = tree.sample(z, 2, 3, gen)
    seq_logp = tree.logprobs(z, roll).sum(-1)
    leaf = tree.sequence_ids(roll)
    ref = torch.log(tree.leaf_probs(z).gather(1, leaf.reshape(2, -1))).reshape(leaf.shape)
    torch.testing.assert_close(seq_logp, ref, rtol=1e-12, atol=1e-12)


def test_scales_to_a_million_sequences():
    tree = TokenTree(10, 6, torch.zeros(10**6, dtype=torch.float64))
    assert tree.num_leaves == 10**6 and tree.num_states == 111_111
    z = torch.zeros(1, tree.num_states, 10, dtype=torch.float64)
    torch.testing.assert_close(tree.entropy(z), torch.tensor([math.log(10)], dtype=torch.float64))


def _ceiling_closed_form(p, m, v, t):
    """[h(p) + p log m + (1 − p) log(V^T − m)] / T, 0 log 0 = 0, written with math."""
    def xlogy(x, y):
        return 0.0 if x == 0 else x * math.log(y)

    h = -xlogy(p, p) - xlogy(1 - p, 1 - p)
    return (h + xlogy(p, m) + xlogy(1 - p, v**t - m)) / t


def _logits_of_leaf_distribution(v, t_max, leaf_probs):
    """Tree logits log π(a | prefix) = log P(prefix·a) − log P(prefix) of a distribution over
    the V^T sequences (enumerated with itertools, first token most significant)."""
    ids = _prefix_ids(v, t_max)
    mass = {}
    for leaf, seq in enumerate(itertools.product(range(v), repeat=t_max)):
        for t in range(t_max + 1):
            mass[seq[:t]] = mass.get(seq[:t], 0.0) + leaf_probs[leaf]
    z = torch.zeros(1, len(ids), v, dtype=torch.float64)
    for prefix, s in ids.items():
        for a in range(v):
            z[0, s, a] = math.log(mass[(*prefix, a)] / mass[prefix])
    return z


CEILING_TREES = [(2, 2, [(0, 1)]), (3, 2, [(0, 1), (2, 2)]), (2, 3, [(0, 0, 1), (1, 1, 1),
                                                                     (1, 0, 0)])]


@pytest.mark.parametrize("v, t, correct", CEILING_TREES, ids=lambda c: str(c))
def test_entropy_ceiling_is_reached_by_the_uniform_within_correct_and_wrong_policy(v, t, correct):
    """At success p the policy uniform within the m correct and within the V^T − m wrong
    sequences has the closed-form entropy, and the tree's ceiling equals it."""
    tree = TokenTree.from_correct(v, t, correct)
    m, n = len(correct), v**t
    assert tree.has_entropy_ceiling and int(tree.num_correct) == m
    hit = {sum(x * v ** (t - 1 - i) for i, x in enumerate(seq)) for seq in correct}
    for p in (0.0, 0.05, m / n, 0.5, 0.93, 1.0):
        want = _ceiling_closed_form(p, m, v, t)
        assert math.isclose(float(tree.entropy_ceiling(p)), want, rel_tol=1e-12, abs_tol=1e-14)
        if 0 < p < 1:
            z = _logits_of_leaf_distribution(
                v, t, [p / m if leaf in hit else (1 - p) / (n - m) for leaf in range(n)])
            assert math.isclose(float(tree.success_prob(z)[0, 0]), p, rel_tol=1e-12)
            assert math.isclose(float(tree.entropy(z)[0]), want, rel_tol=1e-12)
    got = tree.entropy_ceiling(torch.tensor([[0.2, 0.7]], dtype=torch.float64))
    assert got.shape == (1, 2) and got.dtype == torch.float64


@pytest.mark.parametrize("target", [0.1, 0.45, 0.85])
def test_entropy_ceiling_matches_a_numerical_optimiser_over_tree_logits(target):
    v, t, correct = CEILING_TREES[1]
    tree = TokenTree.from_correct(v, t, correct)
    s = tree.num_states
    ceiling = float(tree.entropy_ceiling(target))

    def measure(x):
        z = torch.tensor(x, dtype=torch.float64).reshape(1, s, v)
        return float(tree.entropy(z)[0]), float(tree.success_prob(z)[0, 0])

    best = max_entropy_at_success(measure, s * v, target)
    assert best <= ceiling + 1e-7
    assert ceiling - best < 1e-5
    z = 3.0 * torch.randn(2000, s, v, generator=torch.Generator().manual_seed(2),
                          dtype=torch.float64)
    p = tree.success_prob(z)[:, 0]
    assert bool((tree.entropy(z) <= tree.entropy_ceiling(p) + 1e-12).all())


@pytest.mark.parametrize("correct", [[], list(itertools.product(range(2), repeat=2))],
                         ids=["none", "all"])
def test_entropy_ceiling_needs_a_correct_and_a_wrong_sequence(correct):
    tree = TokenTree.from_correct(2, 2, correct)
    assert not tree.has_entropy_ceiling
    with pytest.raises(InputError, match="num_correct.*1 <= m_c <= K - 1 = 3"):
        tree.entropy_ceiling(0.5)


@pytest.mark.slow
def test_million_sequences_with_sixteen_seeds():
    tree = TokenTree.from_correct(10, 6, [[1, 2, 3, 4, 5, 6], [9, 9, 9, 9, 9, 9]])
    z = torch.zeros(16, tree.num_states, 10, dtype=torch.float64)
    out = tree.evaluate(z, ks=(1,))
    torch.testing.assert_close(out["J"], torch.full((16,), 2e-6, dtype=torch.float64))
    assert out["grad_J"].shape == (16, 111_111, 10)
