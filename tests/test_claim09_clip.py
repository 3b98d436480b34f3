"""Claim 9's clip-active rows (``paper_checks/claim09_bf16_dapo_clip.py``): the decision rule on
hand-made pipeline rows, and the three rows end to end on their quick budgets."""

import importlib

import pytest

from entropy_lab.checks import CHECKS, load_check_modules, run_check
from entropy_lab.project import project_root

load_check_modules(project_root() / "paper_checks")
claim09 = importlib.import_module("paper_checks.claim09_bf16_dapo_clip")


def _rows(bf16, fix, clip=0.005, clip_high=0.002):
    """Pipeline rows with initial H 2.0; ``bf16``, ``fix``: (final H, SE) of bf16 and
    fp32_logprobs; exact and fp16 end at 1.0."""
    def row(h):
        return {"h0": 2.0, "h": h, "j0": 0.1, "j": (0.5, 0.01), "clip": clip,
                "clip_high": clip_high}

    return {None: row((1.0, 0.1)), "bf16": row(bf16), "fp16": row((1.0, 0.1)),
            "fp32_logprobs": row(fix)}


@pytest.mark.parametrize("bf16, fix, clip, clip_high, verdict, words", [
    # bf16 0.8 < ½·2.0 and fp32 log-probs 2.3 > 2.0: reproduced
    ((0.8, 0.05), (2.3, 0.05), 0.005, 0.002, "reproduced", "Clipping active"),
    # neither collapse nor growth, but |1.5 − 1.2| = 0.3 > 3·√(0.05² + 0.05²) = 0.21: partly
    ((1.2, 0.05), (1.5, 0.05), 0.005, 0.002, "partly", "Clipping active"),
    # the same gap with SE 0.1 each: 0.3 < 3·0.141 = 0.42, not reproduced
    ((1.2, 0.1), (1.5, 0.1), 0.005, 0.002, "not reproduced", "Clipping active"),
    # clip fraction 3% outside [0.1%, 2%]: said in the reason
    ((1.2, 0.1), (1.5, 0.1), 0.03, 0.002, "not reproduced", "outside the llm-clip band"),
    # upper clip 5e-4 < 1e-3: the reason says the mechanism is inactive
    ((1.2, 0.1), (1.5, 0.1), 0.005, 5e-4, "not reproduced", "the upper clip"),
])
def test_rule_on_hand_made_rows(monkeypatch, bf16, fix, clip, clip_high, verdict, words):
    rows = _rows(bf16, fix, clip, clip_high)
    monkeypatch.setattr(claim09, "_run", lambda problem, precision, regime, budget:
                        rows[precision])
    result = claim09._judge("p", {}, (2, 3), "world w")
    assert result.verdict == verdict
    assert words in result.reason and "world w" in result.precise
    assert result.measured["J_final/bf16"] == 0.5 and result.measured["H_initial"] == 2.0


@pytest.mark.parametrize("check_id", ["claim09_bf16_dapo_clip", "claim09_bf16_dapo_prefix",
                                      "claim09_bf16_dapo_anti"])
def test_rows_quick(check_id):
    result = run_check(CHECKS.get(check_id), quick=True)
    assert result.verdict not in ("error",), result.reason
    assert 0.0 <= result.measured["clip_frac/exact"] <= 1.0
    assert result.measured["H_initial"] > 0 and "bypass" in result.precise
