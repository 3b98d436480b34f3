"""Statistical tier: expected mode is the Monte Carlo mean of sampled mode, for every aggregation.

World and regime: ``mdp/calibrated`` (episodes of 1..10 actions: the mechanism — a sequence
weight that depends on the length — is present, checked below), one SGD step (lr 1e-2) from the
initial logits, G = 8. Sampled updates of B independent replicas are projected onto the expected
update's direction and onto one random orthogonal direction (entropy_lab/sim/expected_mc.py).

Decision rule, fixed before the first run: the expected mode is the mean of the sampled one when
|ratio − 1| < 4·se(ratio) and |orth| < 4·se(orth). ``token-mean`` is exact only in the
large-batch limit (weight 1/E_π[len]), so batches have N = 16 prompts (N·G = 128 sequences);
for the other aggregations the expectation does not depend on N.
"""

import types

import pytest
import torch

from entropy_lab.algorithms.aggregation import aggregation_names
from entropy_lab.problems import get_problem
from entropy_lab.sim import expected as exp
from entropy_lab.sim.aggregation_weights import AGG_WEIGHTS, LengthWeighting
from entropy_lab.sim.config import SimConfig
from entropy_lab.sim.expected_mc import compare_expected_sampled
from entropy_lab.sim.loop import run
from entropy_lab.validation import InputError

Z_MAX = 4.0
# preset, overrides: a group advantage, an affine one (rloo), an affine one with a0 != 0
ESTIMATORS = [("grpo", {}), ("rloo", {}), ("rloo", {"advantage": "reinforce", "baseline": 0.3})]


def _budget(seeds: int) -> dict:
    """N = 16 prompts per batch (token-mean's large-batch regime; for the other aggregations N
    only divides the per-replica variance) for B = ``seeds`` replicas."""
    return {"n_prompts": 16, "seeds": seeds}


def _assert_rule(c, what: str) -> None:
    assert abs(c.ratio - 1.0) < Z_MAX * c.ratio_se, (
        f"{what}: ratio {c.ratio:.4f} ± {c.ratio_se:.4f} (B={c.seeds}) is not 1 within "
        f"{Z_MAX}·se")
    assert abs(c.orth) < Z_MAX * c.orth_se, (
        f"{what}: orthogonal {c.orth:+.4f} ± {c.orth_se:.4f} (B={c.seeds}) is not 0 within "
        f"{Z_MAX}·se")


def test_mechanism_present():
    """Lengths vary: E[1/len] is far from 1/T, so a fixed 1/T weight would be wrong."""
    mdp = get_problem("mdp/calibrated")
    roll = mdp.sample(mdp.init_logits(1), 500, 8, torch.Generator().manual_seed(0))
    lengths = roll.lengths.reshape(-1)
    assert float(lengths.min()) < float(lengths.max())
    assert float((1.0 / lengths.clamp(min=1)).mean()) * mdp.horizon > 1.5


@pytest.mark.parametrize("preset,overrides", ESTIMATORS, ids=["grpo", "rloo", "reinforce_b"])
@pytest.mark.parametrize("agg", aggregation_names())
def test_expected_is_sampled_mean_mdp(agg, preset, overrides):
    c = compare_expected_sampled("mdp/calibrated", preset, agg=agg, **_budget(125),
                                 **overrides)
    _assert_rule(c, f"mdp/calibrated {preset} {overrides} {agg}")


def test_rule_rejects_the_fixed_length_factor(monkeypatch):
    """The test has power: with the old c_agg = 1/T on the MDP it fails."""
    monkeypatch.setattr(exp, "aggregation_factor", lambda algorithm, problem, geometry=None:
                        1.0 / problem.horizon)
    c = compare_expected_sampled("mdp/calibrated", "grpo", agg="seq-mean-token-mean", **_budget(60))
    assert abs(c.ratio - 1.0) > Z_MAX * c.ratio_se


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["mdp/calibrated", "mdp/uncorrelated", "tree/calibrated"])
@pytest.mark.parametrize("preset,overrides", ESTIMATORS, ids=["grpo", "rloo", "reinforce_b"])
@pytest.mark.parametrize("agg", aggregation_names())
def test_expected_is_sampled_mean_slow(problem, agg, preset, overrides):
    c = compare_expected_sampled(problem, preset, agg=agg, **_budget(1000), **overrides)
    _assert_rule(c, f"{problem} {preset} {overrides} {agg}")


# ---------------------------------------------------------------------------- exact tier
def test_every_aggregation_has_a_weight():
    assert set(AGG_WEIGHTS.names()) == set(aggregation_names())


