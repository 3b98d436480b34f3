"""One override router, one r = 1 predicate, data arguments declared on registration.

Regression tests for two disagreements between the simulator and the algorithm package: the
simulator's own override router (no hyperparameter reset when a part is renamed) and a second
r = 1 predicate (signature defaults vs "missing key satisfies the limit").
"""

import inspect

import pandas as pd
import pytest
import torch

from entropy_lab.algorithms import Algorithm, apply_overrides, get_preset, hp_keys
from entropy_lab.algorithms.losses_common import get_loss, register_loss
from entropy_lab.sim import simulate
from entropy_lab.validation import InputError


def test_router_object_and_name_agree_after_loss_rename():
    # The object route used to raise "loss_hp has unknown keys ['dual_clip', ...]".
    by_obj = simulate("bandit/calibrated", get_preset("grpo"), loss="pg", steps=2)
    by_name = simulate("bandit/calibrated", "grpo", loss="pg", steps=2)
    pd.testing.assert_frame_equal(by_obj, by_name)


def test_router_is_get_preset():
    a = apply_overrides(get_preset("grpo"), loss="pg", epochs=2)
    assert a == get_preset("grpo", loss="pg", epochs=2)
    assert a.loss_hp == {}
    with pytest.raises(InputError, match="valid keys"):
        apply_overrides(get_preset("grpo"), zeta=1e-3)


def test_predicate_reads_signature_defaults():
    # entropy_bonus with loss_hp={} runs with its signature default coefficient, which is not 0.
    coef = inspect.signature(get_loss("entropy_bonus")).parameters["entropy_coef"].default
    assert coef != 0.0
    algo = Algorithm("x", "rloo", loss_name="entropy_bonus", loss_hp={})
    assert not algo.pg_at_ratio_one
    assert Algorithm("x", "rloo", loss_name="entropy_bonus",
                     loss_hp={"entropy_coef": 0.0}).pg_at_ratio_one
    # The expected mode uses the same predicate: it refuses this algorithm.
    with pytest.raises(InputError, match="ratio 1"):
        simulate("bandit/calibrated", algo, mode="expected", steps=1)


def test_data_arguments_are_not_hyperparameters():
    assert "sampler_logp" not in hp_keys("loss", "tis")
    assert "sampler_logp" not in hp_keys("loss", "icepop")
    assert "generator" not in hp_keys("loss", "clip_cov")
    assert "logits" not in hp_keys("loss", "entropy_bonus")
    assert get_loss("tis").data_args == frozenset({"sampler_logp"})
    with pytest.raises(InputError, match="data"):
        register_loss("bad_data_loss", data=("rewards",))


def test_sampler_logp_reaches_tis():
    """With sampler_logp the TIS loss is verl's layout (a different value from the plain one)."""
    g = torch.Generator().manual_seed(0)
    logp = torch.randn(4, 3, generator=g, dtype=torch.float64) - 1.0
    old = logp + 0.1 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    sampler = old + 0.5 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    adv = torch.randn(4, 3, generator=g, dtype=torch.float64)
    mask = torch.ones(4, 3, dtype=torch.bool)
    algo = Algorithm("tis", "grpo", loss_name="tis")
    state = algo.init_state(torch.zeros(()))
    plain, _ = algo.loss(logp, old, adv, mask, state)
    verl, _ = algo.loss(logp, old, adv, mask, state, sampler_logp=sampler)
    direct, _ = get_loss("tis")(logp, old, adv, mask, sampler_logp=sampler, agg=algo.agg)
    assert not torch.equal(plain, verl)
    assert torch.equal(verl, direct)
    # A loss that did not declare sampler_logp ignores it.
    ppo = Algorithm("ppo", "grpo", loss_name="ppo")
    s2 = ppo.init_state(torch.zeros(()))
    assert torch.equal(ppo.loss(logp, old, adv, mask, s2)[0],
                       ppo.loss(logp, old, adv, mask, s2, sampler_logp=sampler)[0])
