"""Sweeps (grid expansion, backends, labels) and atomic frame writing."""

import os

import pandas as pd
import pytest

from entropy_lab.sim import LocalBackend, SimConfig, simulate, sweep, write_frame
from entropy_lab.sim.sweep import expand_grid, run_cell
from entropy_lab.validation import InputError

TINY = SimConfig(steps=2, seeds=2, n_prompts=1, group_size=4, k=2)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_expand_grid_product_and_explicit_cells():
    cells = expand_grid({"algorithm": ["grpo", "rloo"], "lr": [0.1, 0.2, 0.3]})
    assert len(cells) == 6 and cells[0] == {"algorithm": "grpo", "lr": 0.1}
    assert expand_grid([{"lr": 1.0}, {"lr": 2.0}]) == [{"lr": 1.0}, {"lr": 2.0}]


@pytest.mark.parametrize("grid", [{}, {"lr": []}, {"lr": "0.1"}, [], [1, 2], "grpo"])
def test_bad_grids_are_rejected(grid):
    with pytest.raises(InputError, match="grid"):
        expand_grid(grid)


def test_sweep_is_the_concatenation_of_its_cells():
    grid = {"algorithm": ["grpo", "rloo"], "lr": [0.1, 0.4]}
    df = sweep(grid, problem="bandit/calibrated", config=TINY, progress=False)
    assert list(df.columns[:2]) == ["algorithm", "lr"]
    assert len(df) == 4 * 2 * 3
    one = df[(df.algorithm == "rloo") & (df.lr == 0.4)].drop(columns=["algorithm", "lr"])
    ref = simulate("bandit/calibrated", "rloo", TINY, lr=0.4)
    pd.testing.assert_frame_equal(one.reset_index(drop=True), ref)
    assert df.attrs["grid"][0] == {"algorithm": "grpo", "lr": 0.1}


class RecordingBackend:
    """A stand-in for a distributed backend: runs cells in reverse, returns them in order."""

    def __init__(self):
        self.seen = []

    def map(self, fn, cells):
        results = {i: fn(c) for i, c in reversed(list(enumerate(cells)))}
        self.seen = list(cells)
        return [results[i] for i in range(len(cells))]


def test_sweep_runs_through_any_backend_with_the_same_result():
    grid = [{"algorithm": "grpo", "problem": "bandit/anti"}, {"algorithm": "dapo"}]
    backend = RecordingBackend()
    a = sweep(grid, problem="bandit/calibrated", config=TINY, backend=backend, progress=False)
    b = sweep(grid, problem="bandit/calibrated", config=TINY, backend=LocalBackend(),
              progress=True)
    pd.testing.assert_frame_equal(a, b)
    assert len(backend.seen) == 2 and list(a.problem.dropna().unique()) == ["bandit/anti"]


def test_cells_are_picklable_for_remote_backends():
    import pickle

    grid = expand_grid({"algorithm": ["grpo"], "lr": [0.1]})
    from entropy_lab.sim.sweep import Cell

    cell = pickle.loads(pickle.dumps(Cell(grid[0], "bandit/calibrated", TINY, {})))
    assert len(run_cell(cell)) == 2 * 3


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_write_frame_round_trips_and_refuses_to_overwrite(tmp_path, suffix):
    df = simulate("bandit/calibrated", "grpo", TINY)
    path = tmp_path / f"run{suffix}"
    write_frame(df, path)
    back = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    assert list(back.columns) == list(df.columns) and len(back) == len(df)
    assert back.J.tolist() == pytest.approx(df.J.tolist(), rel=1e-15)
    with pytest.raises(FileExistsError, match="--force"):
        write_frame(df.head(1), path)
    write_frame(df.head(1), path, force=True)
    assert len(pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind


def test_parquet_keeps_config_attrs(tmp_path):
    df = simulate("bandit/calibrated", "grpo", TINY)
    write_frame(df, tmp_path / "a.parquet")
    assert pd.read_parquet(tmp_path / "a.parquet").attrs["config"]["steps"] == 2


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    path.write_text("old\n")

    def boom(df, p):
        with open(p, "w") as fh:
            fh.write("half")
        raise OSError("disk full")

    from entropy_lab.sim import io

    monkeypatch.setitem(io.WRITERS, ".csv", boom)
    with pytest.raises(OSError, match="disk full"):
        write_frame(pd.DataFrame({"a": [1]}), path, force=True)
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["r.csv"]


def test_unknown_suffix_is_rejected(tmp_path):
    with pytest.raises(InputError, match=r"out=.*\.parquet or \.csv"):
        write_frame(pd.DataFrame({"a": [1]}), tmp_path / "x.json")


class CountingBackend:
    """Runs cells here and counts them; ``fail_after`` raises once that many have finished."""

    def __init__(self, fail_after=None):
        self.ran = 0
        self.fail_after = fail_after

    def map(self, fn, cells):
        for cell in cells:
            if self.fail_after is not None and self.ran >= self.fail_after:
                raise RuntimeError("worker lost")
            out = fn(cell)
            self.ran += 1
            yield out


STORE_GRID = {"algorithm": ["grpo", "rloo"], "lr": [0.1, 0.4]}


def test_a_crashed_stored_sweep_keeps_its_finished_cells_and_a_rerun_skips_them(tmp_path):
    fresh = sweep(STORE_GRID, problem="bandit/calibrated", config=TINY, progress=False)
    store = tmp_path / "cells"
    with pytest.raises(RuntimeError, match="worker lost"):
        sweep(STORE_GRID, problem="bandit/calibrated", config=TINY, progress=False,
              store=store, backend=CountingBackend(fail_after=3))
    assert len(list(store.glob("cell-*.parquet"))) == 3
    assert not [p for p in store.iterdir() if p.suffix != ".parquet"]
    again = CountingBackend()
    df = sweep(STORE_GRID, problem="bandit/calibrated", config=TINY, progress=False,
               store=store, backend=again)
    assert again.ran == 1
    pd.testing.assert_frame_equal(df, fresh)
    third = CountingBackend()
    sweep(STORE_GRID, problem="bandit/calibrated", config=TINY, progress=False, store=store,
          backend=third)
    assert third.ran == 0


def test_a_changed_cell_is_not_taken_from_the_store(tmp_path):
    store = tmp_path / "cells"
    sweep(STORE_GRID, problem="bandit/calibrated", config=TINY, progress=False, store=store)
    counted = CountingBackend()
    sweep(STORE_GRID, problem="bandit/calibrated", config=TINY, progress=False, store=store,
          backend=counted, steps=3)
    assert counted.ran == 4


def test_store_must_be_a_folder(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(InputError, match="store"):
        sweep(STORE_GRID, problem="bandit/calibrated", config=TINY, progress=False, store=path)
