"""Bad input to the simulator: one table, every error names the field, the value and the rule."""

import pytest
import torch

from entropy_lab.sim import SimConfig, simulate
from entropy_lab.validation import InputError

TINY = dict(steps=1, seeds=1, n_prompts=1, group_size=4, k=2)


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": 0.0}, r"lr=0\.0 is not allowed: expected a finite number > 0"),
    ({"lr": -1.0}, r"lr=-1\.0"),
    ({"lr": float("nan")}, r"lr=nan"),
    ({"steps": 0}, r"steps=0 is not allowed: expected an integer >= 1"),
    ({"steps": 2.5}, r"steps=2\.5"),
    ({"seeds": 0}, r"seeds=0"),
    ({"group_size": 0}, r"group_size=0"),
    ({"optimizer": "rmsprop"}, r"optimizer='rmsprop'.*'sgd', 'adam'"),
    ({"mode": "exact"}, r"mode='exact'.*'sampled', 'expected'"),
    ({"rng": "numpy"}, r"rng='numpy'"),
    ({"geometry": "fisher"}, r"geometry='fisher'"),
    ({"switch_task_at": 5, "steps": 3}, r"switch_task_at=5 is not allowed: expected an integer"),
    ({"precision": 3}, r"precision=3"),
    ({"precision": "bf17"}, r"precision='bf17' is not allowed: expected one of 'exact', .*'bf16'"),
])
def test_config_rejects(kwargs, match):
    with pytest.raises(InputError, match=match):
        SimConfig(**kwargs)


def test_k_may_exceed_g_in_expected_mode():
    """pass@k is exact there (not estimated from the G samples)."""
    assert SimConfig(mode="expected", k=64, group_size=8).k == 64


@pytest.mark.parametrize("problem, algo, kwargs, match", [
    ("bandit/nope", "grpo", {}, r"unknown problem 'bandit/nope'; choose one of: .*'bandit/anti'"),
    ("bandit/calibrated", "grpx", {}, r"unknown preset 'grpx'|unknown .*'grpx'.*'grpo'"),
    ("bandit/calibrated", "grpo", {"group_size": 1, "k": 1},
     r"group_size=1 is not allowed: expected >= 2 for the group advantage 'grpo'"),
    ("bandit/calibrated", "grpo", {"not_a_key": 1}, r"not_a_key"),
    ("bandit/calibrated", "grpo", {"geometry": "natural"}, r"geometry='natural'.*mode='expected'"),
    ("bandit/calibrated", "grpo", {"mode": "expected"}, r"epochs × minibatches == 1"),
    ("bandit/calibrated", "repo_r", {"mode": "expected", "minibatches": 1}, r"no advantage shap"),
    ("bandit/calibrated", "grpo", {"mode": "expected", "minibatches": 1, "geometry": "natural"},
     r"geometry='natural'.*'vanilla' for advantage 'grpo'"),
    ("bandit/calibrated", "grpo", {"mode": "expected", "minibatches": 1,
                                   "problem.reward_lo": 0.5}, r"needs binary rewards"),
    ("bandit/calibrated", "grpo", {"problem.num_arms": 1}, r"num_arms=1"),
    ("bandit/calibrated", "adaptive_entropy", {"mode": "expected", "minibatches": 1},
     r"gradient at ratio 1 is the policy gradient"),
    ("bandit/calibrated", "entropy_bonus", {"mode": "expected", "minibatches": 1},
     r"gradient at ratio 1 is the policy gradient"),
])
def test_simulate_rejects(problem, algo, kwargs, match):
    with pytest.raises((InputError, KeyError), match=match):
        simulate(problem, algo, SimConfig(**TINY), **kwargs)


def test_unknown_pipeline_name_lists_choices():
    pytest.importorskip("entropy_lab.precision")
    with pytest.raises((InputError, KeyError), match="bf17"):
        simulate("bandit/calibrated", "grpo", SimConfig(**TINY, precision="bf17"))


def test_overrides_reach_config_algorithm_and_problem():
    df = simulate("bandit/calibrated", "grpo", SimConfig(**TINY), steps=2, eps_high=0.31,
                  **{"problem.num_arms": 6})
    assert df.attrs["config"]["steps"] == 2
    assert df.attrs["algorithm"]["loss_hp"]["eps_high"] == 0.31
    assert torch.tensor(df.J.to_numpy()).isfinite().all()
