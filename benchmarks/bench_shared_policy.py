"""The LLM-like preset with a shared-parameter policy: seconds per step with every exact column.

Setup: ``prompts-llm/calibrated`` at C = K = 1024 (``problem.num_prompts``, ``num_answers``),
policy ``lowrank`` (rank 4), GRPO (1 epoch × 4 minibatches), SGD, N = 16 prompts × G = 8
samples per batch, exact pass@256, one thread. Batched: 16 seeds as one ``[16, C, K]`` run.
Reference: the same 16 seeds as a Python loop of one-seed runs (the way a per-seed script would
do it). Both sides are timed in this process, one after the other, each run including its
problem construction and initial snapshot (s/step = run time / steps). Peak resident memory
above the start is measured for each side in a fresh subprocess (the kernel's high-water mark
VmHWM; Linux): in one process the second side would run inside the heap the first one left.

Measured 2026-12-03 at load 1.1–1.6 (benchmarks/README.md, "Shared-parameter policy"): batched
1.14 and 0.92 s/step against 1.45 and 1.09 for the loop (ratio 1.27×, 1.19×; before this
version 7.34 against 1.97, 0.27×), peak 1.38 GiB against 293 MiB (was 2.32 GiB / 492 MiB).
About half of the batched step is still system time: each fresh ``[16, 1024, 1024]`` float64
buffer (128 MiB, above glibc's 32 MiB mmap threshold) is a new mapping whose pages the kernel
faults in and zeroes, while the loop's 8 MiB buffers are reused from the heap; 4 such buffers
per step remain (~75 before). ``THP_MEM_ALLOC_ENABLE=1`` (torch's allocator on transparent huge
pages; read when torch starts) removes the faults but not the zeroing.

    python benchmarks/bench_shared_policy.py [steps]          # default 5
    THP_MEM_ALLOC_ENABLE=1 python benchmarks/bench_shared_policy.py [steps]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from entropy_lab.sim import SimConfig, single_thread
from entropy_lab.sim import run as simulate_run

SEEDS, C, K = 16, 1024, 1024
OVERRIDES = {"problem.num_prompts": C, "problem.num_answers": K, "policy.rank": 4}


def _config(steps: int, seeds: int, first_seed: int = 0) -> SimConfig:
    return SimConfig(steps=steps, seeds=seeds, first_seed=first_seed, n_prompts=16,
                     group_size=8, k=256, lr=0.5, optimizer="sgd", policy="lowrank",
                     rng="per_seed")


def batched(steps: int) -> float:
    t = time.perf_counter()
    simulate_run("prompts-llm/calibrated", "grpo", _config(steps, SEEDS), **OVERRIDES)
    return time.perf_counter() - t


def per_seed(steps: int) -> float:
    t = time.perf_counter()
    for s in range(SEEDS):
        simulate_run("prompts-llm/calibrated", "grpo", _config(steps, 1, first_seed=s),
                     **OVERRIDES)
    return time.perf_counter() - t


SIDES = {"batched": batched, "per_seed": per_seed}


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


def fresh_peak_mib(side: str, steps: int = 1) -> float:
    """:func:`peak_mib` of one side in a new interpreter (this file with ``--peak SIDE``)."""
    out = subprocess.run([sys.executable, __file__, "--peak", side, str(steps)], check=True,
                         capture_output=True, text=True, env=os.environ.copy())
    return float(out.stdout.strip().splitlines()[-1])


def _cpu() -> tuple[float, float, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime, r.ru_minflt


def _timed(fn, steps: int) -> dict:
    """Wall, user and system seconds per step and minor page faults per step of ``fn``."""
    u0, s0, f0 = _cpu()
    wall = fn(steps)
    u1, s1, f1 = _cpu()
    return {"s_per_step": wall / steps, "user_s_per_step": (u1 - u0) / steps,
            "sys_s_per_step": (s1 - s0) / steps, "faults_per_step": (f1 - f0) / steps}


def main(steps: int = 5) -> dict:
    with single_thread():
        batched(1)  # warm-up (imports, caches)
        tb, tp = _timed(batched, steps), _timed(per_seed, steps)
    out = {"steps": steps, "load_1min": os.getloadavg()[0],
           "thp": os.environ.get("THP_MEM_ALLOC_ENABLE", "0")}
    for side, t in (("batched", tb), ("per_seed", tp)):
        out.update({f"{side}_{k}": v for k, v in t.items()})
    out["ratio"] = tp["s_per_step"] / tb["s_per_step"]
    out["batched_peak_mib"] = fresh_peak_mib("batched")
    out["per_seed_peak_mib"] = fresh_peak_mib("per_seed")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))
    return out


def run(quick: bool = False) -> dict:
    """``entropy-lab bench``: ratio = per-seed loop s/step / batched s/step (2 steps quick)."""
    out = main(2 if quick else 5)
    return {"name": "shared_policy", "reference": "loop of 16 one-seed runs", **out}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--peak":
        with single_thread():
            print(peak_mib(SIDES[sys.argv[2]], int(sys.argv[3])))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
