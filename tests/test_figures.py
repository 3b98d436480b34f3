"""Smoke tier: every figure script runs end to end on its quick budget and writes its PNG; the
shared helpers stop a script with a non-zero exit when its inputs are broken."""

import importlib.util
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from entropy_lab.commands.figures import figure_scripts  # noqa: E402
from entropy_lab.project import project_root  # noqa: E402

ROOT = project_root()
SCRIPTS = figure_scripts(ROOT)
# Figure 11 trains the transformer harness: it needs the ``harness`` extra (transformers, peft).
HARNESS_EXTRA = all(importlib.util.find_spec(m) is not None for m in ("transformers", "peft"))
needs_harness = pytest.mark.skipif(not HARNESS_EXTRA,
                                   reason="needs the harness extra: pip install -e '.[harness]'")


def _script_param(script):
    marks = [needs_harness] if script.stem == "fig11_harness" else []
    return pytest.param(script, id=script.stem, marks=marks)


def _load_common(monkeypatch, out_dir):
    monkeypatch.setenv("ENTROPY_LAB_FIGURES_OUT", str(out_dir))
    monkeypatch.syspath_prepend(str(ROOT / "figures"))
    spec = importlib.util.spec_from_file_location("_common_under_test",
                                                  ROOT / "figures" / "_common.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_numbered_figure_has_a_script():
    names = [s.stem for s in SCRIPTS]
    assert names == sorted(names) and len(names) >= 1
    assert all(n[:3] == "fig" and n[3:5].isdigit() and n[5] == "_" for n in names)


@pytest.fixture(scope="module")
def figure_cache(tmp_path_factory):
    """One cache for the module, so figures 2–5 share their sweep as they do in a real run."""
    return tmp_path_factory.mktemp("figure_cache")


@pytest.mark.parametrize("script", [_script_param(s) for s in SCRIPTS])
def test_figure_script_runs_quick_and_writes_png(script, tmp_path, figure_cache):
    env = dict(os.environ, ENTROPY_LAB_QUICK="1", MPLBACKEND="Agg",
               ENTROPY_LAB_FIGURES_OUT=str(tmp_path), ENTROPY_LAB_CACHE=str(figure_cache))
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pngs = list(tmp_path.glob("*.png"))
    assert [p.stem for p in pngs] == [script.stem]
    assert pngs[0].stat().st_size > 10_000


def test_require_finite_exits_nonzero_on_nan(monkeypatch, tmp_path):
    common = _load_common(monkeypatch, tmp_path)
    common.require_finite("ok", [1.0, 2.0])
    with pytest.raises(SystemExit, match="2 non-finite"):
        common.require_finite("entropy", [1.0, np.nan, np.inf])
    with pytest.raises(SystemExit, match="empty"):
        common.require_finite("entropy", [])
    with pytest.raises(SystemExit) as info:
        common.require(False, "broken")
    assert info.value.code != 0


def test_save_writes_png_under_override_and_closes(monkeypatch, tmp_path):
    common = _load_common(monkeypatch, tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = common.save(fig, "figXX_test", note="from a test")
    assert path == tmp_path / "figXX_test.png" and path.stat().st_size > 1000
    assert not plt.fignum_exists(fig.number)


def test_budget_follows_quick_switch(monkeypatch, tmp_path):
    monkeypatch.setenv("ENTROPY_LAB_QUICK", "1")
    assert _load_common(monkeypatch, tmp_path).budget(100, 10) == 10
    monkeypatch.setenv("ENTROPY_LAB_QUICK", "0")
    assert _load_common(monkeypatch, tmp_path).budget(100, 10) == 100


def test_cached_reuses_same_settings_and_recomputes_others(monkeypatch, tmp_path):
    _load_common(monkeypatch, tmp_path)
    spec = importlib.util.spec_from_file_location("_runs_under_test", ROOT / "figures" / "_runs.py")
    runs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runs)
    monkeypatch.setattr(runs, "CACHE", tmp_path / "cache")
    calls = []

    def compute():
        calls.append(1)
        return {"runs": __import__("pandas").DataFrame({"x": [len(calls)]})}

    a = runs.cached("demo", {"steps": 3}, compute)
    b = runs.cached("demo", {"steps": 3}, compute)
    c = runs.cached("demo", {"steps": 4}, compute)
    assert len(calls) == 2 and a["runs"]["x"][0] == b["runs"]["x"][0] == 1
    assert c["runs"]["x"][0] == 2
    assert len(list((tmp_path / "cache").glob("demo-*.pkl"))) == 1  # the stale entry is gone


@needs_harness
def test_harness_figure_reads_gpu_results_when_present(tmp_path):
    # The columns benchmarks/gpu_harness.py writes: one row per step, exact pass@k every 5th.
    import pandas as pd

    rows = []
    for algo, precision in (("dapo", "bf16"), ("dapo", "fp16"), ("repo_r", "bf16")):
        for step in range(11):
            exact = step % 5 == 0
            rows.append({"algo": algo, "precision": precision, "phase": 1, "step": step,
                         "entropy/token": 1.4 - 0.05 * step, "pass@1": 0.1 * step / 10,
                         "exact/pass@1": 0.3 + 0.02 * step if exact else float("nan"),
                         "exact/pass@8": 0.8 + 0.01 * step if exact else float("nan")})
    csv = tmp_path / "trajectories.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    env = dict(os.environ, ENTROPY_LAB_QUICK="1", MPLBACKEND="Agg",
               ENTROPY_LAB_FIGURES_OUT=str(tmp_path), ENTROPY_LAB_HARNESS_RESULTS=str(csv))
    script = ROOT / "figures" / "fig11_harness.py"
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "fig11_harness.png").stat().st_size > 10_000
    broken = pd.DataFrame(rows).drop(columns=["exact/pass@8"])
    broken.to_csv(csv, index=False)
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "exact/pass@k" in proc.stderr