@pytest.mark.parametrize("pid", ["bandit/calibrated", "tree/calibrated", "cbandit/calibrated"])
def test_fixed_length_factor_is_one_over_t(pid):
    """Fixed-length problems keep c_agg = 1 / 1/norm / 1/T (floats, as before lengths were
    weighted)."""
    problem = get_problem(pid)
    for agg in aggregation_names():
        algo = types.SimpleNamespace(agg=agg, loss_hp={})
        want = 1.0 if agg == "seq-mean-token-sum" else 1.0 / problem.horizon
        assert exp.aggregation_factor(algo, problem) == want
    algo = types.SimpleNamespace(agg="seq-mean-token-sum-norm", loss_hp={"agg_norm": 7})
    assert exp.aggregation_factor(algo, problem) == 1.0 / 7


def test_variable_length_weightings():
    mdp = get_problem("mdp/calibrated")
    kinds = {agg: exp.aggregation_factor(types.SimpleNamespace(agg=agg, loss_hp={}), mdp)
             for agg in aggregation_names()}
    assert kinds["seq-mean-token-sum"] == 1.0
    assert kinds["seq-mean-token-sum-norm"] == 1.0 / mdp.horizon
    assert isinstance(kinds["token-mean"], LengthWeighting)
    w = kinds["seq-mean-token-mean"]
    assert w.kind == "per-sequence"
    torch.testing.assert_close(w.weights, torch.tensor([0.0] + [1 / n for n in range(1, 11)],
                                                       dtype=torch.float64))


def test_unregistered_aggregation_is_refused():
    algo = types.SimpleNamespace(agg="my-agg", loss_hp={})
    with pytest.raises(InputError, match=r"'my-agg'.*'mdp/calibrated'.*seq-mean-token-mean"):
        exp.aggregation_factor(algo, get_problem("mdp/calibrated"))


def test_natural_geometry_with_per_sequence_weight_is_refused():
    cfg = SimConfig(mode="expected", steps=1, seeds=1, geometry="natural")
    with pytest.raises(InputError, match=r"geometry.*seq-mean-token-mean.*mdp/calibrated"):
        run("mdp/calibrated", "rloo", cfg, agg="seq-mean-token-mean")
    run("mdp/calibrated", "rloo", cfg, agg="token-mean")  # a per-batch weight is allowed


def test_non_affine_advantage_is_refused():
    from entropy_lab.sim.aggregation_weights import affine_advantage

    assert affine_advantage(lambda r: r - r.mean(-1, keepdim=True) * 8 / 7, 8) == pytest.approx(
        (1 - 1 / 7, -1.0, 0.0))
    with pytest.raises(InputError, match="affine"):
        affine_advantage(lambda r: r**2, 4)


@pytest.mark.parametrize("preset", ["grpo", "rloo"])
@pytest.mark.parametrize("agg", aggregation_names())
def test_expected_is_sampled_mean_loglinear_policy(agg, preset):
    """A policy with parameters shared across states (log-linear, 8 random features fixed for
    every replica, θ_0 = 0, so all replicas start from one θ): the expected update is the
    logit gradient pulled back through z(θ) (entropy_lab/sim/params.py). Same rule as above;
    the update compared is the logit change Δz = z(θ_1) − z(θ_0)."""
    mdp = get_problem("mdp/calibrated")
    features = torch.randn(mdp.num_states, mdp.num_actions, 8,
                           generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    c = compare_expected_sampled("mdp/calibrated", preset, agg=agg, policy="loglinear",
                                 **{"policy.features": features}, **_budget(125))
    _assert_rule(c, f"loglinear {preset}/{agg}")


@pytest.mark.parametrize("policy,options", [("lowrank", {"rank": 3}), ("mlp", {"hidden": 8})])
@pytest.mark.parametrize("agg", ["seq-mean-token-sum", "seq-mean-token-mean"])
def test_expected_is_sampled_mean_nonlinear_policies(policy, options, agg):
    """lowrank and mlp policies, all replicas from one θ_0 (``shared_init``): z(θ) is nonlinear,
    but one SGD step is linear in the gradient at θ_0, so the expected step (the exact logit
    gradient pulled back through z(θ)) is the mean of the sampled ones. The logit change
    includes the step's second-order term (lowrank: ΔU·ΔV), so lr is small. Same rule."""
    kw = {f"policy.{k}": v for k, v in {**options, "shared_init": True}.items()}
    c = compare_expected_sampled("mdp/calibrated", "grpo", agg=agg, policy=policy, lr=1e-4,
                                 **kw, **_budget(125))
    _assert_rule(c, f"{policy} grpo/{agg}")
