"""Sweeps: algorithms × configs (× the seeds inside each run) -> one tidy DataFrame.

    sweep({"algorithm": ["grpo", "repo_r"], "lr": [0.1, 0.3]}, problem="tree/calibrated",
          steps=200, seeds=32)

The grid is pure data: a dict of lists (its Cartesian product) or a list of dicts (explicit
cells). Each cell is one :func:`simulate` call — its seeds stay a tensor dim — and its keys become
columns of the result. Cells that differ only in continuous hyperparameters that may take one value
per replica (``lr``, ε_low/ε_high, the dual clip, the entropy coefficient, REPO β, ζ;
:mod:`entropy_lab.sim.replicas`) run as one batched call with C·S replicas instead of C calls of S
(``batch=``, :func:`replica_groups`); the frame is split back into the cells' frames, with the
same columns. Cells run through a :class:`Backend` in groups; the default runs them here, one
after another; :class:`entropy_lab.sim.ray_backend.RayBackend` runs each cell as a Ray task, on this
machine or a cluster. Any backend implements the same one-method protocol: ``map`` must return
results in the order of its items (here groups of cells, each giving a list of frames) and may
run them anywhere, since a cell and :class:`RunGroup` are picklable.

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
    """Runs ``fn`` over items (:func:`sweep` passes groups of ``(key, Cell)`` pairs and a
    :class:`RunGroup`); yields the results in the order of the items."""

    def map(self, fn, cells: Sequence) -> Iterable: ...


class LocalBackend:
    """This process, one item after another (each is already batched over its seeds)."""

    def map(self, fn, cells: Sequence) -> Iterator:
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

    problem, algorithm, overrides = _call(cell)
    return _with_labels(simulate(problem, algorithm, cell.config, **overrides), cell)


def _call(cell: Cell) -> tuple[object, object, dict]:
    """(problem, algorithm, overrides) of :func:`simulate` for ``cell``."""
    values = dict(cell.values)
    algorithm = values.pop("algorithm", cell.common.get("algorithm"))
    problem = values.pop("problem", cell.problem)
    if algorithm is None:
        raise fail("grid", cell.values, "an 'algorithm' key (or algorithm=... for every cell)")
    common = {k: v for k, v in cell.common.items() if k != "algorithm"}
    return problem, algorithm, {**common, **values}


def _with_labels(frame: pd.DataFrame, cell: Cell) -> pd.DataFrame:
    """``frame`` with ``cell.values`` as leading columns (objects by name). A key that is already
    a column (``eps_high``, ``zeta``, ``entropy_coef``: the value in effect at each step, which a
    controller may change) keeps the simulator's column instead of a second one."""
    labels = [(k, v) for k, v in cell.values.items() if k not in frame.columns]
    for i, (key, value) in enumerate(labels):
        frame.insert(i, key, _label(value))
    return frame


def run_replicas(cells: Sequence[Cell]) -> list[pd.DataFrame]:
    """Cells that differ only in per-replica values (:func:`replica_groups`) as one run.

    With S seeds per cell and C cells the run has B = C·S replicas: cell c's seed ids (repeats
    across cells) and its values of the keys of :mod:`entropy_lab.sim.replicas`, each repeated
    over its S replicas. Returns each cell's frame, with the columns :func:`run_cell` gives it
    (with ``rng="per_seed"``, an exact policy and a loss without random draws, the same values).
    """
    from entropy_lab.sim.loop import simulate

    cells = list(cells)
    if len(cells) == 1:
        return [run_cell(cells[0])]
    config = _cell_config(cells[0])
    per_seed, n = config.seeds, len(cells)
    problem, algorithm, overrides = _call(cells[0])
    for key in _replica_keys(cells[0], config.mode):
        overrides[key] = [float(c.values[key]) for c in cells for _ in range(per_seed)]
    overrides.update(seeds=n * per_seed, seed_ids=tuple(config.replica_seed_ids()) * n)
    frame = simulate(problem, algorithm, cells[0].config, **overrides)
    rows = len(frame) // n
    return [_with_labels(frame.iloc[c * rows:(c + 1) * rows].reset_index(drop=True), cell)
            for c, cell in enumerate(cells)]


def _cell_config(cell: Cell):
    """The cell's SimConfig: the base config with the SimConfig fields of common and values."""
    from entropy_lab.sim.config import SimConfig

    base = cell.config if cell.config is not None else SimConfig()
    fields = set(SimConfig.field_names())
    changes = {k: v for k, v in {**cell.common, **cell.values}.items() if k in fields}
    return base.replace(**changes) if changes else base


def _replica_keys(cell: Cell, mode: str) -> list[str]:
    """The keys of ``cell.values`` that one batched run may vary per replica in ``mode``."""
    from entropy_lab.sim.replicas import REPLICA_CONFIG, REPLICA_HPS

    allowed = REPLICA_CONFIG + (REPLICA_HPS if mode == "sampled" else ())
    return [k for k, v in cell.values.items()
            if k.split(".", 1)[-1] in allowed and isinstance(v, int | float)
            and not isinstance(v, bool)]


def _exact_when_batched(cell: Cell, config) -> bool:
    """True when a batched run reproduces the cells' separate runs: per-seed streams, the exact
    precision path, the tabular policy (other policies draw their initialisation for the whole
    batch) and a loss that draws no random numbers over the batch (``clip_cov``)."""
    from entropy_lab.sim.loop import resolve

    if config.rng != "per_seed" or config.precision not in (None, "exact"):
        return False
    if config.policy != "tabular":
        return False
    problem, algorithm, overrides = _call(cell)
    algorithm = resolve(problem, algorithm, config, {
        k: v for k, v in overrides.items() if not k.startswith(("problem.", "policy."))
        and k not in config.field_names()})[1]
    return "generator" not in algorithm.loss_fn().data_args


