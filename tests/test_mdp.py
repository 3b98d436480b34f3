"""Tabular MDP: exact DP quantities against brute-force enumeration of every trajectory."""

import pytest
import torch

from entropy_lab.problems import TabularMDP, get_problem


def _tiny_mdp(reward_3d: bool, discount: float):
    """3 live states + goal (3) + trap (4), K = 2, H = 3, random dynamics (fixed seed)."""
    g = torch.Generator().manual_seed(5)
    s, k = 5, 2
    p = torch.rand(s, k, s, generator=g, dtype=torch.float64) ** 2
    p = p / p.sum(-1, keepdim=True)
    p[3:] = 0.0
    p[3, :, 3] = p[4, :, 4] = 1.0
    shape = (s, k, s) if reward_3d else (s, k)
    r = torch.randn(shape, generator=g, dtype=torch.float64)
    initial = torch.tensor([0.5, 0.3, 0.0, 0.2, 0.0], dtype=torch.float64)
    goal = torch.tensor([False, False, False, True, False])
    terminal = torch.tensor([False, False, False, True, True])
    mdp = TabularMDP(p, r, 3, initial, discount=discount, terminal=terminal, goal=goal)
    logits = torch.randn(2, s, k, generator=g, dtype=torch.float64)
    return mdp, logits


def _enumerate(mdp, logits):
    """Every trajectory by recursion: J, visits, occupancy, P(goal | prompt), Q̄ by time."""
    pi = torch.softmax(logits, -1)
    b, s_n, k = pi.shape
    h, gam = mdp.horizon, mdp.discount
    r3 = mdp.rewards if mdp.rewards.ndim == 3 else mdp.rewards[..., None].expand(-1, -1, s_n)
    out = {"J": torch.zeros(b, dtype=torch.float64), "visits": torch.zeros(b, s_n,
           dtype=torch.float64), "occ": torch.zeros(b, s_n, dtype=torch.float64),
           "goal": torch.zeros(b, s_n, dtype=torch.float64),
           "qnum": torch.zeros(b, s_n, k, dtype=torch.float64)}

    def go_from(s, t):
        """[B] expected discounted return from state s at time t (value relative to t)."""
        if t == h or bool(mdp.terminal[s]):
            return torch.zeros(b, dtype=torch.float64)
        return sum(pi[:, s, a] * q_from(s, a, t) for a in range(k))

    def q_from(s, a, t):
        return sum(
            float(mdp.transitions[s, a, s2]) * (float(r3[s, a, s2]) + gam * go_from(s2, t + 1))
            for s2 in range(s_n) if float(mdp.transitions[s, a, s2]) > 0
        )

    def walk(s, t, prob, ret, disc, start):
        if bool(mdp.goal[s]):
            out["goal"][:, start] += prob
        if t == h or bool(mdp.terminal[s]):
            out["J"] += prob * ret
            return
        out["visits"][:, s] += prob
        out["occ"][:, s] += disc * prob
        for a in range(k):
            out["qnum"][:, s, a] += disc * prob * q_from(s, a, t)
            for s2 in range(s_n):
                pt = float(mdp.transitions[s, a, s2])
                if pt > 0:
                    walk(s2, t + 1, prob * pi[:, s, a] * pt, ret + disc * float(r3[s, a, s2]),
                         disc * gam, start)

    for s0 in range(s_n):
        if float(mdp.initial[s0]) > 0:
            walk(s0, 0, torch.full((b,), float(mdp.initial[s0]), dtype=torch.float64),
                 torch.zeros(b, dtype=torch.float64), 1.0, s0)
    out["goal"] = out["goal"] / mdp.initial.clamp_min(1e-300)
    out["Qbar"] = out["qnum"] / out["occ"][..., None].clamp_min(1e-300)
    out["go_from"] = go_from
    return out


CASES = [(False, 1.0), (True, 1.0), (True, 0.9)]


@pytest.fixture(params=CASES, ids=["r_sk", "r_sks", "r_sks_gamma0.9"])
def case(request):
    mdp, z = _tiny_mdp(*request.param)
    return mdp, z, _enumerate(mdp, z)


def test_values_match_trajectory_enumeration(case):
    mdp, z, ref = case
    torch.testing.assert_close(mdp.expected_reward(z), ref["J"], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(mdp.visits(z), ref["visits"], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(mdp.occupancy(z), ref["occ"], rtol=1e-12, atol=1e-14)
    reached = ref["occ"] > 0
    q = mdp.action_values(z)
    torch.testing.assert_close(q[reached], ref["Qbar"][reached], rtol=1e-11, atol=1e-13)
    v0 = mdp.state_values(z)
    for s in range(mdp.num_states):
        torch.testing.assert_close(v0[:, s], ref["go_from"](s, 0), rtol=1e-12, atol=1e-14)


def test_success_prob_and_pass_at_k(case):
    mdp, z, ref = case
    p_bc = mdp.success_prob(z)
    torch.testing.assert_close(p_bc, ref["goal"][:, mdp.prompt_states], rtol=1e-12, atol=1e-14)
    w = mdp.initial[mdp.prompt_states]
    torch.testing.assert_close(mdp.pass_at_k(z, 3), ((1 - (1 - p_bc) ** 3) * w).sum(-1))
    # the goal prompt (state 3) is correct with certainty
    assert torch.allclose(p_bc[:, 2], torch.ones(2, dtype=torch.float64))


def test_grad_matches_autograd_and_finite_differences(case):
    mdp, z, _ = case
    g = mdp.grad_J(z)
    zz = z.clone().requires_grad_(True)
    (g_auto,) = torch.autograd.grad(mdp.expected_reward(zz).sum(), zz)
    torch.testing.assert_close(g, g_auto, rtol=1e-10, atol=1e-14)
    h = 1e-6
    for s, a in [(0, 0), (1, 1), (2, 0)]:
        e = torch.zeros_like(z)
        e[:, s, a] = h
        fd = (mdp.expected_reward(z + e) - mdp.expected_reward(z - e)) / (2 * h)
        torch.testing.assert_close(g[:, s, a], fd, rtol=1e-6, atol=1e-10)
    assert float(g[:, 3:].abs().max()) == 0.0  # no action is ever taken in a terminal state


def test_sampled_returns_lengths_and_success_match_exact():
    mdp = get_problem("mdp/calibrated")
    z = mdp.init_logits(2)
    g = torch.Generator().manual_seed(2)
    n, gs = 400, 16
    roll = mdp.sample(z, n, gs, g)
    r = mdp.reward(roll)
    J = mdp.expected_reward(z)
    se = r.std((1, 2)) / (n * gs) ** 0.5
    assert bool(((r.mean((1, 2)) - J).abs() < 5 * se).all())
    length = roll.lengths.mean((1, 2))
    se_len = roll.lengths.std((1, 2)) / (n * gs) ** 0.5
    assert bool(((length - mdp.visits(z).sum(-1)).abs() < 5 * se_len).all())
    hit = mdp.correct(roll, r).double().mean((1, 2))
    p1 = mdp.pass_at_k(z, 1)
    assert bool(((hit - p1).abs() < 5 * (p1 * (1 - p1) / (n * gs)).sqrt()).all())
    assert bool((roll.mask[..., 1:] <= roll.mask[..., :-1]).all())  # episodes never resume
