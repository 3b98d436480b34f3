"""The training runs several figures share (figures 2–5 read one sweep), cached on disk.

Each figure runs in its own process, so the shared sweep is stored under ``cache/figures/``
(git-ignored; ``$ENTROPY_LAB_CACHE/figures`` when set) keyed by its settings, the quick switch
and a digest of the package sources: a change to any algorithm, the simulator or these settings
recomputes it; a second figure reading the same runs does not.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import QUICK, budget

from entropy_lab.analysis.metrics import pass_at_k_curve
from entropy_lab.problems import get_problem
from entropy_lab.sim import run, simulate

ROOT = Path(__file__).resolve().parent.parent
# Tests point ENTROPY_LAB_CACHE at a temporary folder so they leave the checkout's cache alone.
CACHE_ROOT = Path(os.environ.get("ENTROPY_LAB_CACHE") or ROOT / "cache")
CACHE = CACHE_ROOT / "figures"
# The committed harness study figures 11 and 13 draw (tests point ENTROPY_LAB_HARNESS_STUDY at
# another study folder).
HARNESS_STUDY = Path(os.environ.get("ENTROPY_LAB_HARNESS_STUDY")
                     or ROOT / "results" / "harness_study")

# The shared sweep of figures 2–5: every algorithm on the calibrated token tree.
ALGORITHMS = ("grpo", "rloo", "ppo", "dapo", "gspo", "repo_r", "adapo", "clip_cov", "kl_cov")
PROBLEM = "tree/calibrated"   # V = 6 tokens, T = 5 steps, 8 rewarded sequences of 7,776
TRAIN = {"steps": budget(120, 12), "seeds": budget(8, 2), "optimizer": "sgd", "lr": 1.0,
         "n_prompts": 8, "group_size": 8}
PASSK_KS = tuple(range(1, 65))


def paper_checks_module(name: str):
    """``paper_checks.<name>``, so a figure draws the world and settings its check judges (one
    definition of each world); puts the checkout root on ``sys.path`` for the import."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"paper_checks.{name}")


def _source_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "entropy_lab").rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cached(name: str, settings: dict, compute) -> dict[str, pd.DataFrame]:
    """``compute()`` (a dict of DataFrames), reused from ``cache/figures/`` when the settings,
    the quick switch and the package sources are unchanged."""
    blob = json.dumps({"settings": settings, "quick": QUICK, "src": _source_digest()},
                      sort_keys=True, default=str)
    key = hashlib.sha256(blob.encode()).hexdigest()[:16]
    path = CACHE / f"{name}-{key}.pkl"
    if path.exists():
        return pd.read_pickle(path)
    frames = compute()
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob(f"{name}-*.pkl"):
        stale.unlink(missing_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    pd.to_pickle(frames, tmp)
    tmp.replace(path)
    return frames


def algorithm_runs(name: str, problem: str, algorithms, train: dict) -> pd.DataFrame:
    """Per-step frames of ``simulate(problem, algorithm, **train)`` for each algorithm (seed 0),
    concatenated with an ``algorithm`` column and cached under ``name``."""
    def compute() -> dict[str, pd.DataFrame]:
        frames = [simulate(problem, a, generator=torch.Generator().manual_seed(0), **train)
                  .assign(algorithm=a) for a in algorithms]
        return {"runs": pd.concat(frames, ignore_index=True)}

    settings = {"algorithms": tuple(algorithms), "problem": problem, **train}
    return cached(name, settings, compute)["runs"]


def _passk_rows(problem, logits, algorithm: str, stage: str, ks=PASSK_KS) -> list[dict]:
    """Exact pass@k of the policies ``logits [B, S, K]`` for k in ``ks``, one row per (seed, k)."""
    probs = problem.success_prob(logits).detach().numpy()          # [B, C]
    weights = problem.prompt_probs.detach().numpy()
    curve = pass_at_k_curve(probs, np.array(ks), prompt_probs=weights)   # [B, M]
    return [{"algorithm": algorithm, "stage": stage, "seed": b, "k": k, "pass": curve[b, i]}
            for b in range(curve.shape[0]) for i, k in enumerate(ks)]


def _train_all() -> dict[str, pd.DataFrame]:
    problem = get_problem(PROBLEM)
    frames, passk = [], []
    for algo in ALGORITHMS:
        result = run(problem, algo, generator=torch.Generator().manual_seed(0), **TRAIN)
        frames.append(result.frame.assign(algorithm=algo))
        init = problem.init_logits(TRAIN["seeds"], torch.Generator().manual_seed(0))
        passk += _passk_rows(problem, init, algo, "before")
        passk += _passk_rows(problem, result.logits, algo, "after")
    return {"runs": pd.concat(frames, ignore_index=True), "passk": pd.DataFrame(passk)}


def tree_sweep() -> dict[str, pd.DataFrame]:
    """``{"runs": per-step frame with an ``algorithm`` column, "passk": exact pass@k before and
    after training, one row per (algorithm, stage, seed, k)}``."""
    settings = {"algorithms": ALGORITHMS, "problem": PROBLEM, **TRAIN, "ks": PASSK_KS}
    return cached("tree_sweep", settings, _train_all)


def describe_training() -> str:
    """One line for a figure's note: the problem and the training settings."""
    return (f"{PROBLEM}, {TRAIN['optimizer']} lr {TRAIN['lr']}, {TRAIN['steps']} steps, "
            f"N×G = {TRAIN['n_prompts']}×{TRAIN['group_size']}, {TRAIN['seeds']} seeds")
