"""The simulator-based paper checks (claims 3, 5, 7, 10-17): their helpers on hand-made frames,
and each check end to end on its quick budget (well-formed result, numbers present)."""

import importlib
import math

import numpy as np
import pandas as pd
import pytest

from entropy_lab.checks import CHECKS, VERDICTS, CheckResult, load_check_modules, run_check
from entropy_lab.project import project_root

load_check_modules(project_root() / "paper_checks")
common = importlib.import_module("paper_checks._sim_common")
claim03 = importlib.import_module("paper_checks.claim03_sign_law_dynamics")
claim13 = importlib.import_module("paper_checks.claim13_off_policy_collapse")
claim17 = importlib.import_module("paper_checks.claim17_repo_r_form")

FAST = ["claim03_sign_law_dynamics", "claim05_repo_r_entropy", "claim10_passk_collapse",
        "claim12_sequential", "claim13_off_policy_collapse", "claim10_passk_shared",
        "claim12_sequential_shared", "claim15_cui_entropy_law", "claim16_nsr_psr",
        "claim16_nsr_psr_tree", "claim17_repo_r_form"]
SLOW = ["claim07_clip_higher", "claim07_clip_higher_prefix", "claim11_cum_entropy",
        "claim14_cov_peers",
        "claim05_repo_r_fronts", "claim14_cov_fronts", "claim11_cum_entropy_shared"]


def _frame(entropy_bt, j_bt):
    """A tidy frame (seed, step, entropy, J) from ``[B, T]`` arrays."""
    b, t = np.shape(entropy_bt)
    return pd.DataFrame({
        "seed": np.repeat(np.arange(b), t), "step": np.tile(np.arange(t), b),
        "entropy": np.ravel(entropy_bt), "J": np.ravel(j_bt),
    })


def test_mean_se_matches_hand_computation():
    m, se = common.mean_se([1.0, 2.0, 3.0, 6.0])
    assert m == 3.0
    # sample sd = sqrt(((−2)² + (−1)² + 0² + 3²)/3) = sqrt(14/3); se = sd/2
    assert se == pytest.approx(math.sqrt(14 / 3) / 2, rel=1e-15)


def test_at_step_and_matrix_follow_seed_order():
    df = _frame([[1.0, 0.5, 0.25], [2.0, 1.0, 0.5]], [[0, 0, 0], [0, 0, 0]]).iloc[::-1]
    np.testing.assert_array_equal(common.at_step(df, "entropy"), [0.25, 0.5])
    np.testing.assert_array_equal(common.at_step(df, "entropy", 0), [1.0, 2.0])
    np.testing.assert_array_equal(common.per_seed_matrix(df, "entropy"),
                                  [[1.0, 0.5, 0.25], [2.0, 1.0, 0.5]])
    np.testing.assert_array_equal(common.entropy_ratio(df), [0.25, 0.25])


def test_rounded_keeps_significant_digits_and_non_floats():
    out = common.rounded({"a": 1.23456e-7, "b": 12345.678, "c": True, "d": float("nan")})
    assert out["a"] == 1.235e-7 and out["b"] == 12350.0 and out["c"] is True
    assert math.isnan(out["d"])


def test_entropy_at_reward_first_crossing_and_never():
    # seed 0 reaches J 0.8 at step 2 (H 0.5 of 2.0); seed 1 never does
    df = _frame([[2.0, 1.5, 1.0, 0.5], [1.0, 0.9, 0.8, 0.7]],
                [[0.1, 0.5, 0.8, 0.9], [0.1, 0.2, 0.3, 0.4]])
    out = claim13.entropy_at_reward(df, 0.8)
    assert out[0] == 0.5 and math.isnan(out[1])


@pytest.mark.parametrize("cal, unc, anti, expected", [
    ((-1.0, 0.1), (0.05, 0.1), (1.0, 0.1), True),
    ((-1.0, 0.6), (0.05, 0.1), (1.0, 0.1), False),   # calibrated fall within 2 SE of 0
    ((-1.0, 0.1), (0.30, 0.1), (1.0, 0.1), False),   # uncorrelated above 0.25 × |calibrated|
    ((-1.0, 0.0), (0.00, 0.0), (-0.1, 0.0), False),  # anti-calibrated falls
])
def test_sign_law_rule(cal, unc, anti, expected):
    assert claim03._law_holds(cal, unc, anti) is expected


