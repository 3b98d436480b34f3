"""Sampled GRPO on a 64-arm bandit, G = 16: (1) at 256 seeds × 1,000 steps the batched simulator
against a straightforward per-seed Python loop doing the same update and the same per-step
measurements; (2) at 4,096 seeds the simulator (eager, and ``compile=True``) against a
hand-written batched torch reference computing the same exact columns per step; plus the batched
run's achieved memory bandwidth against a plain tensor copy.

Batched reference (:func:`batched_reference`): one ``[B, K]`` logits tensor, per step the exact
entropy before (log-softmax, π log π) and its closed-form gradient ∂H/∂z = −π(log π + H), the
draw (the same uniforms from the same generator, in the simulator's order: the prompt's and
the G arms'), GRPO advantages, the PPO loss with autograd through the log-softmax, the SGD step,
and after it entropy, J, pass@1, pass@8, dH_exact and dH_pred = ∇H·Δz. It is checked against
the simulator's frame (:func:`check_batched_reference`: the same numbers given the same draws).
Peak memory of each side: the kernel's high-water mark in a fresh interpreter
(``bench_shared_policy.peak_mib``).

Setup (both sides): ``bandit64/calibrated`` (K = 64), one prompt × G = 16 samples per step, GRPO
advantages (unbiased std, ε = 1e-6), PPO clipped loss (ε 0.2/0.2, dual clip 3) at one on-policy
step per batch (``minibatches=1``), SGD lr 0.1, float64. Per step and seed both record entropy,
J, pass@1, pass@8, dH_exact and dH_pred (∇H·Δz). The reference runs fewer seeds and steps (its
cost is linear in seeds × steps) and is scaled up; the figures say by how much. Its trajectories
are checked against ``simulate(rng="per_seed")``, which draws the same random numbers.

Bandwidth: bytes touched per step = the sizes of every non-view aten op's tensor inputs and
outputs (counted with a TorchDispatchMode over a few steps) — an upper bound on DRAM traffic
since caches serve repeats; divided by the measured time per step. Copy bandwidth: best of five
copies of a 256 MiB float64 tensor (read + write counted).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from entropy_lab.sim import single_thread

PROBLEM = "bandit64/calibrated"
SEEDS, STEPS, GROUP, LR, K_PASS = 256, 1000, 16, 0.1, 8
PPO = dict(eps_low=0.2, eps_high=0.2, dual_clip=3.0)
WIDE_SEEDS, WIDE_STEPS = 4096, 30
"""(2): seeds and timed steps of the comparison with the batched reference."""


def config(seeds: int, steps: int, rng: str = "batched", compile: bool = False):
    from entropy_lab.sim import SimConfig

    return SimConfig(steps=steps, seeds=seeds, lr=LR, n_prompts=1, group_size=GROUP, k=K_PASS,
                     rng=rng, compile=compile)


def run_batched(seeds: int, steps: int, rng: str = "batched", compile: bool = False):
    from entropy_lab.sim import simulate

    return simulate(PROBLEM, "grpo", config(seeds, steps, rng, compile), minibatches=1)


def batched_reference(seeds: int, steps: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """The run of ``run_batched(seeds, steps)`` written out by hand on ``[B, K]`` tensors (module
    docstring); returns ``[steps, B]`` per column (entropy, J, pass@1, pass@8, dH_exact, dH_pred,
    loss)."""
    from entropy_lab.problems import get_problem

    prob = get_problem(PROBLEM)
    mu, ok = prob.means[0], prob.success_ck[0]
    gen = torch.Generator().manual_seed(seed)
    z = prob.base_logits.expand(seeds, -1).clone()
    k = z.shape[-1]
    low, high, dual = 1 - PPO["eps_low"], 1 + PPO["eps_high"], PPO["dual_clip"]
    logp0 = torch.log_softmax(z, -1)
    p0 = logp0.exp()
    h0 = -(p0 * logp0).sum(-1)
    cols: dict[str, list] = {c: [] for c in ("entropy", "J", "pass@1", f"pass@{K_PASS}",
                                             "dH_exact", "dH_pred", "loss")}
    for _ in range(steps):
        grad_h = -p0 * (logp0 + h0[:, None])
        torch.rand((seeds, 1, 1), generator=gen, dtype=torch.float64)  # the prompt (C = 1)
        cdf = torch.softmax(z, -1).cumsum(-1)
        u = torch.rand((seeds, GROUP), generator=gen, dtype=torch.float64)
        a = torch.searchsorted(cdf, u * cdf[:, -1:]).clamp_max(k - 1)  # [B, G]
        r = mu[a]
        adv = (r - r.mean(-1, keepdim=True)) / (r.std(-1, keepdim=True) + 1e-6)
        old = logp0.gather(-1, a)
        zl = z.clone().requires_grad_(True)
        ratio = torch.exp(torch.log_softmax(zl, -1).gather(-1, a) - old)
        loss = torch.maximum(-adv * ratio, -adv * ratio.clamp(low, high))
        loss = torch.where(adv < 0, torch.minimum(loss, -adv * dual), loss).mean(-1)
        (g,) = torch.autograd.grad(loss.sum(), zl)
        z1 = z.add(g, alpha=-LR)  # torch.optim.SGD's step
        logp1 = torch.log_softmax(z1, -1)
        p1 = logp1.exp()
        h1 = -(p1 * logp1).sum(-1)
        pi1 = torch.softmax(z1, -1)
        pc = (pi1 * ok).sum(-1).clamp(0.0, 1.0)
        for key, value in (("entropy", h1), ("J", (pi1 * mu).sum(-1)), ("pass@1", pc),
                           (f"pass@{K_PASS}", -torch.expm1(K_PASS * torch.log1p(-pc))),
                           ("dH_exact", h1 - h0), ("dH_pred", (grad_h * (z1 - z)).sum(-1)),
                           ("loss", loss.detach())):
            cols[key].append(value)
        z, logp0, p0, h0 = z1, logp1, p1, h1
    return {key: torch.stack(v) for key, v in cols.items()}


def check_batched_reference(seeds: int = 64, steps: int = 10, compile: bool = False) -> dict:
    """max |reference − simulator frame| per column (steps 1..steps, every seed)."""
    ref = batched_reference(seeds, steps)
    frame = run_batched(seeds, steps, compile=compile)
    frame = frame[frame.step > 0].sort_values(["step", "seed"])
    return {key: float((torch.as_tensor(frame[key].to_numpy(copy=True)).reshape(steps, seeds)
                        - ref[key]).abs().max()) for key in ref}


def _wide(side: str, steps: int) -> float:
    """Seconds of ``steps`` steps at WIDE_SEEDS seeds of one side (reference, eager, compiled)."""
    t0 = time.perf_counter()
    if side == "reference":
        batched_reference(WIDE_SEEDS, steps)
    else:
        run_batched(WIDE_SEEDS, steps, compile=side == "compiled")
    return time.perf_counter() - t0


WIDE_SIDES = ("reference", "eager", "compiled")


def wide_peak_mib(side: str, steps: int = 5) -> float:
    """Peak resident memory (MiB above the start) of one side in a fresh interpreter; the
    compiled side's includes its compilation."""
    out = subprocess.run([sys.executable, __file__, "--peak", side, str(steps)], check=True,
                         capture_output=True, text=True, env=os.environ.copy())
    return float(out.stdout.strip().splitlines()[-1])


