"""The entropy ceiling figures 2 draws for the shared-parameter world (``figures/_mechanism_runs``)
against hand values: every context has m = 4 correct arms of K = 16 and 0/1 rewards, so
H_max(J) = h(J) + J·log m + (1 − J)·log(K − m) on each context, the same J everywhere being
optimal (the per-context ceiling is concave in J):

- J = 1/4 (the uniform policy's success): H_max = log 16, the most entropy of any policy;
- J = 1: uniform over the 4 correct arms, log 4;
- J = 0: uniform over the 12 wrong arms, log 12.
"""

import importlib.util
import math

import numpy as np
import pytest

from entropy_lab.project import project_root

ROOT = project_root()


@pytest.fixture()
def mechanism_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("ENTROPY_LAB_FIGURES_OUT", str(tmp_path))
    monkeypatch.setenv("ENTROPY_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(ROOT / "figures"))
    spec = importlib.util.spec_from_file_location("_mechanism_runs_under_test",
                                                  ROOT / "figures" / "_mechanism_runs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_shared_world_ceiling_matches_hand_values(mechanism_runs):
    h = mechanism_runs.shared_ceiling(np.array([0.25, 1.0, 0.0]))
    np.testing.assert_allclose(h, [math.log(16), math.log(4), math.log(12)], atol=1e-6)


def test_shared_world_ceiling_at_a_middle_success(mechanism_runs):
    j = 0.6
    binary = -(j * math.log(j) + (1 - j) * math.log(1 - j))
    expected = binary + j * math.log(4) + (1 - j) * math.log(12)
    np.testing.assert_allclose(mechanism_runs.shared_ceiling(j), expected, atol=1e-6)