def replica_groups(cells: Sequence[Cell], batch: bool | None = None) -> list[list[int]]:
    """Indices of ``cells`` grouped into runs of :func:`run_replicas`, in cell order.

    Cells join a group when they differ only in the values of per-replica keys (``lr``; in
    sampled mode also :data:`entropy_lab.sim.replicas.REPLICA_HPS`), given as numbers.
    ``batch=None`` groups them only where the batched run equals the separate runs
    (:func:`_exact_when_batched`); ``True`` wherever they can share a run (with
    ``rng="batched"`` the batch then draws other random numbers than separate cells would, from
    the same distribution); ``False`` never.
    """
    if batch is False:
        return [[i] for i in range(len(cells))]
    groups: dict[tuple, list[int]] = {}
    for i, cell in enumerate(cells):
        config = _cell_config(cell)
        varying = set(_replica_keys(cell, config.mode))
        fixed = sorted((k, _label(v)) for k, v in cell.values.items() if k not in varying)
        key = (tuple(fixed), tuple(sorted(varying)), _label(cell.problem), repr(cell.config),
               tuple(sorted((k, _label(v)) for k, v in cell.common.items())))
        if batch is None and not varying:
            key = (*key, i)  # nothing to batch over
        groups.setdefault(key, []).append(i)
    out = []
    for members in groups.values():
        cell = cells[members[0]]
        if len(members) > 1 and (batch or _exact_when_batched(cell, _cell_config(cell))):
            out.append(members)
        else:
            out.extend([i] for i in members)
    return sorted(out)


@dataclass(frozen=True)
class RunGroup:
    """Runs one group of cells (:func:`run_replicas`) and, with a ``folder``, writes each cell's
    frame there (parquet, atomic) as soon as the group finishes."""

    folder: str | None = None
    """The store folder; a cell's frame goes to ``<folder>/<cell key>.parquet``. None: no store."""

    def __call__(self, group: Sequence[tuple[str, Cell]]) -> list[pd.DataFrame]:
        from entropy_lab.sim.io import write_frame

        frames = run_replicas([cell for _, cell in group])
        if self.folder is not None:
            for (key, _), frame in zip(group, frames):
                write_frame(frame, Path(self.folder) / f"{key}.parquet", force=True)
        return frames


def cell_key(index: int, cell: Cell) -> str:
    """``cell-00003-<12 hex>``: the cell's position and a hash of everything that defines it."""
    text = repr((
        sorted((k, _label(v)) for k, v in cell.values.items()),
        _label(cell.problem),
        repr(cell.config),
        sorted((k, _label(v)) for k, v in cell.common.items()),
    ))
    return f"cell-{index:05d}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def _label(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return getattr(value, "name", repr(value))


def sweep(grid, problem=None, config=None, *, backend: Backend | None = None,
          progress: bool | None = None, store=None, batch: bool | None = None,
          **common) -> pd.DataFrame:
    """Run every cell of ``grid`` and concatenate the frames.

    Args:
        grid: dict of lists or list of dicts; keys are ``algorithm``, ``problem``, SimConfig
            fields, ``problem.<key>`` or algorithm hyperparameters.
        problem: the problem of every cell without a ``problem`` key (id or object).
        config: base SimConfig of every cell.
        backend: where cells run (default :class:`LocalBackend`); it receives groups of cells
            (one batched run each, :func:`replica_groups`) and returns each group's frames.
        progress: show a tqdm bar; None = only when stderr is a terminal.
        store: a folder; each cell's frame is saved there as it finishes and a rerun skips the
            cells already saved (see the module docstring). None = keep nothing.
        batch: run cells that differ only in per-replica values (``lr``, ε_low, ε_high, the
            dual clip, the entropy coefficient, REPO β, ζ) as one batched run: None (default)
            where that gives the same frame as separate runs (``rng="per_seed"``, exact
            precision, tabular policy, no random draws in the loss); True wherever possible;
            False never (:func:`replica_groups`).
        common: overrides shared by every cell (``steps=200``, ``seeds=32``, ``algorithm=...``).
    Returns:
        One DataFrame: the grid keys as columns, then :func:`simulate`'s columns (the same
        columns whether or not cells were batched); ``attrs`` holds the grid and
        ``from_store``, the number of cells read back from ``store``.
    """
    from tqdm.auto import tqdm

    cells = [Cell(values, problem, config, dict(common)) for values in expand_grid(grid)]
    backend = backend or LocalBackend()
    show = sys.stderr.isatty() if progress is None else bool(progress)
    frames: dict[int, pd.DataFrame] = {}  # cell index -> frame
    keys: list[str | None] = [None] * len(cells)
    folder = None
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
    todo = [i for i in range(len(cells)) if i not in frames]
    groups = [[todo[j] for j in g] for g in replica_groups([cells[i] for i in todo], batch)]
    units = [[(keys[i], cells[i]) for i in g] for g in groups]
    fn = RunGroup(None if folder is None else str(folder))
    with tqdm(total=len(cells), initial=len(frames), desc="sweep", unit="run",
              disable=not show) as bar:
        for group, group_frames in zip(groups, backend.map(fn, units)):
            for i, frame in zip(group, group_frames):
                frames[i] = frame
            bar.update(len(group))
    stored = len(cells) - len(todo)
    out = pd.concat([frames[i] for i in range(len(cells))], ignore_index=True)
    out.attrs = {"grid": [{k: _label(v) for k, v in c.values.items()} for c in cells],
                 "from_store": stored}
    return out
