"""MDP length-weighted moments E_c[f(len)·X] against brute-force enumeration of trajectories."""

import pytest
import torch

from entropy_lab.problems import get_problem
from entropy_lab.validation import InputError
from tests.test_mdp import _tiny_mdp


def _enumerate_lengths(mdp, logits, f_l):
    """Every trajectory from each prompt state: Σ P(y)·f(len y)·(1, 1[goal], R(y)). [B, C] each."""
    pi = torch.softmax(logits, -1)
    b, s_n, k = pi.shape
    r3 = mdp.rewards if mdp.rewards.ndim == 3 else mdp.rewards[..., None].expand(-1, -1, s_n)
    out = {key: torch.zeros(b, len(mdp.prompt_states), dtype=torch.float64)
           for key in ("weight", "success", "reward")}

    def walk(c, s, t, prob, ret):
        if t == mdp.horizon or bool(mdp.terminal[s]):  # t actions were taken
            out["weight"][:, c] += prob * float(f_l[t])
            out["success"][:, c] += prob * float(f_l[t]) * float(mdp.goal[s])
            out["reward"][:, c] += prob * float(f_l[t]) * ret
            return
        for a in range(k):
            for s2 in range(s_n):
                p_tr = float(mdp.transitions[s, a, s2])
                if p_tr > 0:
                    step_r = mdp.discount**t * float(r3[s, a, s2])
                    walk(c, s2, t + 1, prob * pi[:, s, a] * p_tr, ret + step_r)

    for c, s0 in enumerate(mdp.prompt_states.tolist()):
        walk(c, s0, 0, torch.ones(b, dtype=torch.float64), 0.0)
    return out


@pytest.mark.parametrize("reward_3d,discount", [(True, 1.0), (False, 0.8)])
def test_length_moments_match_enumeration(reward_3d, discount):
    mdp, logits = _tiny_mdp(reward_3d, discount)
    f_l = torch.tensor([0.7, 1.0, 1 / 2, 1 / 3], dtype=torch.float64)  # f(0) seen: prompt 3 is
    got = mdp.length_moments(logits, f_l)                                # a terminal start
    want = _enumerate_lengths(mdp, logits, f_l)
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-12, atol=1e-14)


def test_unit_weight_gives_the_problem_own_quantities():
    """f ≡ 1: weight 1, success = success_prob, Σ_c μ_c reward_c = J."""
    mdp = get_problem("mdp/calibrated")
    z = mdp.init_logits(3, torch.Generator().manual_seed(0)) + 0.3 * torch.randn(
        3, mdp.num_states, mdp.num_actions, generator=torch.Generator().manual_seed(1),
        dtype=torch.float64)
    m = mdp.length_moments(z, torch.ones(mdp.horizon + 1, dtype=torch.float64))
    torch.testing.assert_close(m["weight"], torch.ones_like(m["weight"]), rtol=0, atol=1e-13)
    torch.testing.assert_close(m["success"], mdp.success_prob(z), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(m["reward"] @ mdp.prompt_probs, mdp.expected_reward(z),
                               rtol=1e-12, atol=1e-14)
    lengths = torch.arange(mdp.horizon + 1, dtype=torch.float64)
    mean_len = mdp.length_moments(z, lengths)["weight"] @ mdp.prompt_probs
    torch.testing.assert_close(mean_len, mdp.expected_length(z), rtol=1e-12, atol=1e-13)


def test_fixed_length_flags():
    assert not get_problem("mdp/calibrated").fixed_length
    for pid in ("bandit/calibrated", "tree/calibrated", "cbandit/calibrated"):
        problem = get_problem(pid)
        assert problem.fixed_length
        with pytest.raises(InputError, match="length_moments"):
            problem.length_moments(problem.init_logits(1), torch.ones(problem.horizon + 1))


def test_bad_weights_shape():
    mdp = get_problem("mdp/calibrated")
    with pytest.raises(InputError, match="weights"):
        mdp.length_moments(mdp.init_logits(1), torch.ones(mdp.horizon))
