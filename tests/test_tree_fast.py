"""The token tree's closed-form passes (entropy_lab/problems/tree_dp.py) against autograd through
the differentiable level-by-level forward pass they replace in the simulator (``visits``,
``state_entropy``, ``success_prob``, ``expected_reward``), and simulator frames with the closed
forms against frames from the generic autograd snapshot and update (``exact_terms`` -> None)."""

from __future__ import annotations

import pytest
import torch

from entropy_lab.problems import PromptTree, TokenTree, get_problem, tree_dp
from entropy_lab.problems.base import TabularProblem, take_buffer
from entropy_lab.sim import SimConfig, simulate

TOL = 1e-12


def _random_tree(v: int, t: int, gen: torch.Generator) -> TokenTree:
    rewards = (torch.rand(v**t, generator=gen, dtype=torch.float64) < 0.3).to(torch.float64)
    rewards[0] = 1.0
    return TokenTree(v, t, rewards)


def _logits(prob, seeds: int, gen: torch.Generator, scale: float = 2.0) -> torch.Tensor:
    shape = (seeds, prob.num_states, prob.num_actions)
    return scale * torch.randn(shape, generator=gen, dtype=torch.float64)


def _autograd_reference(prob, z: torch.Tensor, coef_bc: torch.Tensor) -> dict:
    """Every snapshot quantity by autograd through the problem's differentiable forward."""
    zz = z.clone().requires_grad_(True)
    v_bs = prob.visits(zz)
    seq_b = (v_bs * prob.state_entropy(zz)).sum(-1)
    h_b = seq_b / v_bs.sum(-1)
    (grad_h,) = torch.autograd.grad(h_b.sum(), zz)
    p_bc = prob.success_prob(zz)
    (grad_p,) = torch.autograd.grad((coef_bc * p_bc).sum(), zz)
    with torch.no_grad():
        logp = torch.log_softmax(z, -1)
        h_bs = -(logp.exp() * logp).sum(-1)
        p_centred = (logp + h_bs[..., None]) * logp.exp()
        return {"entropy": h_b.detach(), "entropy_seq": seq_b.detach(), "grad_entropy": grad_h,
                "success": p_bc.detach(), "success_grad": grad_p,
                "J": prob.expected_reward(z),
                "weights": (v_bs / v_bs.sum(-1, keepdim=True)).detach(), "p_centred": p_centred}


def _check(prob, z, gen, chunk_bytes, monkeypatch, nontrivial=True):
    monkeypatch.setattr(tree_dp, "CHUNK_BYTES", chunk_bytes)
    coef = torch.rand(z.shape[0], prob.num_prompts, generator=gen, dtype=torch.float64) - 0.5
    want = _autograd_reference(prob, z, coef)
    got = prob.exact_terms(z)
    worst = {}
    for key, ref in want.items():
        value = got.success_grad(coef) if key == "success_grad" else getattr(got, key)
        assert value.shape == ref.shape, key
        worst[key] = float((value - ref).abs().max())
    assert max(worst.values()) <= TOL, worst
    assert all(bool(torch.isfinite(getattr(got, k)).all()) for k in ("entropy", "grad_entropy"))
    if not nontrivial:
        return
    # the gradients are not trivially small: the comparison can fail
    assert float(want["grad_entropy"].abs().max()) > 1e-3
    assert float(want["success_grad"].abs().max()) > 1e-4


@pytest.mark.parametrize("v,t", [(2, 1), (3, 2), (2, 5), (4, 4), (6, 3)])
@pytest.mark.parametrize("chunk_bytes", [tree_dp.CHUNK_BYTES, 1])
def test_tree_closed_forms_equal_autograd(v, t, chunk_bytes, monkeypatch):
    gen = torch.Generator().manual_seed(100 * v + t)
    prob = _random_tree(v, t, gen)
    _check(prob, _logits(prob, 33, gen), gen, chunk_bytes, monkeypatch)


