"""The simulator with parameterised policies (SimConfig.policy; entropy_lab/sim/params.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from entropy_lab.problems import get_problem
from entropy_lab.sim import SimConfig, run, simulate
from entropy_lab.validation import InputError

CFG = SimConfig(steps=4, seeds=2, n_prompts=4, group_size=4, k=4, lr=0.05, optimizer="sgd")


def _one_hot_features(problem_id):
    p = get_problem(problem_id)
    s, k = p.num_states, p.num_actions
    return torch.eye(s * k, dtype=torch.float64).reshape(s, k, s * k)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("mode,preset", [("sampled", "grpo"), ("expected", "rloo")])
def test_one_hot_loglinear_is_the_tabular_policy(optimizer, mode, preset):
    """φ(s, a) = e_(s,a): z = z0 + θ and ∂loss/∂θ = ∂loss/∂z, so the frame is the tabular one."""
    cfg = CFG.replace(optimizer=optimizer, mode=mode)
    pid = "cbandit/calibrated"
    tab = simulate(pid, preset, cfg, torch.Generator().manual_seed(0))
    lin = simulate(pid, preset, cfg.replace(policy="loglinear"), torch.Generator().manual_seed(0),
                   **{"policy.features": _one_hot_features(pid)})
    for col in tab.columns:
        if pd.api.types.is_float_dtype(tab[col]):
            np.testing.assert_allclose(lin[col], tab[col], rtol=1e-12, atol=1e-14, err_msg=col)
    # shared-parameter columns: linear z(θ) makes ∇_θH·Δθ the logit-space prediction, and with
    # one-hot features the SGD logit step is the tabular one (orthogonal by construction)
    np.testing.assert_allclose(lin["dH_pred_param"].dropna(), lin["dH_pred"].dropna(),
                               rtol=1e-12, atol=1e-15)
    if optimizer == "sgd":
        np.testing.assert_allclose(lin["dH_pred_orth"].dropna(), lin["dH_pred"].dropna(),
                                   rtol=1e-10, atol=1e-15)
    else:  # Adam has no tabular counterpart of the step: the column says so with NaN
        assert lin.loc[lin.step > 0, "dH_pred_orth"].isna().all()


def test_dh_pred_param_is_the_directional_derivative():
    """∇_θH·Δθ against a central finite difference of H(z(θ + εΔθ)) at θ_before."""
    from entropy_lab.sim.params import SimParams
    from entropy_lab.sim.record import snapshot

    problem = get_problem("prompts-many/calibrated")
    z0 = problem.init_logits(2).to(torch.float64)
    sp = SimParams(z0, "mlp", {"hidden": 8}, seed=1)
    with torch.no_grad():  # move off the W2 = 0 start so every parameter matters
        for p in sp.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(2),
                                     dtype=torch.float64))
    theta0 = sp.begin_step()
    before = snapshot(problem, sp.current(), 4)
    direction = {k: torch.randn(v.shape, generator=torch.Generator().manual_seed(3),
                                dtype=torch.float64) for k, v in theta0.items()}
    eps = 1e-5
    with torch.no_grad():
        for k, p in sp.policy.params.items():
            p.copy_(theta0[k] + direction[k])
    pred = sp.predictions(theta0, before.grad_entropy, lr=0.1, optimizer="adam")["dH_pred_param"]
    # a θ_before that begin_step did not hand out: its own forward, the same value
    copy = {k: v.clone() for k, v in theta0.items()}
    again = sp.predictions(copy, before.grad_entropy, lr=0.1, optimizer="adam")["dH_pred_param"]
    torch.testing.assert_close(again, pred, rtol=1e-13, atol=0)

    def h_at(scale):
        params = {k: theta0[k] + scale * direction[k] for k in theta0}
        return snapshot(problem, sp.policy.forward(params, sp.policy.fixed).detach(), 4).entropy

    fd = (h_at(eps) - h_at(-eps)) / (2 * eps)
    torch.testing.assert_close(pred, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("policy", ["loglinear", "lowrank", "mlp"])
def test_orthogonal_prediction_from_the_minibatch_rows(policy):
    """dH_pred_orth = ∇_zH·(−η Σ_m g_z^(m)) with each minibatch's ∂loss/∂z kept on its tokens'
    rows only, against the dense ∂loss/∂z of a loss through the full ``[B, S, K]`` logits
    (repeated states within and across minibatches)."""
    from entropy_lab.sim.params import SimParams

    problem = get_problem("prompts-many/calibrated")
    s, k = problem.num_states, problem.num_actions
    sp = SimParams(problem.init_logits(2).to(torch.float64), policy, seed=1)
    with torch.no_grad():  # off the start, so every parameter carries a gradient
        for p in sp.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(2),
                                     dtype=torch.float64))
    theta0 = sp.begin_step()
    gen = torch.Generator().manual_seed(3)
    ge = torch.randn(2, s, k, generator=gen, dtype=torch.float64)
    minibatches = [torch.tensor([[0, 5, 5], [7, 1, 7]]), torch.tensor([[5, 2, 0], [7, 7, 3]])]
    weights = [torch.randn(2, 3, k, generator=gen, dtype=torch.float64) for _ in minibatches]
    dense = torch.zeros(2, s, k, dtype=torch.float64)
    for states, w in zip(minibatches, weights):
        (torch.log_softmax(sp.state_logits(states), -1) * w).sum().backward()
        z = sp.logits().detach().requires_grad_(True)
        rows = torch.stack([z[b, states[b]] for b in range(2)])
        (g,) = torch.autograd.grad((torch.log_softmax(rows, -1) * w).sum(), z)
        dense += g
    got = sp.predictions(theta0, ge, lr=0.3, optimizer="sgd")["dH_pred_orth"]
    torch.testing.assert_close(got, (ge * (-0.3 * dense)).sum((1, 2)), rtol=1e-12, atol=1e-15)
    assert bool((got != 0).all())


def test_current_logits_follow_the_parameters():
    """The detached forward is evaluated once per θ: repeated calls give the same buffer, an
    in-place update (the optimizer's) gives the new logits."""
    from entropy_lab.sim.params import SimParams

    problem = get_problem("prompts-many/calibrated")
    sp = SimParams(problem.init_logits(2).to(torch.float64), "lowrank", seed=1)
    first = sp.current()
    assert sp.current().data_ptr() == first.data_ptr()
    with torch.no_grad():
        sp.policy.params["V"].add_(0.5)
    now = sp.current()
    assert now.data_ptr() != first.data_ptr() and not torch.equal(now, first)
    torch.testing.assert_close(now, sp.logits().detach(), rtol=0, atol=0)


@pytest.mark.parametrize("policy", ["loglinear", "lowrank", "mlp"])
def test_theorem1_holds_to_second_order_on_every_policy(policy):
    """dH_exact − dH_pred_param shrinks like η²: halving the learning rate divides the error of
    the first step (expected mode, so the step is deterministic) by 4 within 25%."""
    errs = []
    for lr in (0.02, 0.01):
        df = simulate("prompts-many/calibrated", "rloo",
                      CFG.replace(mode="expected", steps=1, lr=lr, policy=policy),
                      torch.Generator().manual_seed(0))
        row = df[df.step == 1]
        errs.append(float((row.dH_exact - row.dH_pred_param).abs().mean()))
    assert errs[1] > 0
    assert 3.0 < errs[0] / errs[1] < 5.0, errs


def test_shared_parameters_move_states_without_samples():
    """Two sampled steps on 2 of 64 prompts per batch: the tabular policy changes at most the
    4 sampled prompts' logits; a lowrank policy, once it moves at all, moves every prompt's."""
    cfg = CFG.replace(steps=2, n_prompts=2, group_size=4, k=2, seeds=4, lr=0.5)
    pid = "prompts-many/calibrated"
    num_states = get_problem(pid).num_states
    for policy in ("tabular", "lowrank"):
        res = run(pid, "rloo", cfg.replace(policy=policy), torch.Generator().manual_seed(0))
        z0 = run(pid, "rloo", cfg.replace(policy=policy, lr=1e-300),
                 torch.Generator().manual_seed(0)).logits
        changed = ((res.logits - z0).abs().amax(-1) > 1e-12).sum(-1)
        if policy == "tabular":
            assert bool((changed <= 4).all()), changed
        else:
            assert bool(((changed == 0) | (changed == num_states)).all()), changed
            assert bool((changed == num_states).any()), changed


@pytest.mark.parametrize("kwargs,overrides,match", [
    ({"policy": "transformer"}, {}, "policy"),
    ({"policy": "lowrank"}, {"policy.rank": 0}, "rank"),
    ({"policy": "loglinear"}, {"policy.features": torch.zeros(2, 2, 3)}, "features"),
    ({}, {"policy.rank": 4}, "tabular"),
    ({"policy": "mlp", "mode": "expected", "geometry": "natural"}, {}, "natural"),
])
def test_bad_policy_input(kwargs, overrides, match):
    with pytest.raises(InputError, match=match):
        simulate("prompts-many/calibrated", "rloo", CFG.replace(**kwargs), **overrides)


def test_exact_pass_at_k_beyond_the_group_size():
    """k = 256 > G: the exact column is written (and equals Σ_c w_c(1 − (1 − p_c)^k) at the
    start), the batch estimate is not."""
    df = simulate("prompts-many/calibrated", "grpo", CFG.replace(k=256, steps=1))
    assert "pass@256" in df and "pass@256_est" not in df
    problem = get_problem("prompts-many/calibrated")
    z = problem.init_logits(1)
    p = problem.success_prob(z)[0]
    want = float(((1 - (1 - p) ** 256) * problem.prompt_probs).sum())
    assert abs(float(df.loc[df.step == 0, "pass@256"].iloc[0]) - want) < 1e-12


@pytest.mark.parametrize("pid", ["prompts-many/calibrated", "tree/calibrated"])
def test_entropy_ceiling_column(pid):
    """Multi-prompt bandits with 0/1 correctness and token trees carry H_max(pass@1) per step:
    never below the entropy of the policy that has that success (the ceiling is a maximum over
    such policies), and equal to the problem's own entropy_ceiling at every step."""
    df = simulate(pid, "grpo", CFG.replace(optimizer="adam", steps=6))
    assert (df["H_max"] >= df["entropy"] - 1e-9).all()
    problem = get_problem(pid)
    want = problem.entropy_ceiling(torch.tensor(df["pass@1"].to_numpy())).numpy()
    np.testing.assert_allclose(df["H_max"].to_numpy(), want, rtol=1e-12, atol=0)
