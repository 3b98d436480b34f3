"""Algorithm, AlgoState and presets: composition, overrides, schedules, controllers, resume."""

from __future__ import annotations

import pytest
import torch

from entropy_lab.algorithms import (
    Algorithm,
    broadcast_advantages,
    get_loss,
    get_preset,
    ppo,
    preset_names,
    register_preset,
    repo_r,
)
from entropy_lab.algorithms.presets import PRESETS
from entropy_lab.validation import InputError

F64 = torch.float64
ALL = ["grpo", "dr_grpo", "rloo", "ppo", "dapo", "gspo", "cispo", "clip_cov", "kl_cov",
       "entropy_bonus", "adaptive_entropy", "repo", "repo_r", "repo_d", "adapo",
       "tis", "icepop", "psr", "nsr", "w_reinforce"]
S, N, G, T, K = 2, 3, 4, 5, 6


def test_every_listed_preset_is_registered():
    assert set(ALL) == set(preset_names())


def _rollout(seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(S, N * G, T, K, generator=g, dtype=F64)
    tok = torch.randint(0, K, (S, N * G, T), generator=g)
    logp = torch.log_softmax(logits, -1).gather(-1, tok[..., None])[..., 0]
    mask_ngt = (torch.rand(S, N, G, T, generator=g) < 0.8).to(F64)
    mask_ngt[..., 0] = 1
    rewards = (torch.rand(S, N, G, generator=g) < 0.5).to(F64)
    return logits, logp, mask_ngt, rewards


@pytest.mark.parametrize("name", ALL)
def test_one_iteration_runs_for_every_preset(name):
    algo = get_preset(name)
    logits, logp, mask_ngt, rewards = _rollout()
    state = algo.init_state(torch.tensor([1.0, 2.0], dtype=F64))
    mask = mask_ngt.flatten(-3, -2)
    adv = algo.shape(broadcast_advantages(algo.advantages(rewards), mask_ngt).flatten(-3, -2),
                     logp, mask, state)
    assert adv.shape == logp.shape and (adv[mask == 0] == 0).all()
    theta = logits.clone().requires_grad_(True)
    sets = algo.schedule(N * G, torch.Generator().manual_seed(1))
    assert len(sets) == algo.epochs * algo.minibatches
    tok = torch.zeros_like(logp, dtype=torch.long)[..., None]
    for idx in sets:
        new_logp = torch.log_softmax(theta, -1).gather(-1, tok)[..., 0]
        loss, metrics = algo.loss(new_logp[:, idx], logp[:, idx], adv[:, idx], mask[:, idx],
                                  state, logits=theta[:, idx] if algo.needs_logits else None)
        assert loss.shape == (S,) and "clip/frac" in metrics
        loss.sum().backward()
    assert torch.isfinite(theta.grad).all()
    state.update(torch.tensor([0.5, 2.5], dtype=F64))
    assert all(v.shape == (S,) for v in state.values().values())


def test_rloo_is_strictly_on_policy_and_schedule_partitions():
    assert get_preset("rloo").on_policy
    sets = get_preset("rloo").schedule(6, torch.Generator().manual_seed(0))
    assert len(sets) == 1 and sets[0].tolist() == list(range(6))
    algo = get_preset("ppo")                                 # 2 epochs × 4 minibatches
    sets = algo.schedule(10, torch.Generator().manual_seed(0))
    for e in range(2):
        joined = torch.cat(sets[4 * e: 4 * e + 4]).sort().values
        assert joined.tolist() == list(range(10))
    assert [len(s) for s in algo.schedule(10)] == [3, 3, 2, 2] * 2


def test_flat_dotted_and_renaming_overrides():
    a = get_preset("dapo", eps_high=0.3, minibatches=8)
    assert a.loss_hp["eps_high"] == 0.3 and a.minibatches == 8
    b = get_preset("adapo", eps_high=0.3)                    # loss and controller both
    assert b.loss_hp["eps_high"] == 0.3 and b.controller_hp["eps_high"] == 0.3
    c = get_preset("repo_r", **{"controller.zeta_max": 0.02})
    assert c.controller_hp["zeta_max"] == 0.02
    d = get_preset("grpo", loss="cispo", eps_high=5.0)
    assert d.loss_name == "cispo" and d.loss_hp == {"eps_low": 0.2, "eps_high": 5.0}
    with pytest.raises(InputError, match="valid keys: .*eps_high"):
        get_preset("dapo", eps_hihg=0.3)


def test_controller_values_reach_the_loss_and_the_shaping():
    logits, logp, mask_ngt, rewards = _rollout(1)
    mask = mask_ngt.flatten(-3, -2)
    adv = torch.randn(logp.shape, generator=torch.Generator().manual_seed(2), dtype=F64)
    old = logp + 0.3
    adapo = get_preset("adapo")
    st = adapo.init_state(torch.tensor([1.0, 1.0], dtype=F64))
    st.update(torch.tensor([0.5, 1.5], dtype=F64))         # ε_high: 0.308 and 0.28/1.1
    eps = st.values()["eps_high"]
    torch.testing.assert_close(eps, torch.tensor([0.308, 0.28 / 1.1], dtype=F64))
    loss, _ = adapo.loss(logp, old, adv, mask, st)
    for i in range(S):
        ref, _ = ppo(logp[i], old[i], adv[i], mask[i], eps_low=0.2, eps_high=float(eps[i]))
        torch.testing.assert_close(loss[i], ref)
    rr = get_preset("repo_r")
    st = rr.init_state(torch.tensor([1.0, 1.0], dtype=F64))
    st.update(torch.tensor([0.5, 1.5], dtype=F64))         # ζ: 2e-3 and 5e-4
    shaped = rr.shape(adv, logp, mask, st)
    ref = repo_r(adv, logp, zeta=torch.tensor([2e-3, 5e-4], dtype=F64)) * mask
    torch.testing.assert_close(shaped, ref)


def test_repo_r_form_reaches_the_shaping():
    _, logp, mask_ngt, _ = _rollout(1)
    mask = mask_ngt.flatten(-3, -2)
    adv = torch.randn(logp.shape, generator=torch.Generator().manual_seed(4), dtype=F64)
    ell = logp + 1.25                                      # L = log π + H with H = 1.25
    assert get_preset("repo_r").shaping_hp["form"] == "raw"
    algo = get_preset("repo_r", form="centred", **{"controller.zeta_max": 0.1})
    assert algo.shaping_hp["form"] == "centred"
    st = algo.init_state(torch.tensor([1.0, 1.0], dtype=F64))
    shaped = algo.shape(adv, logp, mask, st, centered_logprob_bt=ell)
    ref = repo_r(adv, logp, zeta=1e-3, form="centred", centered_logprob=ell) * mask
    torch.testing.assert_close(shaped, ref)
    raw = get_preset("repo_r").shape(adv, logp, mask, st, centered_logprob_bt=ell)
    torch.testing.assert_close(raw - shaped, 1e-3 * adv.abs() * 1.25 * mask)
    with pytest.raises(InputError, match="centered_logprob=None"):
        algo.shape(adv, logp, mask, st)


def test_repo_d_uses_state_entropy_and_target():
    algo = get_preset("repo_d", **{"controller.zeta": 0.1, "controller.zeta_max": 0.5})
    st = algo.init_state(torch.tensor(1.5, dtype=F64))
    st.update(torch.tensor(1.0, dtype=F64))                # ζ doubles to 0.2; ΔH = 0.5
    out = algo.shape(torch.tensor([[1.0]], dtype=F64), torch.tensor([[-2.0]], dtype=F64),
                     torch.ones(1, 1), st)
    torch.testing.assert_close(out, torch.tensor([[1.0 + 0.2 * 0.5 * 2.0]], dtype=F64))


def test_state_dict_resume():
    algo = get_preset("repo_r")
    a = algo.init_state(torch.ones(2, dtype=F64))
    for h in (0.5, 0.4, 1.2):
        a.update(torch.full((2,), h, dtype=F64))
    b = algo.init_state(torch.ones(2, dtype=F64))
    b.load_state_dict(a.state_dict())
    for h in (0.2, 1.9):
        a.update(torch.full((2,), h, dtype=F64))
        b.update(torch.full((2,), h, dtype=F64))
    for k, v in a.values().items():
        torch.testing.assert_close(b.values()[k], v, rtol=0, atol=0)
    assert torch.equal(torch.rand(3, generator=a.generator), torch.rand(3, generator=b.generator))


def test_pg_at_ratio_one():
    assert get_preset("grpo").pg_at_ratio_one and get_preset("kl_cov").pg_at_ratio_one
    assert not get_preset("clip_cov").pg_at_ratio_one        # selects tokens by default
    assert not get_preset("entropy_bonus").pg_at_ratio_one   # coefficient 1e-3
    assert get_preset("entropy_bonus", entropy_coef=0.0).pg_at_ratio_one
    assert not get_preset("adaptive_entropy").pg_at_ratio_one  # starts at 0, controller moves it


def test_algorithm_validation():
    with pytest.raises(InputError, match="loss_hp has unknown keys"):
        Algorithm("x", loss_name="ppo", loss_hp={"zeta": 1.0})
    with pytest.raises(InputError, match="controller"):
        Algorithm("x", controller="zeta")                   # no shaping takes ζ
    with pytest.raises(InputError, match="logits"):
        algo = get_preset("entropy_bonus")
        st = algo.init_state(torch.ones(()))
        x = torch.zeros(2, 3, dtype=F64)
        algo.loss(x, x, x, torch.ones(2, 3), st)


def test_user_registered_preset():
    @register_preset("my_clip_higher")
    def _():
        return Algorithm("my_clip_higher", "rloo", loss_name="ppo",
                         loss_hp={"eps_low": 0.2, "eps_high": 0.4, "dual_clip": None})

    try:
        assert "my_clip_higher" in preset_names()
        assert get_preset("my_clip_higher", eps_high=0.5).loss_hp["eps_high"] == 0.5
        assert get_loss(get_preset("my_clip_higher").loss_name) is ppo
    finally:
        PRESETS.unregister("my_clip_higher")
