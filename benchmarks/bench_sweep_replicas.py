"""A 16-configuration × 16-seed sweep as replicas against the same cells one after another.

Setup: sampled GRPO on ``bandit64/calibrated`` (G = 16, one minibatch), a grid of 16
(learning rate, ε_high) configurations, each cell 16 seeds × 50 steps, one thread. Both sides run
in this process through :func:`entropy_lab.sim.sweep`: ``batch=False`` runs the 16 cells one
after another (16 runs of B = 16); the batched sweep runs them as one run of B = 256 replicas,
each with its cell's ``lr`` and ``eps_high`` (:mod:`entropy_lab.sim.replicas`).

Two stream modes, both timed (the ratio reported is the first):

* ``rng="batched"`` with ``batch=True``: one shared stream, so sampling is batched over all 256
  replicas too; the draws differ from the cell-by-cell sweep (the same distribution), so only
  the frames' columns, seeds and steps are compared.
* ``rng="per_seed"`` with the default ``batch=None``: the batched frame must equal the
  cell-by-cell one (checked here to 1e-12); per-seed sampling is a Python loop over the replicas
  in both runs, which caps this ratio.

Peak memory: this process's maximum resident set (``ru_maxrss``) after both sides, and the
frame size per cell.
"""

from __future__ import annotations

import resource
import time

import numpy as np

from entropy_lab.sim import SimConfig, single_thread, sweep

CONFIGS, SEEDS = 16, 16


def _grid(quick: bool) -> list[dict]:
    n = 4 if quick else CONFIGS
    lrs = [0.05, 0.1, 0.2, 0.4]
    highs = [0.2, 0.28, 0.35, 0.5]
    cells = [{"lr": lr, "eps_high": eh} for lr in lrs for eh in highs]
    return cells[:n]


def _timed(grid, **kw) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = sweep(grid, **kw)
    return time.perf_counter() - t0, out


def run(quick: bool = False) -> dict:
    steps = 10 if quick else 50
    grid = _grid(quick)
    out = {"name": "sweep_replicas", "configs": len(grid), "seeds": SEEDS, "steps": steps}
    with single_thread():
        for rng, batch in (("batched", True), ("per_seed", None)):
            cfg = SimConfig(steps=steps, seeds=SEEDS, n_prompts=1, group_size=16, k=8, rng=rng)
            common = dict(problem="bandit64/calibrated", config=cfg, progress=False,
                          algorithm="grpo", minibatches=1)
            sweep(grid[:2], batch=batch, **common)  # warm-up
            separate_s, separate = _timed(grid, batch=False, **common)
            batched_s, batched = _timed(grid, batch=batch, **common)
            same_columns = list(batched.columns) == list(separate.columns)
            key = f"{rng}_"
            out[key + "separate_s"] = separate_s
            out[key + "batched_s"] = batched_s
            out[key + "ratio"] = separate_s / batched_s
            out[key + "same_columns"] = same_columns
            if rng == "per_seed":
                num = separate.select_dtypes("number").to_numpy()
                ref = batched.select_dtypes("number").to_numpy()
                out["per_seed_max_rel_diff"] = float(np.nanmax(
                    np.abs(num - ref) / np.maximum(np.abs(ref), 1e-300), initial=0.0))
                out["per_seed_nan_pattern_equal"] = bool((np.isnan(num) == np.isnan(ref)).all())
    out["ratio"] = out["batched_ratio"]
    out["reference"] = (f"sweep(batch=False): the same {len(grid)} cells of {SEEDS} seeds one "
                        "after another in this process (rng='batched')")
    out["peak_rss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    out["frame_MB_per_cell"] = separate.memory_usage(deep=True).sum() / len(grid) / 1e6
    return out


if __name__ == "__main__":
    import sys

    for key, value in run(quick="--quick" in sys.argv[1:]).items():
        print(f"{key}: {value}")