@pytest.mark.parametrize("s_row, t_row, verdict, outcome", [
    (((-0.3, 0.1), 0.5), ((-0.3, 0.1), 0.5), "reproduced", ("lowers", "lowers")),
    (((-0.3, 0.1), 0.5), ((-0.1, 0.1), 0.5), "partly", ("lowers", "no difference")),
    (((-0.3, 0.1), 0.05), ((0.3, 0.1), 0.5), "not reproduced", ("inactive", "reversed")),
    (((-0.2, 0.1), 0.5), ((0.0, 0.0), 0.5), "not reproduced", ("no difference",) * 2),
])
def test_claim17_rule(s_row, t_row, verdict, outcome):
    # d = −0.2 with SE 0.1 sits on the −2 SE line: not "lowers"; m = 0.05 < 0.1: inactive
    rows = {name: {"dH": dh, "mechanism_raw": m} for name, (dh, m) in
            (("S", s_row), ("T", t_row))}
    assert claim17.decide(rows) == (verdict, dict(zip(("S", "T"), outcome)))


def test_claim17_mechanism_is_zeta_times_abs_a_h_over_abs_shaped():
    # step 0 is ignored; rows: |ζ|·|A|H/|A'| = 0.1·2/1 = 0.2 and 0.2·1/0.5 = 0.4 -> mean 0.3
    df = pd.DataFrame({"step": [0, 1, 1], "zeta": [9.0, 0.1, -0.2],
                       "shape/abs_adv_entropy": [9.0, 2.0, 1.0],
                       "shape/abs_shaped": [1.0, 1.0, 0.5]})
    assert claim17.mechanism(df) == pytest.approx(0.3, rel=1e-12)


def test_beyond_two_standard_errors():
    assert common.beyond(np.array([1.0, 1.1, 0.9, 1.0])) == 1
    assert common.beyond(np.array([-1.0, -1.1, -0.9, -1.0])) == -1
    assert common.beyond(np.array([1.0, -1.0, 1.0, -1.0])) == 0


def test_runner_is_cached_and_override_order_does_not_matter():
    a = common.run_sim("bandit/calibrated", "rloo", True, steps=2, epochs=1, minibatches=1)
    b = common.run_sim("bandit/calibrated", "rloo", True, minibatches=1, epochs=1, steps=2)
    assert a is b
    seeds, _ = common.budget(True)
    assert a.frame["seed"].nunique() == seeds >= 16
    assert a.frame.attrs["config"]["optimizer"] == common.STANDARD["optimizer"]


def test_reduced_tree_is_the_configured_size():
    problem = common.get_problem_object("tree/calibrated")
    v, t = common.TREE_SIZE["vocab_size"], common.TREE_SIZE["horizon"]
    assert problem.num_actions == v and problem.horizon == t
    assert problem.num_states == (v**t - 1) // (v - 1)


def test_every_claim_of_the_area_is_registered_and_empirical():
    ids = {s.check_id: s for s in (CHECKS.get(n) for n in CHECKS.names())}
    for check_id in FAST + SLOW:
        assert ids[check_id].kind == "empirical"
    assert {ids[c].claim for c in FAST + SLOW} == {3, 5, 7, 10, 11, 12, 13, 14, 15, 16, 17}


def _well_formed(check_id: str) -> CheckResult:
    result = run_check(CHECKS.get(check_id), quick=True)
    assert result.verdict in VERDICTS and result.verdict != "error", result.reason
    assert result.measured and result.precise and result.tolerance and result.reason
    numbers = [v for v in result.measured.values() if isinstance(v, float)]
    assert numbers and any(math.isfinite(v) for v in numbers)
    return result


@pytest.mark.parametrize("check_id", FAST)
def test_fast_checks_quick(check_id):
    _well_formed(check_id)


@pytest.mark.slow
@pytest.mark.parametrize("check_id", SLOW)
def test_slow_checks_quick(check_id):
    _well_formed(check_id)


def test_on_policy_never_clips_and_single_prompt_identity():
    r7 = run_check(CHECKS.get("claim07_clip_higher"), quick=True)
    assert r7.measured["on_policy/clip_frac_max"] == 0.0
    assert r7.measured["on_policy/ratio_max_abs_dev"] == 0.0
    r10 = run_check(CHECKS.get("claim10_passk_collapse"), quick=True)
    assert r10.measured["single_prompt_identity_max_err"] < 1e-12


