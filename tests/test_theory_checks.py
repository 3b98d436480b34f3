"""The theory paper checks (claims 1–4, 6): they pass on the real code and fail when the theory
they check is broken (a wrong prediction, a wrong β*, a too-tight bound)."""

from __future__ import annotations

import importlib

import pytest
import torch

from entropy_lab import checks
from entropy_lab.project import project_root


def _module(name: str):
    checks.load_check_modules(project_root() / "paper_checks")
    return importlib.import_module(f"paper_checks.{name}")


def _run(check_id: str):
    _module("claim01_theorem1")
    return checks.run_check(checks.CHECKS.get(check_id), quick=True)


@pytest.mark.parametrize("check_id", ["claim03_sign_law_theory", "claim06_theorem2_rigorous"])
def test_fast_theory_checks_reproduce(check_id):
    result = _run(check_id)
    assert result.verdict == "reproduced", result.reason
    assert result.measured


@pytest.mark.slow
@pytest.mark.parametrize(
    "check_id",
    [
        "claim01_theorem1_bandit",
        "claim01_theorem1_tree",
        "claim01_theorem1_mdp",
        "claim02_closed_forms",
        "claim04_repo",
        "claim06_theorem2_paper_form",
    ],
)
def test_slower_theory_checks_reproduce(check_id):
    result = _run(check_id)
    assert result.verdict == "reproduced", result.reason


def test_claim01_fails_for_a_wrong_first_order_formula(monkeypatch):
    mod = _module("claim01_theorem1")
    real = mod.first_order_entropy_change
    monkeypatch.setattr(mod, "first_order_entropy_change", lambda z, dz: 1.01 * real(z, dz))
    result = mod.run_problem("bandit/calibrated", quick=True)
    assert result.verdict == "not reproduced"


def test_claim04_fails_for_a_wrong_beta_star(monkeypatch):
    mod = _module("claim04_repo")
    real = mod.repo_beta_star
    monkeypatch.setattr(mod, "repo_beta_star", lambda *a: 1.01 * real(*a))
    gen = torch.Generator().manual_seed(0)
    _, ok = mod.cancellation_part(100, gen, 8)
    assert not ok


def test_claim06_fails_for_a_too_tight_bound(monkeypatch):
    mod = _module("claim06_theorem2_bounds")
    real = mod.entropy_bounds_under_ratio_clip

    def tight(h, eps_low, eps_high, form):
        return real(h, eps_low / 2, eps_high, form)

    monkeypatch.setattr(mod, "entropy_bounds_under_ratio_clip", tight)
    assert mod.check_rigorous(True).verdict == "not reproduced"
