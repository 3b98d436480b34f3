"""The Ray sweep backend on 2 local workers against the local backend, same sweep.

Setup: sampled GRPO on ``bandit64/calibrated``, a grid of 8 learning rates, each cell 64 seeds ×
50 steps (G = 16, one minibatch), one thread per cell. The local backend runs the cells one after
another in this process; ``RayBackend`` runs each as a Ray task on a local Ray started here with
``num_cpus=2`` (start-up timed separately, not in the ratio). Both sweeps must give identical
frames. Overhead per cell: (Ray wall time × workers − the local cells' total time) / cells, i.e.
what a cell costs on Ray beyond its own compute (task dispatch, pickling the frame back, worker
imports on first use). Peak memory: this process's maximum resident set (``ru_maxrss``) and,
for the cells, the largest frame returned.
"""

from __future__ import annotations

import resource
import time

from entropy_lab.sim import SimConfig, single_thread, sweep

CELLS, WORKERS = 8, 2


def _grid(quick: bool):
    lrs = [0.05 * (i + 1) for i in range(4 if quick else CELLS)]
    return {"lr": lrs}


def run(quick: bool = False) -> dict:
    import ray

    from entropy_lab.sim.ray_backend import RayBackend

    steps = 10 if quick else 50
    cfg = SimConfig(steps=steps, seeds=64, n_prompts=1, group_size=16, k=8)
    grid = _grid(quick)
    common = dict(problem="bandit64/calibrated", config=cfg, progress=False, algorithm="grpo",
                  minibatches=1)
    with single_thread():
        sweep({"lr": [0.1]}, **common)  # warm-up
        t0 = time.perf_counter()
        local = sweep(grid, **common)
        local_s = time.perf_counter() - t0
    started = not ray.is_initialized()
    t0 = time.perf_counter()
    if started:
        ray.init(num_cpus=WORKERS, include_dashboard=False)
    startup_s = time.perf_counter() - t0
    try:
        backend = RayBackend()
        sweep({"lr": [0.1, 0.2]}, backend=backend, **common)  # warm the workers
        t0 = time.perf_counter()
        remote = sweep(grid, backend=backend, **common)
        ray_s = time.perf_counter() - t0
    finally:
        if started:
            ray.shutdown()
    cells = len(grid["lr"])
    return {
        "name": "sweep_ray",
        "ratio": local_s / ray_s,
        "reference": f"LocalBackend, the same {cells} cells one after another in this process",
        "workers": WORKERS,
        "cells": cells,
        "local_s": local_s,
        "ray_s": ray_s,
        "ray_startup_s": startup_s,
        "overhead_per_cell_s": (ray_s * WORKERS - local_s) / cells,
        "identical_frames": bool(local.equals(remote)),
        "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
        "frame_MB": local.memory_usage(deep=True).sum() / cells / 1e6,
    }


if __name__ == "__main__":
    import sys

    for key, value in run(quick="--quick" in sys.argv[1:]).items():
        print(f"{key}: {value}")
