"""claim18_controller_authority: its decision rule, ceiling and saturation helpers on hand-made
inputs, and the check end to end on its quick budget."""

import importlib
import math

import numpy as np
import pandas as pd
import pytest

from entropy_lab.checks import CHECKS, VERDICTS, load_check_modules, run_check
from entropy_lab.project import project_root

load_check_modules(project_root() / "paper_checks")
claim18 = importlib.import_module("paper_checks.claim18_controller_authority")


@pytest.mark.parametrize("x, g, se, rho, expected", [
    # below X_NONE = 0.05 no resolved gain, from X_GAIN = 0.5 a resolved one, ρ ≥ 0.6
    ([0.01, 0.2, 0.6, 2.0], [0.001, 0.02, 0.1, 0.3], [0.001, 0.01, 0.01, 0.01], 1.0, True),
    ([0.01, 0.2, 0.6, 2.0], [0.003, 0.02, 0.1, 0.3], [0.001, 0.01, 0.01, 0.01], 1.0, False),
    ([0.01, 0.2, 0.6, 2.0], [0.001, 0.02, 0.015, 0.3], [0.001, 0.01, 0.01, 0.01], 1.0, False),
    ([0.01, 0.2, 0.6, 2.0], [0.001, 0.02, 0.1, 0.3], [0.001, 0.01, 0.01, 0.01], 0.59, False),
    ([0.01, 0.2, 0.6, 2.0], [-0.5, 0.02, 0.1, 0.3], [0.001, 0.01, 0.01, 0.01], 0.6, True),
])
def test_authority_rule(x, g, se, rho, expected):
    assert claim18.authority_follows_x(x, g, se, rho) is expected


def test_bandit_ceiling_is_the_one_state_formula():
    from entropy_lab.problems import get_problem

    bandit = get_problem("bandit/calibrated")  # 2 correct arms of 8
    # H_max(J) = h(J) + J log m + (1 − J) log(K − m): J = 0.5 → log 2 + ½ log 2 + ½ log 6
    expected = [math.log(2) + 0.5 * math.log(12), math.log(2)]
    np.testing.assert_allclose(claim18.ceiling(bandit, np.array([0.5, 1.0])), expected,
                               rtol=1e-9)


def test_zeta_activity_counts_iterations_at_the_cap_and_negative():
    # 2 seeds × steps 0..3; step 0 is the start value and is not counted
    zeta = [[1e-3, 0.05, 0.05, 0.025], [1e-3, -1e-4, 0.05, 0.05]]
    df = pd.DataFrame({"seed": np.repeat([0, 1], 4), "step": np.tile(np.arange(4), 2),
                       "zeta": np.ravel(zeta)})
    act = claim18.zeta_activity(df, 0.05)
    assert act["at_cap"] == pytest.approx(4 / 6)
    assert act["negative"] == pytest.approx(1 / 6)
    assert act["final_abs"] == pytest.approx((0.025 + 0.05) / 2)


def test_check_quick_is_well_formed():
    result = run_check(CHECKS.get("claim18_controller_authority"), quick=True)
    assert result.verdict in VERDICTS and result.verdict != "error", result.reason
    assert result.claim == 18 and result.kind == "empirical"
    for key in ("repo_r/spearman_x_gain", "tree/calibrated/zeta_max=1/x",
                "adapo/wide_minus_narrow", "adapo/narrow/frac_high"):
        assert key in result.measured
    assert result.measured["tree/calibrated/median_abs_logp"] == pytest.approx(0.7052, abs=1e-3)
