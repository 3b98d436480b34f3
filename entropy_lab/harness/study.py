"""The harness study: a grid of transformer RL runs that a kill never loses.

The grid (defaults; each run a :class:`~entropy_lab.harness.config.HarnessConfig`):

    algorithms grpo, dapo, rloo, repo_r, adapo  ×  precisions bf16, fp16, fp32
    (+ dapo × fp32_logprobs)  ×  seeds 0 .. S−1, ``steps`` RL steps each on the task ``task``
    + the sequential runs (task A for ``steps``, then ``phase2_task`` for ``steps``) of grpo, dapo
      and repo_r in fp32

Each run lives in ``<out>/runs/<run_id>/`` (:mod:`entropy_lab.harness.runio`): a run with a
``summary.json`` is finished and skipped, one with only a checkpoint is resumed from it, so the
study command can be killed and rerun at any time and redoes at most the steps since the last
checkpoint. When every run is finished (and after each one) the tidy files are rewritten:

    <out>/study.csv    one row per (run, phase, step): run_id, algo, precision, seed, sequential,
                       then every metric of the step (entropy, pass@k, clip fractions, ratio
                       statistics, controller states, Theorem 1 at scale)
    <out>/study.json   the exact command, the versions, the grid, the wall time of each run
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from entropy_lab.harness.config import HarnessConfig, make_config
from entropy_lab.validation import check_number

ALGOS = ("grpo", "dapo", "rloo", "repo_r", "adapo")
PRECISIONS = ("bf16", "fp16", "fp32")
EXTRA = (("dapo", "fp32_logprobs"),)
SEQUENTIAL = ("grpo", "dapo", "repo_r")


@dataclass(frozen=True)
class StudyRun:
    """One run of the grid: its folder name and its config."""

    run_id: str
    algo: str
    precision: str
    seed: int
    sequential: bool
    config: HarnessConfig


def study_runs(steps: int = 200, seeds: int = 3, algos=ALGOS, precisions=PRECISIONS,
               extra=EXTRA, sequential=SEQUENTIAL, task: str = "digitsum",
               phase2_task: str = "palindrome", preset: str | None = "cpu-tiny",
               **overrides) -> list[StudyRun]:
    """The grid's runs in a fixed order (module docstring); ``overrides`` go to every config
    (``device``, ``size``, ``engine``, ...)."""
    check_number("steps", steps, lo=1, integer=True)
    check_number("seeds", seeds, lo=1, integer=True)
    cells = [(a, p, False) for a in algos for p in precisions] + [(a, p, False) for a, p in extra]
    cells += [(a, "fp32", True) for a in sequential]
    runs = []
    for algo, precision, seq in cells:
        for seed in range(seeds):
            kw = {"phase2_task": phase2_task, "phase2_steps": steps} if seq else {}
            cfg = make_config(preset, task=task, algo=algo, precision=precision, steps=steps,
                              seed=seed, **kw, **overrides)
            run_id = f"{'seq_' if seq else ''}{algo}_{precision}_s{seed}"
            runs.append(StudyRun(run_id, algo, precision, seed, seq, cfg))
    return runs


def _status(path: Path) -> str:
    if (path / "summary.json").exists():
        return "done"
    return "partial" if (path / "config.json").exists() else "new"


def collect(out: Path, runs: list[StudyRun]) -> pd.DataFrame:
    """The tidy frame of every run's finished steps so far (``study.csv``'s rows)."""
    frames = []
    for r in runs:
        metrics = out / "runs" / r.run_id / "metrics.jsonl"
        if not metrics.exists():
            continue
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        if rows:
            frames.append(pd.DataFrame(rows).assign(run_id=r.run_id, algo=r.algo,
                                                    precision=r.precision, seed=r.seed,
                                                    sequential=r.sequential))
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    first = ["run_id", "algo", "precision", "seed", "sequential"]
    return df[first + [c for c in df.columns if c not in first]]


def _versions() -> dict:
    import torch

    out = {"python": platform.python_version(), "torch": torch.__version__,
           "platform": platform.platform()}
    for name in ("transformers", "peft", "numpy", "pandas"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = None
    return out


def run_study(out: str | Path, runs: list[StudyRun], progress=print, command=None) -> pd.DataFrame:
    """Run (or resume) every run of ``runs`` under ``out`` and write the tidy files (module
    docstring); returns the tidy frame."""
    from entropy_lab.harness.train import run_harness

    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    meta_path = out / "study.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"wall_s": {}}
    meta.update({"command": command or " ".join(sys.argv), "versions": _versions(),
                 "runs": [r.run_id for r in runs]})
    for i, r in enumerate(runs, 1):
        path = out / "runs" / r.run_id
        status = _status(path)
        if status == "done":
            continue
        progress(f"[{i}/{len(runs)}] {r.run_id} ({'resume' if status == 'partial' else 'new'})")
        t0 = time.perf_counter()
        run_harness(r.config, path, resume=status == "partial")
        meta["wall_s"][r.run_id] = meta["wall_s"].get(r.run_id, 0.0) + time.perf_counter() - t0
        _write(out, runs, meta)
    _write(out, runs, meta)
    return collect(out, runs)


def _write(out: Path, runs, meta) -> None:
    df = collect(out, runs)
    tmp = out / "study.csv.tmp"
    df.to_csv(tmp, index=False)
    tmp.replace(out / "study.csv")
    meta["total_wall_s"] = sum(meta["wall_s"].values())
    meta["finished"] = sum(_status(out / "runs" / r.run_id) == "done" for r in runs)
    tmp = out / "study.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1, default=str))
    tmp.replace(out / "study.json")
