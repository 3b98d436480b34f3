"""The simulator configurations whose frames were recorded before the RL step was written once
(``tests/data/step_reference.npz``, made by ``python tests/step_reference_configs.py`` at the
commit before that change). ``tests/test_step_bitwise.py`` re-runs them.

Each entry: (id, problem, preset, SimConfig overrides, algorithm overrides). Together they cover
every preset, the bandit, contextual bandit, tree and MDP, sampled and expected mode, SGD and
Adam, batched and per-seed streams, a task switch, a precision pipeline and 2 epochs × 4
minibatches.
"""

from __future__ import annotations

import sys
from pathlib import Path

PRESETS = ("adapo", "adaptive_entropy", "cispo", "clip_cov", "dapo", "dr_grpo", "entropy_bonus",
           "grpo", "gspo", "icepop", "kl_cov", "ppo", "repo", "repo_d", "repo_r", "rloo", "tis")
BASE = {"steps": 5, "seeds": 3, "n_prompts": 4, "group_size": 4, "k": 4, "lr": 0.05,
        "optimizer": "adam", "seed": 3}

CONFIGS = [(f"bandit64/{p}", "bandit64/calibrated", p, {}, {}) for p in PRESETS] + [
    ("tree/grpo/sgd", "tree/calibrated", "grpo", {"optimizer": "sgd", "lr": 0.5}, {}),
    ("tree/repo_r", "tree/calibrated", "repo_r", {}, {}),
    ("mdp/ppo", "mdp/calibrated", "ppo", {}, {}),
    ("cbandit/dapo", "cbandit/uncorrelated", "dapo", {}, {}),
    ("tree/grpo/per_seed", "tree/anti", "grpo", {"rng": "per_seed"}, {}),
    ("tree/grpo/switch", "tree/calibrated", "grpo", {"switch_task_at": 2}, {}),
    ("bandit64/grpo/bf16", "bandit64/calibrated", "grpo", {"precision": "bf16"}, {}),
    ("bandit64/dapo/bf16", "bandit64/calibrated", "dapo", {"precision": "bf16"}, {}),
    ("tree/grpo/expected", "tree/calibrated", "grpo", {"mode": "expected"}, {"minibatches": 1}),
    ("bandit/rloo/expected/natural", "bandit/calibrated", "rloo",
     {"mode": "expected", "optimizer": "sgd", "geometry": "natural"}, {}),
    ("bandit64/dapo/2x4", "bandit64/calibrated", "dapo", {}, {"epochs": 2}),
]


def run_config(entry):
    """The frame's numeric columns and 8 fixed random projections of each seed's final logits."""
    import numpy as np
    import pandas as pd
    import torch

    from entropy_lab.sim import SimConfig, run

    _, problem, preset, sim_kw, algo_kw = entry
    res = run(problem, preset, SimConfig(**{**BASE, **sim_kw}), torch.Generator().manual_seed(7),
              **algo_kw)
    out = {c: res.frame[c].to_numpy(np.float64) for c in res.frame.columns
           if pd.api.types.is_numeric_dtype(res.frame[c])}
    flat = res.logits.numpy().reshape(res.logits.shape[0], -1)
    out["__logits__"] = flat @ np.random.default_rng(0).standard_normal((flat.shape[1], 8))
    return out


def main(path: Path) -> None:
    import numpy as np

    arrays = {}
    for entry in CONFIGS:
        for col, values in run_config(entry).items():
            arrays[f"{entry[0]}|{col}"] = values
    np.savez_compressed(path, **arrays)
    print(f"wrote {len(CONFIGS)} configurations, {len(arrays)} arrays to {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "data"
         / "step_reference.npz")
