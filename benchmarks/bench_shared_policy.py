"""The LLM-like preset with a shared-parameter policy: seconds per step with every exact column.

Setup: ``prompts-llm/calibrated`` at C = K = 1024 (``problem.num_prompts``, ``num_answers``),
policy ``lowrank`` (rank 4), GRPO, SGD, N = 16 prompts × G = 8 samples per batch, exact pass@256,
one thread. Batched: 16 seeds as one ``[16, C, K]`` run. Reference: the same 16 seeds as a
Python loop of one-seed runs (the way a per-seed script would do it). Both sides run in this
process, as does each side's peak resident memory above its start (the kernel's high-water
mark, reset before each side; Linux).

    python benchmarks/bench_shared_policy.py [steps]
"""

from __future__ import annotations

import json
import sys
import time

from entropy_lab.sim import SimConfig, run, single_thread

SEEDS, C, K = 16, 1024, 1024
OVERRIDES = {"problem.num_prompts": C, "problem.num_answers": K, "policy.rank": 4}


def _config(steps: int, seeds: int, first_seed: int = 0) -> SimConfig:
    return SimConfig(steps=steps, seeds=seeds, first_seed=first_seed, n_prompts=16,
                     group_size=8, k=256, lr=0.5, optimizer="sgd", policy="lowrank",
                     rng="per_seed")


def batched(steps: int) -> float:
    t = time.perf_counter()
    run("prompts-llm/calibrated", "grpo", _config(steps, SEEDS), **OVERRIDES)
    return time.perf_counter() - t


def per_seed(steps: int) -> float:
    t = time.perf_counter()
    for s in range(SEEDS):
        run("prompts-llm/calibrated", "grpo", _config(steps, 1, first_seed=s), **OVERRIDES)
    return time.perf_counter() - t


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def peak_mib(fn, steps: int) -> float:
    """Peak resident memory above the resident size at the start, in MiB: the kernel's
    high-water mark (VmHWM) is reset through /proc/self/clear_refs before ``fn`` runs."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    start = _status_kib("VmRSS")
    fn(steps)
    return (_status_kib("VmHWM") - start) / 1024


def main(steps: int = 5) -> dict:
    with single_thread():
        batched(1)  # warm-up (problem construction, caches)
        tb, tp = batched(steps), per_seed(steps)
    out = {"steps": steps, "batched_s_per_step": tb / steps, "per_seed_s_per_step": tp / steps,
           "ratio": tp / tb}
    with single_thread():
        out["batched_peak_mib"] = peak_mib(batched, 1)
        out["per_seed_peak_mib"] = peak_mib(per_seed, 1)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
