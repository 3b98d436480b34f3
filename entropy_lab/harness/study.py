"""The harness study: a grid of transformer RL runs that a kill never loses.

The grid (defaults; each run a :class:`~entropy_lab.harness.config.HarnessConfig`):

    algorithms grpo, dapo, rloo, repo_r, adapo  ×  precisions bf16, fp16, fp32
    (+ dapo × fp32_logprobs)  ×  seeds 0 .. S−1, ``steps`` RL steps each on the task ``task``
    + the sequential runs (task A for ``steps``, then ``phase2_task`` for ``steps``) of grpo, dapo
      and repo_r in fp32
    + the fresh runs (``phase2_task`` for ``steps`` from the pretrained base) of grpo in fp32: the
      baseline a sequential run's phase 2 is compared with (claim 12)

Every run samples through the sampler engine ``engine`` (the command's default:
``entropy_lab.harness.engine.DEFAULT_ENGINE``, kernels of its own in real arithmetic), so the
sampler/trainer mismatch the precision claims need is present (docs/precision.md, "Harness
sampler engines").

Each run lives in ``<out>/runs/<run_id>/`` (:mod:`entropy_lab.harness.runio`): a run with a
``summary.json`` is finished and skipped, one with only a checkpoint is resumed from it, so the
study command can be killed and rerun at any time and redoes at most the steps since the last
checkpoint. When every run is finished (and after each one) the tidy files are rewritten:

    <out>/study.csv.gz one row per (run, phase, step): run_id, algo, precision, seed, kind (grid,
                       sequential or fresh), sequential, then every metric of the step (entropy,
                       pass@k, clip fractions, ratio statistics, controller states, Theorem 1)
    <out>/study.json   the exact command, the versions, the grid, the wall time of each run
                       (``wall_s``; their sum ``total_wall_s``) and of the study itself over
                       every invocation (``elapsed_s``)
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from entropy_lab.harness.config import HarnessConfig, make_config
from entropy_lab.project import environment
from entropy_lab.validation import check_number

ALGOS = ("grpo", "dapo", "rloo", "repo_r", "adapo")
PRECISIONS = ("bf16", "fp16", "fp32")
EXTRA = (("dapo", "fp32_logprobs"),)
SEQUENTIAL = ("grpo", "dapo", "repo_r")
FRESH = ("grpo",)
FLOAT_FORMAT = "%.8g"
"""The tidy file's floats: 8 significant digits (the file is committed; full precision stays in
each run's ``metrics.jsonl``)."""


@dataclass(frozen=True)
class StudyRun:
    """One run of the grid: its folder name and its config."""

    run_id: str
    algo: str
    precision: str
    seed: int
    kind: str
    """grid, sequential or fresh (module docstring)."""
    config: HarnessConfig

    @property
    def sequential(self) -> bool:
        return self.kind == "sequential"


def study_runs(steps: int = 200, seeds: int = 3, algos=ALGOS, precisions=PRECISIONS,
               extra=EXTRA, sequential=SEQUENTIAL, fresh=FRESH, task: str = "digitsum",
               phase2_task: str = "palindrome", preset: str | None = "cpu-tiny",
               **overrides) -> list[StudyRun]:
    """The grid's runs in a fixed order (module docstring); ``overrides`` go to every config
    (``device``, ``size``, ``engine``, ...)."""
    check_number("steps", steps, lo=1, integer=True)
    check_number("seeds", seeds, lo=1, integer=True)
    cells = [(a, p, "grid") for a in algos for p in precisions] + [(a, p, "grid") for a, p in extra]
    cells += [(a, "fp32", "sequential") for a in sequential]
    cells += [(a, "fp32", "fresh") for a in fresh]
    prefix = {"grid": "", "sequential": "seq_", "fresh": "fresh_"}
    runs = []
    for algo, precision, kind in cells:
        for seed in range(seeds):
            kw = {"phase2_task": phase2_task, "phase2_steps": steps} if kind == "sequential" else {}
            cfg = make_config(preset, task=phase2_task if kind == "fresh" else task, algo=algo,
                              precision=precision, steps=steps, seed=seed, **kw, **overrides)
            run_id = f"{prefix[kind]}{algo}_{precision}_s{seed}"
            runs.append(StudyRun(run_id, algo, precision, seed, kind, cfg))
    return runs


def _status(path: Path) -> str:
    if (path / "summary.json").exists():
        return "done"
    return "partial" if (path / "config.json").exists() else "new"


def collect(out: Path, runs: list[StudyRun]) -> pd.DataFrame:
    """The tidy frame of every run's finished steps so far (``study.csv.gz``'s rows)."""
    frames = []
    for r in runs:
        metrics = out / "runs" / r.run_id / "metrics.jsonl"
        if not metrics.exists():
            continue
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        if rows:
            frames.append(pd.DataFrame(rows).assign(run_id=r.run_id, algo=r.algo,
                                                    precision=r.precision, seed=r.seed,
                                                    kind=r.kind, sequential=r.sequential))
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    first = ["run_id", "algo", "precision", "seed", "kind", "sequential"]
    return df[first + [c for c in df.columns if c not in first]]


