"""Policy losses batched over replicas vs one call per replica.

Workload: the simulator's shape — S = 64 seeds × B = 64 sequences × T = 16 tokens, float64;
one evaluation = forward and backward of each loss in ``LOSSES`` with its default hyperparameters
and per-replica ε_high (a controller's tensor) where the loss takes one.

- fast: one call on ``[S, B, T]`` (replicas in the leading dim).
- reference: a Python loop calling the loss on each ``[B, T]`` replica with a float ε_high —
  obviously correct, since replicas never interact. The same run checks that both give the same
  losses and gradients.
"""

from __future__ import annotations

import inspect
import time

import torch

from entropy_lab.algorithms import get_loss

S, B, T, K = 64, 64, 16, 8
LOSSES = ("pg", "ppo", "gspo", "cispo", "kl_cov", "clip_cov", "tis")


def _inputs(s: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(s, B, T, generator=g, dtype=torch.float64) * 3
    old = logp + 0.2 * torch.randn(s, B, T, generator=g, dtype=torch.float64)
    adv = torch.randn(s, B, 1, generator=g, dtype=torch.float64).expand(s, B, T).contiguous()
    mask = (torch.rand(s, B, T, generator=g) < 0.9).to(torch.float64)
    eps_high = 0.2 + 0.1 * torch.rand(s, generator=g, dtype=torch.float64)
    return logp, old, adv, mask, eps_high


def _kwargs(name: str, eps_high):
    params = inspect.signature(get_loss(name)).parameters
    kw = {"eps_high": eps_high} if "eps_high" in params else {}
    if name == "clip_cov":
        kw["clip_cov_ratio"] = 1.0  # every eligible token: the random draw does not matter
    if "generator" in params:
        kw["generator"] = torch.Generator().manual_seed(0)
    return kw


def batched(name: str, logp, old, adv, mask, eps_high):
    x = logp.clone().requires_grad_(True)
    loss, _ = get_loss(name)(x, old, adv, mask, **_kwargs(name, eps_high))
    loss.sum().backward()
    return loss.detach(), x.grad


def looped(name: str, logp, old, adv, mask, eps_high):
    losses, grads = [], []
    for i in range(logp.shape[0]):
        x = logp[i].clone().requires_grad_(True)
        loss, _ = get_loss(name)(x, old[i], adv[i], mask[i], **_kwargs(name, float(eps_high[i])))
        loss.backward()
        losses.append(loss.detach())
        grads.append(x.grad)
    return torch.stack(losses), torch.stack(grads)


def _time(fn, *args, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> dict:
    s = 16 if quick else S
    repeat = 2 if quick else 5
    data = _inputs(s)
    fast_s = ref_s = 0.0
    max_err = 0.0
    for name in LOSSES:
        lf, gf = batched(name, *data)
        lr, gr = looped(name, *data)
        max_err = max(max_err, float((lf - lr).abs().max()), float((gf - gr).abs().max()))
        fast_s += _time(batched, name, *data, repeat=repeat)
        ref_s += _time(looped, name, *data, repeat=repeat)
    return {
        "name": "algorithms_replicas",
        "ratio": ref_s / fast_s,
        "reference": "Python loop over replicas, one [B, T] loss call each",
        "workload": f"{len(LOSSES)} losses, forward+backward, S={s} B={B} T={T} float64",
        "fast_s": fast_s,
        "reference_s": ref_s,
        "max_abs_diff": max_err,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