def wide(quick: bool = False, repeats: int = 2) -> dict:
    """(2): seed-steps/s of the three sides at WIDE_SEEDS seeds, timed alternately in this
    process (each after a warm-up; the compiled side's compilation is not timed), ``repeats``
    rounds; ratios of the summed times."""
    steps = 5 if quick else WIDE_STEPS
    with single_thread():
        for side in WIDE_SIDES:
            _wide(side, 2)  # warm-up (and the compilation)
        times = {side: [] for side in WIDE_SIDES}
        for _ in range(repeats):
            for side in WIDE_SIDES:
                times[side].append(_wide(side, steps))
        check = check_batched_reference()
        check_compiled = check_batched_reference(compile=True)
    total = {side: sum(v) for side, v in times.items()}
    out = {"wide_seeds": WIDE_SEEDS, "wide_steps": steps, "load_1min": os.getloadavg()[0]}
    for side in WIDE_SIDES:
        out[f"{side}_ms_per_step"] = [round(1e3 * t / steps, 2) for t in times[side]]
        out[f"{side}_seed_steps_per_s"] = WIDE_SEEDS * steps * repeats / total[side]
    out["ratio_eager_vs_reference"] = total["reference"] / total["eager"]
    out["ratio_compiled_vs_reference"] = total["reference"] / total["compiled"]
    out["batched_reference_vs_sim_max_abs_diff"] = max(check.values())
    out["reference_vs_compiled_max_abs_diff"] = max(check_compiled.values())
    if not quick:
        for side in WIDE_SIDES:
            out[f"{side}_peak_mib"] = wide_peak_mib(side)
    return out


def _entropy(z):
    logp = torch.log_softmax(z, -1)
    return -(logp.exp() * logp).sum()