def test_shared_world_task_b_disjoint_and_sharing_moves_every_context():
    world = importlib.import_module("paper_checks._shared_world")
    a, b = world.problem("A"), world.problem("B")
    # 4 correct arms of 16 on each of the 64 contexts under both tasks, never the same arm
    assert a.means.shape == (64, 16)
    assert ((a.means > 0.5).sum(-1) == 4).all() and ((b.means > 0.5).sum(-1) == 4).all()
    assert world.task_overlap() == 0
    # lowrank: the shared w, V move all 64 contexts; tabular: only sampled ones (N = 16)
    assert world.prompts_moved(True) == 64
    assert 0 < world.prompts_moved(True, "tabular") <= 16


def test_entropy_ceiling_matches_closed_forms():
    # bandit/calibrated: 2 correct of K = 8 arms, one state. J = m/K is the uniform policy
    # (log 8); J = 1 spreads over the m correct arms (log 2); J = 0 over the K − m wrong (log 6).
    h = common.entropy_ceiling_at("bandit/calibrated", np.array([0.25, 1.0, 0.0]))
    np.testing.assert_allclose(h, [math.log(8), math.log(2), math.log(6)], atol=1e-9)
    # reduced tree: 4 correct sequences of 4^4 = 256, token entropy = sequence entropy / T = 4
    h = common.entropy_ceiling_at("tree/calibrated", np.array([4 / 256, 1.0]))
    np.testing.assert_allclose(h, [math.log(256) / 4, math.log(4) / 4], atol=1e-9)


def test_reporting_helpers():
    assert common.schedule("ppo") == "2×4" and common.schedule("rloo") == "1×1"
    assert common.schedule("grpo", epochs=2, minibatches=16) == "2×16"
    frame = pd.DataFrame({"step": [0, 1, 2, 0, 1, 2],
                          "clip/frac_low": [np.nan, 0.0, 0.2, np.nan, 0.2, 0.0],
                          "clip/frac_high": [np.nan, 0.1, 0.1, np.nan, 0.3, 0.3]})
    frame["clip/frac"] = frame["clip/frac_low"] + frame["clip/frac_high"]
    act = common.clip_activity(frame)
    assert act == pytest.approx({"clip_frac": 0.3, "clip_frac_low": 0.1, "clip_frac_high": 0.2})
    assert common.active_clip_fraction() == 1e-3
    assert (common.inactive("the upper clip", "0.0")
            == "not informative: the upper clip inactive (0.0)")
    assert common.inactive("x", "1", start=True).startswith("Not informative: x")


def test_task_overlap_of_the_tabular_sequential_worlds():
    claim12 = importlib.import_module("paper_checks.claim12_sequential")
    # the tree's task B keeps the first half (2) of its 4 correct sequences; the bandit's B is
    # the next-ranked arms, disjoint from A's 2
    assert claim12.task_overlap("tree/calibrated") == (2, 4)
    assert claim12.task_overlap("bandit/calibrated") == (0, 2)


def test_claim07_rule_on_hand_made_rows():
    claim07 = importlib.import_module("paper_checks.claim07_clip_higher_llm")
    row = {"active": True, "share_Lneg_high": 0.6, "diff": (0.03, 0.01)}
    # present, d = 3 SE > 2 SE, ADAPO 1.1 within 0.2 of 1: reproduced
    assert claim07.decide(row, 1.1) == {"present": True, "raises": True, "adapo_holds": True,
                                        "ok": True, "partly": True}
    # ADAPO 1.3 off target: partly; d = 1.5 SE as well: not reproduced
    assert claim07.decide(row, 1.3)["partly"] and not claim07.decide(row, 1.3)["ok"]
    weak = {**row, "diff": (0.015, 0.01)}
    assert not claim07.decide(weak, 1.3)["partly"]
    # share below 0.5 or clipping outside the band: not present, never partly
    for absent in ({**row, "share_Lneg_high": 0.4}, {**row, "active": False}):
        assert claim07.decide(absent, 1.0) == {"present": False, "raises": True,
                                               "adapo_holds": True, "ok": False,
                                               "partly": False}
