"""Sweeps: algorithms × configs (× the seeds inside each run) -> one tidy DataFrame.

    sweep({"algorithm": ["grpo", "repo_r"], "lr": [0.1, 0.3]}, problem="tree/calibrated",
          steps=200, seeds=32)

The grid is pure data: a dict of lists (its Cartesian product) or a list of dicts (explicit
cells). Each cell is one :func:`simulate` call — its seeds stay a tensor dim — and its keys become
columns of the result. Cells run through a :class:`Backend`; the default runs them here, one after
another; :class:`entropy_lab.sim.ray_backend.RayBackend` runs each cell as a Ray task, on this
machine or a cluster. Any backend implements the same one-method protocol: ``map`` must return
results in the order of ``cells`` and may run them anywhere, since a cell and :func:`run_cell`
are picklable.

With ``store=DIR`` each cell's frame is written to ``DIR`` (atomically, by whichever process ran
the cell) the moment the cell finishes, under a name made of the cell's index and a hash of its
values, problem, config and common overrides. A rerun with the same ``store`` reads the stored
cells and sends only the missing ones to the backend, so a crash or a kill loses no finished cell.
On a cluster ``DIR`` must be a folder every worker can write (a shared filesystem).
"""

from __future__ import annotations

import hashlib
import itertools
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from entropy_lab.validation import fail


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: its grid values and everything :func:`simulate` needs."""

    values: dict
    """This cell's grid values, ``{key: value}`` (``algorithm``, ``problem``, SimConfig fields,
    ``problem.<key>`` or algorithm hyperparameters); they become the frame's leading columns."""
    problem: object
    """The problem (preset id or object) unless ``values`` has a ``problem`` key."""
    config: object = None
    """The base SimConfig (None: the defaults); ``common`` and ``values`` override its fields."""
    common: dict = field(default_factory=dict)
    """Overrides shared by every cell of the sweep (``values`` win over them)."""


class Backend(Protocol):
    """Runs ``fn`` over cells; yields the results in the order of ``cells``."""

    def map(self, fn, cells: Sequence[Cell]) -> Iterable: ...


class LocalBackend:
    """This process, one cell after another (each cell is already batched over its seeds)."""

    def map(self, fn, cells: Sequence[Cell]) -> Iterator:
        return (fn(cell) for cell in cells)


def expand_grid(grid) -> list[dict]:
    """A dict of lists -> its Cartesian product; a list of dicts -> itself."""
    if isinstance(grid, Mapping) and grid:
        for key, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise fail(f"grid[{key!r}]", values, "a non-empty list of values")
        keys = list(grid)
        return [dict(zip(keys, combo)) for combo in itertools.product(*grid.values())]
    if isinstance(grid, Sequence) and grid and all(isinstance(c, Mapping) for c in grid):
        return [dict(c) for c in grid]
    raise fail("grid", grid, "a dict of non-empty lists or a non-empty list of dicts")


def run_cell(cell: Cell) -> pd.DataFrame:
    """Simulate one cell; the grid values become leading columns (algorithm by name)."""
    from entropy_lab.sim.loop import simulate

    values = dict(cell.values)
    algorithm = values.pop("algorithm", cell.common.get("algorithm"))
    problem = values.pop("problem", cell.problem)
    if algorithm is None:
        raise fail("grid", cell.values, "an 'algorithm' key (or algorithm=... for every cell)")
    common = {k: v for k, v in cell.common.items() if k != "algorithm"}
    frame = simulate(problem, algorithm, cell.config, **{**common, **values})
    labels = {k: _label(v) for k, v in cell.values.items()}
    for i, (key, value) in enumerate(labels.items()):
        frame.insert(i, key, value)
    return frame


def cell_key(index: int, cell: Cell) -> str:
    """``cell-00003-<12 hex>``: the cell's position and a hash of everything that defines it."""
    text = repr((
        sorted((k, _label(v)) for k, v in cell.values.items()),
        _label(cell.problem),
        repr(cell.config),
        sorted((k, _label(v)) for k, v in cell.common.items()),
    ))
    return f"cell-{index:05d}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class StoredCell:
    """``fn`` of one cell that also writes its frame into ``folder`` (parquet, atomic) when done."""

    fn: object
    """Runs one :class:`Cell` and returns its frame (e.g. :func:`run_cell`)."""
    folder: str
    """The store folder; the frame goes to ``<folder>/<cell key>.parquet``."""

    def __call__(self, item: tuple[str, Cell]) -> pd.DataFrame:
        from entropy_lab.sim.io import write_frame

        key, cell = item
        frame = self.fn(cell)
        write_frame(frame, Path(self.folder) / f"{key}.parquet", force=True)
        return frame


def _label(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return getattr(value, "name", repr(value))


def sweep(grid, problem=None, config=None, *, backend: Backend | None = None,
          progress: bool | None = None, store=None, **common) -> pd.DataFrame:
    """Run every cell of ``grid`` and concatenate the frames.

    Args:
        grid: dict of lists or list of dicts; keys are ``algorithm``, ``problem``, SimConfig
            fields, ``problem.<key>`` or algorithm hyperparameters.
        problem: the problem of every cell without a ``problem`` key (id or object).
        config: base SimConfig of every cell.
        backend: where cells run (default :class:`LocalBackend`).
        progress: show a tqdm bar; None = only when stderr is a terminal.
        store: a folder; each cell's frame is saved there as it finishes and a rerun skips the
            cells already saved (see the module docstring). None = keep nothing.
        common: overrides shared by every cell (``steps=200``, ``seeds=32``, ``algorithm=...``).
    Returns:
        One DataFrame: the grid keys as columns, then :func:`simulate`'s columns; ``attrs``
        holds the grid and ``from_store``, the number of cells read back from ``store``.
    """
    from tqdm.auto import tqdm

    cells = [Cell(values, problem, config, dict(common)) for values in expand_grid(grid)]
    backend = backend or LocalBackend()
    show = sys.stderr.isatty() if progress is None else bool(progress)
    frames: dict[int, pd.DataFrame] = {}  # cell index -> frame
    todo = list(range(len(cells)))
    fn, items = run_cell, cells
    if store is not None:
        folder = Path(store)
        if folder.exists() and not folder.is_dir():
            raise fail("store", str(store), "a folder (or a path where one can be made)")
        folder.mkdir(parents=True, exist_ok=True)
        keys = [cell_key(i, c) for i, c in enumerate(cells)]
        for i, key in enumerate(keys):
            path = folder / f"{key}.parquet"
            if path.exists():
                frames[i] = pd.read_parquet(path)
        todo = [i for i in todo if i not in frames]
        fn, items = StoredCell(run_cell, str(folder)), [(keys[i], cells[i]) for i in todo]
    else:
        items = [cells[i] for i in todo]
    with tqdm(total=len(cells), initial=len(frames), desc="sweep", unit="run",
              disable=not show) as bar:
        for i, frame in zip(todo, backend.map(fn, items)):
            frames[i] = frame
            bar.update(1)
    stored = len(cells) - len(todo)
    out = pd.concat([frames[i] for i in range(len(cells))], ignore_index=True)
    out.attrs = {"grid": [{k: _label(v) for k, v in c.values.items()} for c in cells],
                 "from_store": stored}
    return out
