"""Parameterised policies: start at z0, one-hot loglinear = tabular, gradients vs differences."""

import pytest
import torch

from entropy_lab.policies import make_policy, policy_names
from entropy_lab.problems import get_problem
from entropy_lab.validation import InputError

F64 = torch.float64
PROB = get_problem("prompts-many/calibrated", num_prompts=5, num_answers=8)
OPTIONS = {"tabular": {}, "loglinear": {"dim": 6}, "lowrank": {"rank": 2},
           "mlp": {"embed_dim": 4, "hidden": 5}}


def _policy(name, seeds=3):
    z0 = PROB.init_logits(seeds)
    return make_policy(name, z0, torch.Generator().manual_seed(1), **OPTIONS[name]), z0


def test_registry_lists_every_policy():
    assert policy_names() == sorted(OPTIONS)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_policies_start_at_the_initial_logits(name):
    pol, z0 = _policy(name)
    assert pol.logits().shape == (3, PROB.num_states, PROB.num_actions)
    torch.testing.assert_close(pol.logits(), z0, rtol=0, atol=0)


def _perturbed(pol, scale, seed):
    gen = torch.Generator().manual_seed(seed)
    return {k: v + scale * torch.randn(v.shape, generator=gen, dtype=F64)
            for k, v in pol.params.items()}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_gradients_match_central_differences(name):
    pol, _ = _policy(name)
    theta = _perturbed(pol, 0.3, 2)
    gen = torch.Generator().manual_seed(3)
    direction = {k: torch.randn(v.shape, generator=gen, dtype=F64) for k, v in theta.items()}

    def f(params):
        z = pol.logits(params)
        return (PROB.expected_reward(z) + 0.3 * PROB.entropy(z)).sum()

    leaves = {k: v.clone().requires_grad_(True) for k, v in theta.items()}
    grads = torch.autograd.grad(f(leaves), list(leaves.values()))
    analytic = sum((g * direction[k]).sum() for g, k in zip(grads, leaves, strict=True))
    h = 1e-5
    plus = f({k: theta[k] + h * direction[k] for k in theta})
    minus = f({k: theta[k] - h * direction[k] for k in theta})
    numeric = (plus - minus) / (2 * h)
    assert abs(float(analytic - numeric)) < 1e-7 * max(1.0, abs(float(numeric)))


def test_onehot_loglinear_is_the_tabular_policy():
    z0 = PROB.init_logits(2)
    s, k = PROB.num_states, PROB.num_actions
    onehot = torch.eye(s * k, dtype=F64).reshape(s, k, s * k)
    lin = make_policy("loglinear", z0, features=onehot)
    tab = make_policy("tabular", z0)
    theta = torch.randn(2, s * k, generator=torch.Generator().manual_seed(4), dtype=F64)
    z_lin = lin.logits({"theta": theta})
    torch.testing.assert_close(z_lin, tab.logits({"z": z0 + theta.reshape(2, s, k)}))
    th = theta.clone().requires_grad_(True)
    zt = (z0 + theta.reshape(2, s, k)).requires_grad_(True)
    (g_lin,) = torch.autograd.grad(PROB.entropy(lin.logits({"theta": th})).sum(), th)
    (g_tab,) = torch.autograd.grad(PROB.entropy(tab.logits({"z": zt})).sum(), zt)
    torch.testing.assert_close(g_lin, g_tab.reshape(2, s * k))


@pytest.mark.parametrize("name", ["loglinear", "lowrank", "mlp"])
def test_seeds_stay_independent_and_states_share_parameters(name):
    pol, _ = _policy(name)
    theta = {k: v.clone().requires_grad_(True) for k, v in _perturbed(pol, 0.3, 5).items()}
    z = pol.logits(theta)
    grads = torch.autograd.grad(z[0, 0].sum(), list(theta.values()), allow_unused=True)
    for g in grads:
        assert g is None or float(g[1:].abs().max()) == 0.0   # seed 0 only
    # shared parameters: a step for state 0 alone moves state 1's logits
    step = {k: v.detach() + 0.1 * (g if g is not None else 0)
            for (k, v), g in zip(theta.items(), grads, strict=True)}
    assert float((pol.logits(step)[0, 1] - z[0, 1].detach()).abs().max()) > 1e-6


def test_bad_input():
    z0 = PROB.init_logits(1)
    with pytest.raises(InputError, match="policy"):
        make_policy("transformer", z0)
    with pytest.raises(InputError, match=r"rank=0.*"):
        make_policy("lowrank", z0, rank=0)
    with pytest.raises(InputError, match=r"features=.*\[S, K, D\] = \[5, 8, D\]"):
        make_policy("loglinear", z0, features=torch.zeros(5, 7, 3, dtype=F64))


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_rows_are_the_forward_at_those_states(name):
    """``state_logits`` (the rows a minibatch needs) against the full forward gathered, with
    repeated states, at a θ away from the start; and the same gradient for a loss on them."""
    pol, _ = _policy(name)
    theta = {k: v.clone().requires_grad_(True) for k, v in _perturbed(pol, 0.3, 4).items()}
    states = torch.tensor([[0, 4, 4, 2], [1, 1, 3, 0], [4, 0, 2, 2]])
    rows = pol.state_logits(states, theta)
    full = pol.logits(theta)
    want = torch.stack([full[b, states[b]] for b in range(3)])
    assert rows.shape == (3, 4, PROB.num_actions)
    torch.testing.assert_close(rows, want, rtol=1e-13, atol=1e-13)
    weights = torch.randn(rows.shape, generator=torch.Generator().manual_seed(5), dtype=F64)
    leaves = list(theta.values())
    g_rows = torch.autograd.grad((torch.log_softmax(rows, -1) * weights).sum(), leaves)
    g_full = torch.autograd.grad((torch.log_softmax(want, -1) * weights).sum(), leaves)
    for a, b in zip(g_rows, g_full, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