@pytest.mark.parametrize("chunk_bytes", [tree_dp.CHUNK_BYTES, 1])
def test_prompt_tree_closed_forms_equal_autograd(chunk_bytes, monkeypatch):
    gen = torch.Generator().manual_seed(5)
    v, t, c = 3, 3, 4
    rewards = (torch.rand(c, v**t, generator=gen, dtype=torch.float64) < 0.4).to(torch.float64)
    prob = PromptTree(v, t, rewards, torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64))
    _check(prob, _logits(prob, 17, gen), gen, chunk_bytes, monkeypatch)
    _check(get_problem("prompts-tree/calibrated"), _logits(get_problem(
        "prompts-tree/calibrated"), 3, gen), gen, chunk_bytes, monkeypatch)


def test_large_logits_stay_finite_and_exact(monkeypatch):
    """The row max is subtracted before exp: logits of ±400 give the autograd numbers."""
    gen = torch.Generator().manual_seed(9)
    prob = _random_tree(3, 3, gen)
    z = _logits(prob, 8, gen, scale=1.0)
    z[:, :, 0] += 400.0
    z[0] -= 800.0
    _check(prob, z, gen, tree_dp.CHUNK_BYTES, monkeypatch, nontrivial=False)


def test_grad_j_equals_autograd_of_expected_reward():
    gen = torch.Generator().manual_seed(3)
    prob = _random_tree(4, 3, gen)
    z = _logits(prob, 20, gen)
    zz = z.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(prob.expected_reward(zz).sum(), zz)
    assert float((prob.grad_J(z) - want).abs().max()) <= TOL
    assert float(want.abs().max()) > 1e-3


def test_workspace_buffers_give_the_same_numbers_bitwise():
    """Spare buffers full of garbage (and of another shape with the same size) are overwritten
    before they are read."""
    gen = torch.Generator().manual_seed(4)
    prob = _random_tree(3, 3, gen)
    z = _logits(prob, 6, gen)
    fresh = prob.exact_terms(z)
    workspace = [torch.full((z.numel(),), float("nan"), dtype=torch.float64) for _ in range(4)]
    reused = prob.exact_terms(z, workspace)
    assert workspace == []
    for key in ("entropy", "J", "success", "grad_entropy", "weights", "p_centred"):
        assert torch.equal(getattr(fresh, key), getattr(reused, key)), key
    coef = torch.ones(6, 1, dtype=torch.float64)
    assert torch.equal(fresh.success_grad(coef), reused.success_grad(coef))


def test_take_buffer():
    like = torch.zeros(2, 3, dtype=torch.float64)
    other, match = torch.zeros(7, dtype=torch.float64), torch.zeros(6, dtype=torch.float64)
    workspace = [other, match]
    got = take_buffer(workspace, like)
    assert got.shape == like.shape and got.data_ptr() == match.data_ptr()
    assert workspace == [other]
    assert take_buffer(workspace, like) is None
    assert take_buffer(None, like, new=True).shape == like.shape


def _frames(problem_id, monkeypatch, generic: bool, **cfg):
    if generic:  # the interface's differentiable definitions, as before the closed forms
        monkeypatch.setattr(type(get_problem(problem_id)), "exact_terms",
                            TabularProblem.exact_terms)
    base = {"steps": 6, "seeds": 16, "k": 8, "group_size": 8, "lr": 1.0}
    frame = simulate(problem_id, "grpo", SimConfig(**{**base, **cfg}),
                     torch.Generator().manual_seed(1), minibatches=1)
    monkeypatch.undo()
    return frame


@pytest.mark.parametrize("problem_id,cfg", [
    ("tree/calibrated", {"mode": "expected"}),
    ("tree/anti", {"mode": "expected", "optimizer": "adam", "lr": 0.1}),
    ("tree/calibrated", {"mode": "sampled", "n_prompts": 2}),
    ("prompts-tree/mixed", {"mode": "expected"}),
])
def test_sim_frames_equal_the_generic_autograd_path(problem_id, cfg, monkeypatch):
    new = _frames(problem_id, monkeypatch, False, **cfg)
    old = _frames(problem_id, monkeypatch, True, **cfg)
    assert list(new.columns) == list(old.columns)
    numeric = [c for c in old.columns if old[c].dtype.kind == "f"]
    diff = (new[numeric] - old[numeric]).abs().max()
    assert float(diff.max()) <= TOL, diff[diff > TOL]
    assert (new[numeric].isna() == old[numeric].isna()).all().all()
    assert float(new["dH_exact"].abs().max()) > 1e-6  # the policy moved
