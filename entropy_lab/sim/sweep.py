"""Sweeps: algorithms × configs (× the seeds inside each run) -> one tidy DataFrame.

    sweep({"algorithm": ["grpo", "repo_r"], "lr": [0.1, 0.3]}, problem="tree/calibrated",
          steps=200, seeds=32)

The grid is pure data: a dict of lists (its Cartesian product) or a list of dicts (explicit
cells). Each cell is one :func:`simulate` call — its seeds stay a tensor dim — and its keys become
columns of the result. Cells run through a :class:`Backend`; the default runs them here, one after
another. A distributed backend (e.g. Ray) implements the same one-method protocol: ``map`` must
return results in the order of ``cells`` and may run them anywhere, since a cell and
:func:`run_cell` are picklable.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from entropy_lab.validation import fail


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: its grid values and everything :func:`simulate` needs."""

    values: dict
    problem: object
    config: object = None
    common: dict = field(default_factory=dict)


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


def _label(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return getattr(value, "name", repr(value))


def sweep(grid, problem=None, config=None, *, backend: Backend | None = None,
          progress: bool | None = None, **common) -> pd.DataFrame:
    """Run every cell of ``grid`` and concatenate the frames.

    Args:
        grid: dict of lists or list of dicts; keys are ``algorithm``, ``problem``, SimConfig
            fields, ``problem.<key>`` or algorithm hyperparameters.
        problem: the problem of every cell without a ``problem`` key (id or object).
        config: base SimConfig of every cell.
        backend: where cells run (default :class:`LocalBackend`).
        progress: show a tqdm bar; None = only when stderr is a terminal.
        common: overrides shared by every cell (``steps=200``, ``seeds=32``, ``algorithm=...``).
    Returns:
        One DataFrame: the grid keys as columns, then :func:`simulate`'s columns.
    """
    from tqdm.auto import tqdm

    cells = [Cell(values, problem, config, dict(common)) for values in expand_grid(grid)]
    backend = backend or LocalBackend()
    show = sys.stderr.isatty() if progress is None else bool(progress)
    frames = []
    with tqdm(total=len(cells), desc="sweep", unit="run", disable=not show) as bar:
        for frame in backend.map(run_cell, cells):
            frames.append(frame)
            bar.update(1)
    out = pd.concat(frames, ignore_index=True)
    out.attrs = {"grid": [{k: _label(v) for k, v in c.values.items()} for c in cells]}
    return out
