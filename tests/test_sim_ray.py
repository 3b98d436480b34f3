"""The Ray sweep backend against a real local Ray (two CPUs, started here), not a mock."""

import pandas as pd
import pytest

from entropy_lab.cli import main
from entropy_lab.sim import SimConfig, sweep
from entropy_lab.validation import InputError

ray = pytest.importorskip("ray")
from entropy_lab.sim.ray_backend import RayBackend  # noqa: E402

TINY = SimConfig(steps=2, seeds=2, n_prompts=1, group_size=4, k=2)
GRID = {"algorithm": ["grpo", "rloo", "dapo"], "lr": [0.1, 0.4]}


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False)
    yield
    if started:
        ray.shutdown()


def test_ray_sweep_equals_the_local_sweep_in_cell_order(local_ray, tmp_path):
    local = sweep(GRID, problem="bandit/calibrated", config=TINY, progress=False)
    store = tmp_path / "cells"
    remote = sweep(GRID, problem="bandit/calibrated", config=TINY, progress=False,
                   backend=RayBackend(), store=store)
    pd.testing.assert_frame_equal(remote, local)
    assert len(list(store.glob("cell-*.parquet"))) == 6  # written by the Ray workers


def test_sweep_command_runs_on_ray_and_reuses_its_store(local_ray, tmp_path, capsys):
    out, store = tmp_path / "sweep.parquet", tmp_path / "cells"
    argv = ["sweep", "--problem", "bandit/calibrated", "--grid", "algorithm=grpo,rloo",
            "--grid", "lr=0.1,0.4", "--steps", "2", "--seeds", "2", "--set", "n_prompts=1",
            "--set", "group_size=4", "--set", "k=2", "--backend", "ray", "--store", str(store),
            "--out", str(out)]
    assert main(argv) == 0
    df = pd.read_parquet(out)
    assert len(df) == 4 * 2 * 3 and set(df.algorithm) == {"grpo", "rloo"}
    first = {p.name: p.stat().st_mtime_ns for p in store.iterdir()}
    assert main(argv + ["--force"]) == 0
    assert "4 of 4 cells from" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in store.iterdir()} == first


def test_bad_ray_arguments_are_rejected():
    with pytest.raises(InputError, match="num_cpus"):
        RayBackend(address="auto", num_cpus=2)
    with pytest.raises(InputError, match="address"):
        RayBackend(address="")
