"""The check ledger, the report and the CLI plumbing (with temporary checks)."""

import dataclasses
import json

import pytest

from entropy_lab import checks
from entropy_lab.checks import CheckResult, register_check
from entropy_lab.cli import main
from entropy_lab.report import render_report


@pytest.fixture
def temp_checks():
    ids = []

    def add(check_id, verdict, kind="theorem", crash=False):
        @register_check(check_id, claim=99, kind=kind, title=f"temp {check_id}")
        def _(quick):
            if crash:
                raise RuntimeError("boom")
            return CheckResult(verdict, measured={"x": 1.5, "quick": quick}, summary="s")

        ids.append(check_id)

    yield add
    for i in ids:
        checks.CHECKS.unregister(i)


def test_verdict_rules(temp_checks):
    temp_checks("zz_ok", "reproduced")
    temp_checks("zz_thm_fail", "not reproduced")
    temp_checks("zz_emp_fail", "not reproduced", kind="empirical")
    temp_checks("zz_crash", "reproduced", crash=True)
    results = {r.check_id: r for r in checks.run_checks(checks.select(["zz_"]), quick=True)}
    assert not results["zz_ok"].failed
    assert results["zz_thm_fail"].failed  # a theorem that does not hold is an error
    assert not results["zz_emp_fail"].failed  # an empirical non-reproduction is a finding
    assert results["zz_crash"].verdict == "error" and "boom" in results["zz_crash"].reason
    assert results["zz_ok"].measured == {"x": 1.5, "quick": True}


def test_bad_verdict_and_unknown_id():
    with pytest.raises(ValueError, match="verdict='maybe'"):
        CheckResult("maybe")
    with pytest.raises(ValueError, match="unknown check 'no_such'"):
        checks.select(["no_such"])


def test_report_lists_every_check(temp_checks):
    temp_checks("zz_a", "reproduced")
    temp_checks("zz_b", "partly", kind="empirical")
    text = render_report(checks.run_checks(checks.select(["zz_"])))
    assert "`zz_a`" in text and "`zz_b`" in text and "| x | 1.5 |" in text
    assert "## Environment" in text


def test_cli_check_json_and_exit_code(temp_checks, capsys):
    temp_checks("zz_cli_ok", "reproduced")
    assert main(["check", "--only", "zz_cli_ok", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["check_id"] == "zz_cli_ok" and out[0]["verdict"] == "reproduced"
    temp_checks("zz_cli_bad", "not reproduced")
    assert main(["check", "--only", "zz_cli_bad"]) == 1


def test_cli_unknown_check_is_clean_error(capsys):
    assert main(["check", "--only", "definitely_not_a_check"]) == 2
    assert "unknown check" in capsys.readouterr().err


def test_exact_id_selects_only_that_check(temp_checks):
    temp_checks("zz_sel", "reproduced")
    temp_checks("zz_sel_large", "reproduced")
    assert [s.check_id for s in checks.select(["zz_sel"])] == ["zz_sel"]
    assert [s.check_id for s in checks.select(["zz_se"])] == ["zz_sel", "zz_sel_large"]


def test_record_then_compare(temp_checks, tmp_path):
    temp_checks("zz_rec", "reproduced")
    results = checks.run_checks(checks.select(["zz_rec"]))
    path = checks.record_references(results, tmp_path / "references.json")
    stored = json.loads(path.read_text())
    assert stored["checks"]["zz_rec"]["measured"]["x"] == 1.5 and "torch" in stored["environment"]
    same = checks.compare_to_references(results, path)
    assert same.loc[0, "pinned"] == "reproduced" and same.loc[0, "max_rel_drift"] == 0.0
    moved = CheckResult("reproduced", measured={"x": 1.65}, check_id="zz_rec")
    assert checks.compare_to_references([moved], path).loc[0, "max_rel_drift"] == pytest.approx(0.1)
    fresh = CheckResult("partly", measured={"x": 1.0}, check_id="zz_other")
    row = checks.compare_to_references([fresh], path).iloc[0]
    assert row["pinned"] == "" and row["max_rel_drift"] != row["max_rel_drift"]  # NaN


def test_reproduce_quick_writes_report(tmp_path, capsys):
    """The quick reproduction (checks + report; figures are run by tests/test_figures.py)."""
    report = tmp_path / "REPORT.md"
    code = main(["reproduce", "--quick", "--skip-figures", "--report", str(report)])
    text = report.read_text()
    assert code == 0, capsys.readouterr().err[-2000:]
    assert "--quick" in text and "## Environment" in text
    for claim in range(1, 19):
        assert f"| {claim} | `claim{claim:02d}_" in text, f"claim {claim} has no check"


def test_check_result_is_frozen_and_runner_returns_a_new_one(temp_checks):
    temp_checks("zz_frozen", "reproduced")
    spec = checks.CHECKS.get("zz_frozen")
    returned = []
    original = spec.fn

    def wrapped(quick):
        returned.append(original(quick))
        return returned[-1]

    spec_copy = dataclasses.replace(spec, fn=wrapped)
    result = checks.run_check(spec_copy)
    assert result is not returned[0]
    assert returned[0].check_id == "" and result.check_id == "zz_frozen" and result.claim == 99
    with pytest.raises(AttributeError):
        result.verdict = "partly"


def test_cli_check_record_refuses_quick_budgets(capsys):
    assert main(["check", "--quick", "--record"]) == 2
    assert "--quick" in capsys.readouterr().err


@pytest.mark.parametrize("sequential", [False, True])
def test_reproduce_runs_figures_beside_or_after_the_checks(
        sequential, tmp_path, monkeypatch, capsys):
    """Beside: the figure job starts before the first check and can see it run; after
    (``--sequential``): it starts once every check is done. A failed figure exits 1 either way."""
    import threading

    from entropy_lab.commands import reproduce

    check_started, seen = threading.Event(), []

    @register_check("zz_repro_beside", claim=99, kind="theorem", title="temp")
    def _(quick):
        check_started.set()
        # beside: the figure job is already running; after: it has not started (short wait)
        seen.append(("check", figures_started.wait(timeout=0.5 if sequential else 10)))
        return CheckResult("reproduced", measured={"x": 1.0})

    figures_started = threading.Event()

    def fake_figures(root, only=None, quick=False, out=None):
        figures_started.set()
        seen.append(("figures", check_started.wait(timeout=10)))
        return [{"name": "fig99_fake", "ok": False, "seconds": 0.0, "error": "x"}]

    monkeypatch.setattr(reproduce, "run_figures", fake_figures)
    args = ["reproduce", "--quick", "--only", "zz_repro_beside", "fig99", "--report",
            str(tmp_path / "REPORT-quick.md")] + (["--sequential"] if sequential else [])
    try:
        assert main(args) == 1  # the failed figure
    finally:
        checks.CHECKS.unregister("zz_repro_beside")
    assert "fig99_fake" in capsys.readouterr().err
    assert dict(seen) == {"check": not sequential, "figures": True}
