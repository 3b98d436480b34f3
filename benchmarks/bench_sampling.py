"""Inverse-CDF sampling by binary search against the comparison count it replaced.

Setup: the draw of sampled GRPO on ``bandit64/calibrated`` at 4,096 seeds — probabilities
``[B, N, K] = [4096, 1, 64]``, G = 16 draws per row (``sample_categorical(p, g, draws=16)``),
float64, one thread. The reference is the previous implementation (kept here): count the CDF
entries below u · total over a ``[B, N, G, K]`` bool tensor. Both sides draw the same uniforms,
and the benchmark checks that they return identical indices. Second ratio: the whole simulator
(GRPO, G = 16, one minibatch, 4,096 seeds, 20 steps) with the reference sampler patched in.

Peak memory: the largest single tensor an op allocates during one call (counted with a
TorchDispatchMode), which is what the comparison count's ``[B, N, G, K]`` temporary sets.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from entropy_lab.sim import single_thread

SEEDS, GROUP, K = 4096, 16, 64


def count_sample(probs_xk, generator, draws=None):
    """The previous sampler: a comparison count over ``[..., G, K]``."""
    cdf = probs_xk.cumsum(-1)
    if draws is not None:
        cdf = cdf[..., None, :]
    shape = probs_xk.shape[:-1] + ((draws,) if draws is not None else ()) + (1,)
    u = torch.rand(shape, generator=generator, dtype=probs_xk.dtype, device=probs_xk.device)
    idx = (cdf < u * cdf[..., -1:]).sum(-1)
    return idx.clamp_max(probs_xk.shape[-1] - 1)


class LargestTensor(TorchDispatchMode):
    """Records the largest output tensor (bytes) of any op run inside it."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.bytes = max(self.bytes, t.numel() * t.element_size())
        return out


def _best(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@contextmanager
def _sampler(fn):
    from entropy_lab.problems import bandit, base

    saved = bandit.sample_categorical, base.sample_categorical
    bandit.sample_categorical = base.sample_categorical = fn
    try:
        yield
    finally:
        bandit.sample_categorical, base.sample_categorical = saved


def run(quick: bool = False) -> dict:
    from entropy_lab.problems import sample_categorical
    from entropy_lab.sim import SimConfig, simulate

    with single_thread():
        g = torch.Generator().manual_seed(0)
        logits = torch.randn(SEEDS, 1, K, generator=g, dtype=torch.float64)
        probs = torch.softmax(logits, -1)
        new = sample_categorical(probs, torch.Generator().manual_seed(1), draws=GROUP)
        old = count_sample(probs, torch.Generator().manual_seed(1), draws=GROUP)
        identical = bool(torch.equal(new, old))
        repeats = 5 if quick else 20
        search_s = _best(lambda: sample_categorical(probs, g, draws=GROUP), repeats)
        count_s = _best(lambda: count_sample(probs, g, draws=GROUP), repeats)
        peaks = {}
        for name, fn in (("search", sample_categorical), ("count", count_sample)):
            with LargestTensor() as mode:
                fn(probs, g, draws=GROUP)
            peaks[name] = mode.bytes

        steps = 5 if quick else 20
        cfg = SimConfig(steps=steps, seeds=SEEDS, lr=0.1, n_prompts=1, group_size=GROUP, k=8)
        sim = {}
        frames = {}
        for name, fn in (("search", sample_categorical), ("count", count_sample),
                         ("search2", sample_categorical), ("count2", count_sample)):
            with _sampler(fn):
                t0 = time.perf_counter()
                frames[name] = simulate("bandit64/calibrated", "grpo", cfg, minibatches=1)
                sim[name] = time.perf_counter() - t0
        same_frames = frames["search"].equals(frames["count"])
        sim_search = min(sim["search"], sim["search2"]) / steps
        sim_count = min(sim["count"], sim["count2"]) / steps
    return {
        "name": "sampling",
        "ratio": count_s / search_s,
        "reference": "comparison count over [B, N, G, K] (the previous sampler), same uniforms",
        "identical_draws": identical,
        "search_ms": 1e3 * search_s,
        "count_ms": 1e3 * count_s,
        "peak_tensor_MB_search": peaks["search"] / 1e6,
        "peak_tensor_MB_count": peaks["count"] / 1e6,
        "sim_ms_per_step_search": 1e3 * sim_search,
        "sim_ms_per_step_count": 1e3 * sim_count,
        "sim_ratio": sim_count / sim_search,
        "sim_frames_identical": bool(same_frames),
        "seeds": SEEDS,
        "threads": 1,
    }


if __name__ == "__main__":
    import sys

    for key, value in run(quick="--quick" in sys.argv[1:]).items():
        print(f"{key}: {value}")
