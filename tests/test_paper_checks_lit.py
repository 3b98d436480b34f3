"""The literature checks (claims 15 and 16): their fits and rules on hand-made numbers."""

import importlib
import math

import numpy as np
import pandas as pd
import pytest

from entropy_lab.checks import load_check_modules
from entropy_lab.project import project_root

load_check_modules(project_root() / "paper_checks")
claim15 = importlib.import_module("paper_checks.claim15_cui_entropy_law")
claim16 = importlib.import_module("paper_checks.claim16_nsr_psr")
shared = importlib.import_module("paper_checks._shared_world")


def test_least_squares_by_hand():
    # x = 0, 1, 2; y = 0, 1, 3: slope = Σ(x−x̄)(y−ȳ)/Σ(x−x̄)² = 3/2, intercept = 4/3 − 3/2,
    # residuals 1/6, −1/3, 1/6: SS_res = 1/6, SS_tot = 14/3, R² = 1 − 1/28
    slope, intercept, r2 = claim15.least_squares([0.0, 1.0, 2.0], [0.0, 1.0, 3.0])
    assert slope == pytest.approx(1.5, rel=1e-12)
    assert intercept == pytest.approx(-1 / 6, rel=1e-12)
    assert r2 == pytest.approx(27 / 28, rel=1e-12)
    assert math.isnan(claim15.least_squares([0.0, 1.0], [2.0, 2.0])[2])


def test_fit_law_recovers_an_exact_law_and_its_sign():
    h = np.linspace(1.5, 0.1, 30)
    a, b, r2 = claim15.fit_law(h, -0.2 * np.exp(h) + 1.1)
    assert (a, b, r2) == (pytest.approx(0.2, rel=1e-10), pytest.approx(1.1, rel=1e-10),
                          pytest.approx(1.0, abs=1e-12))
    # reward rising with entropy: a < 0
    assert claim15.fit_law(h, 0.3 * np.exp(h))[0] == pytest.approx(-0.3, rel=1e-10)


def _frame(h_bt, j_bt, h_max_bt=None):
    b, t = np.shape(h_bt)
    data = {"seed": np.repeat(np.arange(b), t), "step": np.tile(np.arange(t), b),
            "entropy": np.ravel(h_bt), "J": np.ravel(j_bt)}
    if h_max_bt is not None:
        data["H_max"] = np.ravel(h_max_bt)
    return pd.DataFrame(data)


def test_cell_consumed_and_rule_needs_the_mechanism():
    h = np.array([np.linspace(2.0, 0.2, 20), np.linspace(2.0, 0.4, 20)])
    j = 1.0 - 0.1 * np.exp(h)
    c = claim15.cell(_frame(h, j))
    # (2 − 0.2)/2 = 0.9, (2 − 0.4)/2 = 0.8
    assert c["consumed"] == pytest.approx(0.85, rel=1e-12)
    assert c["R2"] == pytest.approx(1.0) and c["a"] == pytest.approx(0.1) and claim15.holds(c)
    # the same exact law over a run that consumed only 10% of its entropy is not informative
    h_small = np.array([np.linspace(2.0, 1.8, 20), np.linspace(2.0, 1.8, 20) + 1e-3])
    assert not claim15.holds(claim15.cell(_frame(h_small, 1.0 - 0.1 * np.exp(h_small))))


def test_feasible_ratio_uses_the_ceiling_when_it_binds():
    # H_0 = 2; final H 0.5 with H_max(J_T) = 1 → 0.5; final H 1.5 with H_max 3 → 1.5 / H_0
    f = _frame([[2.0, 0.5], [2.0, 1.5]], [[0.1, 0.9], [0.1, 0.3]], [[3.0, 1.0], [3.0, 3.0]])
    out = claim16.feasible_ratio(f, lambda fr: fr[fr.step == 1].sort_values("seed")["H_max"]
                                 .to_numpy())
    np.testing.assert_allclose(out, [0.5, 0.75])


def test_nsr_keeps_tolerances():
    assert claim16.nsr_keeps(np.array([0.0, 0.0, 0.0]), np.array([0.9, 0.9, 0.9])) == (True, True)
    # a drop of 0.05 ± 0 is more than DROP_TOL = 0.01; 0.5 of the feasible entropy is below 0.8
    assert claim16.nsr_keeps(np.full(4, 0.05), np.full(4, 0.5)) == (False, False)
    # a drop of 0.011 ± 0.0005 is within 2 SE of DROP_TOL
    assert claim16.nsr_keeps(np.array([0.0105, 0.0115]), np.full(2, 0.85))[0]


def test_shared_world_entropy_ceiling_closed_form():
    # 4 correct of 16 arms on every context: H_max(J) = h(J) + J log 4 + (1 − J) log 12
    j = np.array([0.1, 0.25, 0.6, 0.95])
    closed = -(j * np.log(j) + (1 - j) * np.log(1 - j)) + j * np.log(4) + (1 - j) * np.log(12)
    np.testing.assert_allclose(shared.entropy_ceiling(j), closed, rtol=1e-9)
