"""Advantage estimators on hand-computed groups, verl's singleton-group rule, broadcasting."""

from __future__ import annotations

import math

import pytest
import torch

from entropy_lab.algorithms import advantage_names, broadcast_advantages, get_advantage

F64 = torch.float64


def t(x):
    return torch.tensor(x, dtype=F64)


def test_names():
    assert {"grpo", "dr_grpo", "rloo", "reinforce", "signed"} <= set(advantage_names())


def test_grpo_unbiased_std_and_eps():
    # r = [1, 0, 0, 1]: mean 0.5, unbiased var = 4·0.25/3 = 1/3, std = 0.577350...
    adv = get_advantage("grpo")(t([[1.0, 0.0, 0.0, 1.0]]))
    a = 0.5 / (math.sqrt(1 / 3) + 1e-6)
    torch.testing.assert_close(adv, t([[a, -a, -a, a]]), rtol=1e-14, atol=0)


def test_grpo_trl_eps_and_no_std():
    r = t([[1.0, 0.0, 0.0, 1.0]])
    a = 0.5 / (math.sqrt(1 / 3) + 1e-4)
    torch.testing.assert_close(get_advantage("grpo")(r, eps=1e-4), t([[a, -a, -a, a]]))
    torch.testing.assert_close(get_advantage("grpo")(r, norm_by_std=False),
                               t([[0.5, -0.5, -0.5, 0.5]]))


def test_grpo_singleton_group_keeps_reward_like_verl():
    # verl: a group of one gets mean 0 and std 1, so A = (r − 0)/(1 + ε).
    adv = get_advantage("grpo")(t([[3.0], [-2.0]]))
    torch.testing.assert_close(adv, t([[3.0 / (1 + 1e-6)], [-2.0 / (1 + 1e-6)]]), rtol=0, atol=0)
    torch.testing.assert_close(get_advantage("dr_grpo")(t([[3.0]])), t([[3.0]]))


def test_grpo_constant_group_is_zero():
    assert (get_advantage("grpo")(t([[1.0, 1.0, 1.0]])) == 0).all()


def test_dr_grpo_rloo_reinforce():
    r = t([[1.0, 0.0, 0.0]])
    torch.testing.assert_close(get_advantage("dr_grpo")(r), t([[2 / 3, -1 / 3, -1 / 3]]))
    # leave-one-out: 1 − 0 = 1;  0 − (1 + 0)/2 = −0.5 (twice)
    torch.testing.assert_close(get_advantage("rloo")(r), t([[1.0, -0.5, -0.5]]))
    torch.testing.assert_close(get_advantage("reinforce")(r), r)
    torch.testing.assert_close(get_advantage("reinforce")(r, baseline=0.5), r - 0.5)


@pytest.mark.parametrize("name", ["grpo", "dr_grpo", "rloo", "reinforce", "signed"])
def test_replica_dims_are_independent(name):
    g = torch.Generator().manual_seed(0)
    r = torch.rand(3, 2, 4, 5, generator=g, dtype=F64)
    fn = get_advantage(name)
    out = fn(r)
    assert out.shape == r.shape and out.dtype == F64
    for i in range(3):
        torch.testing.assert_close(out[i], fn(r[i]))


def test_rewards_carry_no_gradient():
    r = t([[1.0, 0.0]]).requires_grad_(True)
    assert not get_advantage("grpo")(r).requires_grad


def test_broadcast_advantages():
    adv = t([[1.0, -2.0]])                                 # N = 1, G = 2
    mask = torch.tensor([[[1, 1, 0], [1, 0, 0]]])          # [N, G, T]
    out = broadcast_advantages(adv, mask)
    torch.testing.assert_close(out, t([[[1.0, 1.0, 0.0], [-2.0, 0.0, 0.0]]]))


def test_signed_psr_nsr_w_reinforce_by_hand():
    # Zhu et al.: correct samples +1, wrong −1 (no baseline); PSR keeps only +, NSR only −.
    r = t([[1.0, 0.0, 0.0, 1.0]])
    fn = get_advantage("signed")
    torch.testing.assert_close(fn(r), t([[1.0, -1.0, -1.0, 1.0]]), rtol=0, atol=0)
    torch.testing.assert_close(fn(r, negative_weight=0.0), t([[1.0, 0.0, 0.0, 1.0]]))
    torch.testing.assert_close(fn(r, positive_weight=0.0), t([[0.0, -1.0, -1.0, 0.0]]))
    torch.testing.assert_close(fn(r, positive_weight=0.1), t([[0.1, -1.0, -1.0, 0.1]]))
    # a constant group still carries signal (no baseline), unlike grpo
    torch.testing.assert_close(fn(t([[0.0, 0.0]]), positive_weight=0.0), t([[-1.0, -1.0]]))
    torch.testing.assert_close(fn(t([[0.3, 0.8]]), threshold=0.25), t([[1.0, 1.0]]))


def test_signed_presets_weights():
    from entropy_lab.algorithms import get_preset

    r = t([[1.0, 0.0]])
    expected = {"psr": [[1.0, 0.0]], "nsr": [[0.0, -1.0]], "w_reinforce": [[0.1, -1.0]]}
    for name, want in expected.items():
        torch.testing.assert_close(get_preset(name).advantages(r), t(want))


def test_signed_rejects_negative_weight():
    from entropy_lab.validation import InputError

    with pytest.raises(InputError, match="negative_weight"):
        get_advantage("signed")(t([[1.0, 0.0]]), negative_weight=-1.0)
