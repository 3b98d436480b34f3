"""`entropy-lab sim` and `entropy-lab bench` end to end on tiny budgets."""

import json

import pandas as pd
import pytest

from entropy_lab.cli import main
from entropy_lab.commands._sets import parse_sets

pytestmark = pytest.mark.usefixtures("one_thread")


SIM = ["sim", "--problem", "bandit/calibrated", "--algo", "grpo", "--steps", "3", "--seeds", "2",
       "--set", "n_prompts=1", "--set", "group_size=4", "--set", "k=4"]


def test_sim_writes_parquet_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "run.parquet"
    assert main(SIM + ["--lr", "0.5", "--set", "eps_high=0.3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "entropy" in text and "pass@4" in text and "wrote 8 rows" in text
    df = pd.read_parquet(out)
    assert len(df) == 8 and df.attrs["config"]["lr"] == 0.5
    assert df.attrs["algorithm"]["loss_hp"]["eps_high"] == 0.3


def test_existing_output_needs_force(tmp_path, capsys):
    out = tmp_path / "run.csv"
    out.write_text("keep\n")
    assert main(SIM + ["--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "keep\n"
    assert main(SIM + ["--out", str(out), "--force"]) == 0
    assert len(pd.read_csv(out)) == 8


def test_a_failed_run_writes_its_completed_rows(tmp_path, capsys):
    out = tmp_path / "partial.csv"
    argv = ["sim", "--problem", "bandit/calibrated", "--algo", "grpo", "--steps", "40",
            "--seeds", "2", "--mode", "expected", "--lr", "1e308", "--set", "optimizer=adam",
            "--set", "minibatches=1", "--out", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "non-finite logits" in err and "seed 0" in err and "completed rows" in err
    df = pd.read_csv(out)
    assert len(df) >= 2 and df.entropy.notna().all()


@pytest.mark.parametrize("argv, match", [
    (["--set", "lr"], r"--set='lr' is not allowed: expected KEY=VALUE"),
    (["--set", "steps=0"], r"steps=0"),
    (["--out", "run.txt"], r"\.parquet or \.csv"),
])
def test_sim_bad_input_exits_2(argv, match, capsys):
    assert main(SIM + argv) == 2
    assert pytest.importorskip("re").search(match, capsys.readouterr().err)


def test_parse_sets_literals():
    assert parse_sets(["a=0.3", "b=4", "c=adam", "d=None", "e=True"]) == {
        "a": 0.3, "b": 4, "c": "adam", "d": None, "e": True}


BENCH = '''
def run(quick=False):
    return {"name": "{name}", "ratio": 12.5, "reference": "a loop", "quick": quick, "ms": 1.5}
'''


@pytest.fixture
def bench_root(tmp_path, monkeypatch):
    (tmp_path / "paper_checks").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    for name in ("alpha", "beta"):
        (folder / f"bench_{name}.py").write_text(BENCH.replace("{name}", name))
    (folder / "bench_broken.py").write_text("def run(quick=False):\n    raise RuntimeError('x')\n")
    monkeypatch.setenv("ENTROPY_LAB_ROOT", str(tmp_path))
    return tmp_path


def test_bench_json_one_object_per_benchmark(bench_root, capsys):
    assert main(["bench", "--json", "--only", "alpha", "beta", "--quick"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    objs = [json.loads(line) for line in lines]
    assert [o["name"] for o in objs] == ["alpha", "beta"]
    assert objs[0] == {"name": "alpha", "ratio": 12.5, "reference": "a loop", "quick": True,
                       "ms": 1.5}


def test_bench_table_and_errors(bench_root, capsys):
    assert main(["bench"]) == 1  # bench_broken raises; the others still report
    out = capsys.readouterr()
    assert "alpha: 12.5x vs a loop" in out.out and "RuntimeError" in out.out
    assert "broken" in out.err


def test_bench_unknown_name_lists_choices(bench_root, capsys):
    assert main(["bench", "--only", "gamma"]) == 2
    assert "alpha" in capsys.readouterr().err