def reference(seeds: int, steps: int, first_seed: int = 0, base_seed: int = 0) -> list[dict]:
    """The same run, one seed at a time, written out in plain torch (draws via problem.sample
    with the per-seed generator of ``rng="per_seed"``, so trajectories can be compared)."""
    from entropy_lab.problems import get_problem
    from entropy_lab.sim.streams import mix

    prob = get_problem(PROBLEM)
    mu = prob.means[0]
    correct = prob.success_ck[0]
    rows = []
    for seed in range(first_seed, first_seed + seeds):
        gen = torch.Generator().manual_seed(mix(base_seed, seed))
        z = prob.init_logits(1, gen)[0, 0].clone().requires_grad_(True)
        opt = torch.optim.SGD([z], lr=LR)
        for step in range(1, steps + 1):
            z0 = z.detach().clone()
            zg = z0.clone().requires_grad_(True)
            h0 = _entropy(zg)
            (grad_h,) = torch.autograd.grad(h0, zg)
            rollout = prob.sample(z0.view(1, 1, -1), 1, GROUP, gen)
            r = prob.reward(rollout, gen)[0, 0]
            a = rollout.actions[0, 0, :, 0]
            adv = (r - r.mean()) / (r.std() + 1e-6)
            logp = torch.log_softmax(z, -1)[a]
            ratio = torch.exp(logp - logp.detach())
            low, high = 1 - PPO["eps_low"], 1 + PPO["eps_high"]
            clipped = torch.maximum(-adv * ratio, -adv * ratio.clamp(low, high))
            dual = torch.where(adv < 0, torch.minimum(clipped, -adv * PPO["dual_clip"]), clipped)
            loss = dual.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                p = torch.softmax(z, -1)
                h1 = _entropy(z)
                p_ok = (p * correct).sum()
                rows.append({
                    "seed": seed, "step": step, "entropy": float(h1), "J": float((p * mu).sum()),
                    "pass@1": float(p_ok), f"pass@{K_PASS}": float(1 - (1 - p_ok) ** K_PASS),
                    "dH_exact": float(h1 - h0), "dH_pred": float((grad_h * (z - z0)).sum()),
                })
    return rows


def check_reference(seeds: int = 2, steps: int = 20) -> float:
    """max |reference − simulate(rng='per_seed')| over the recorded columns."""
    import pandas as pd

    ref = pd.DataFrame(reference(seeds, steps)).set_index(["seed", "step"])
    sim = run_batched(seeds, steps, rng="per_seed").set_index(["seed", "step"]).loc[ref.index]
    return float((ref - sim[ref.columns]).abs().max().max())


class ByteCounter(TorchDispatchMode):
    """Sum of the sizes of every aten op's tensor inputs and outputs (view ops move nothing and
    are skipped; an expanded input counts its logical size, as a kernel reads it)."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if getattr(func, "is_view", False) or func.__name__.startswith(("detach", "lift_fresh")):
            return out
        for x in torch.utils._pytree.tree_leaves((args, kwargs or {}, out)):
            if isinstance(x, torch.Tensor):
                self.bytes += x.numel() * x.element_size()
        return out


def copy_bandwidth(mib: int = 256) -> float:
    """Bytes/s of ``dst.copy_(src)`` on a large float64 tensor (read + write), best of five."""
    n = mib * 2**20 // 8
    src = torch.rand(n, dtype=torch.float64)
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * n * 8 / best


def run(quick: bool = False) -> dict:
    # Small tensors: one intra-op thread avoids OpenMP wake-up costs.
    with single_thread():
        steps = 100 if quick else STEPS
        ref_seeds, ref_steps = (2, 20) if quick else (4, 100)
        run_batched(SEEDS, 3)  # warm-up (imports, allocator)
        t0 = time.perf_counter()
        run_batched(SEEDS, steps)
        batched_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        reference(ref_seeds, ref_steps)
        ref_s = (time.perf_counter() - t0) * (SEEDS * steps) / (ref_seeds * ref_steps)
        counter = ByteCounter()
        with counter:
            run_batched(SEEDS, 4)
        with ByteCounter() as base:
            run_batched(SEEDS, 2)
        bytes_per_step = (counter.bytes - base.bytes) / 2
        achieved = bytes_per_step / (batched_s / steps)
        copy = copy_bandwidth(64 if quick else 256)
        return {
            "name": "sim_bandit",
            "ratio": ref_s / batched_s,
            "reference": f"per-seed Python loop, same update and measurements ({ref_seeds} seeds "
                         f"x {ref_steps} steps timed, scaled linearly to {SEEDS} x {steps})",
            "seeds": SEEDS,
            "steps": steps,
            "batched_s": batched_s,
            "batched_ms_per_step": 1e3 * batched_s / steps,
            "reference_s_scaled": ref_s,
            "reference_vs_sim_max_abs_diff": check_reference(),
            "bytes_per_step": bytes_per_step,
            "achieved_GBps": achieved / 1e9,
            "copy_GBps": copy / 1e9,
            "bandwidth_fraction": achieved / copy,
            "threads": 1,
            **wide(quick),
        }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--peak":
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_shared_policy import peak_mib

        side = sys.argv[2]
        with single_thread():  # the compiled side's peak includes its compilation
            print(peak_mib(lambda n: _wide(sys.argv[2], n), int(sys.argv[3])))
    elif "--wide" in sys.argv[1:]:
        for key, value in wide(quick="--quick" in sys.argv[1:]).items():
            print(f"{key}: {value}")
    else:
        for key, value in run(quick="--quick" in sys.argv[1:]).items():
            print(f"{key}: {value}")