def read_study(out: str | Path) -> tuple[pd.DataFrame, dict]:
    """(the tidy frame, the study.json dict) of the study written under ``out``.

    Raises:
        FileNotFoundError: no study there, with the command that makes one.
    """
    out = Path(out)
    path = out / "study.csv.gz"
    if not path.exists() or not (out / "study.json").exists():
        raise FileNotFoundError(f"{path} or its study.json is missing: run `entropy-lab "
                                f"harness-study --out {out} --jobs 2`")
    return pd.read_csv(path), json.loads((out / "study.json").read_text())


def describe(meta: dict) -> str:
    """The study's world in one line, from its ``study.json`` (figures and checks quote it)."""
    s = meta["settings"]
    return (f"size {s['size']} (hidden {64 * s['size']}, {2 * s['size']} layers), LoRA r "
            f"{s['lora_rank']}, {s['task']} N={s['prompts_per_step']}×G={s['group_size']}, Adam lr "
            f"{s['lr']}, {s['steps']} steps, seeds {meta['seeds']}, engine {s['engine']}, old "
            f"log-probs {s['old_logp']}")


def run_study(out: str | Path, runs: list[StudyRun], progress=print, command=None,
              jobs: int = 1, threads: int = 1) -> pd.DataFrame:
    """Run (or resume) every run of ``runs`` under ``out`` and write the tidy files (module
    docstring); returns the tidy frame.

    ``jobs`` > 1 runs that many runs at once, each in its own process with ``threads`` torch
    threads (the pretrained bases are made first, in this process, so no two jobs pretrain the
    same model). The tidy files are rewritten after every finished run either way.
    """
    check_number("jobs", jobs, lo=1, integer=True)
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    meta_path = out / "study.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"wall_s": {}}
    meta.update({"command": command or " ".join(sys.argv),
                 "versions": environment(("transformers", "peft")),
                 "runs": [r.run_id for r in runs], "jobs": jobs, "threads": threads,
                 "seeds": sorted({r.seed for r in runs}),
                 "settings": runs[0].config.to_dict() if runs else {}})
    started, elapsed_before = time.perf_counter(), meta.get("elapsed_s", 0.0)
    todo = []
    for i, r in enumerate(runs, 1):
        status = _status(out / "runs" / r.run_id)
        if status != "done":
            todo.append((f"[{i}/{len(runs)}] {r.run_id} "
                         f"({'resume' if status == 'partial' else 'new'})", r, status))

    def finished(r: StudyRun, wall: float) -> None:
        meta["wall_s"][r.run_id] = meta["wall_s"].get(r.run_id, 0.0) + wall
        meta["elapsed_s"] = elapsed_before + time.perf_counter() - started
        _write(out, runs, meta)

    if jobs == 1:
        for label, r, status in todo:
            progress(label)
            finished(r, _run_one(r.config, out / "runs" / r.run_id, status == "partial", None))
    elif todo:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        _pretrain_bases([r.config for _, r, _ in todo])
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            futures = {}
            for label, r, status in todo:
                futures[pool.submit(_run_one, r.config, out / "runs" / r.run_id,
                                    status == "partial", threads)] = (label, r)
            for fut in as_completed(futures):
                label, r = futures[fut]
                finished(r, fut.result())
                progress(f"{label} done")
    return _write(out, runs, meta)


def _run_one(cfg: HarnessConfig, path: Path, resume: bool, threads: int | None) -> float:
    """One run of the grid (in a worker process when ``threads`` is set); its wall time."""
    import torch

    from entropy_lab.harness.train import run_harness

    if threads is not None:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    run_harness(cfg, path, resume=resume)
    return time.perf_counter() - t0


def _pretrain_bases(configs: list[HarnessConfig]) -> None:
    """Make (or find in the cache) the pretrained base of every config, once per base."""
    from entropy_lab.harness.model import resolve_device
    from entropy_lab.harness.pretrain import PRETRAIN_KEYS, pretrained_model

    seen = set()
    for cfg in configs:
        key = cfg.digest(PRETRAIN_KEYS)
        if cfg.model_path is None and key not in seen:
            seen.add(key)
            pretrained_model(cfg, resolve_device(cfg.device))


def _write(out: Path, runs, meta) -> pd.DataFrame:
    """Rewrite study.csv.gz and study.json (atomically); the tidy frame written."""
    df = collect(out, runs)
    tmp = out / "study.csv.gz.tmp"
    df.to_csv(tmp, index=False, float_format=FLOAT_FORMAT, compression="gzip")
    tmp.replace(out / "study.csv.gz")
    meta["total_wall_s"] = sum(meta["wall_s"].values())
    meta["finished"] = sum(_status(out / "runs" / r.run_id) == "done" for r in runs)
    tmp = out / "study.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1, default=str))
    tmp.replace(out / "study.json")
    return df
