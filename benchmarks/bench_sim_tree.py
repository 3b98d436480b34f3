"""Expected-mode GRPO on token trees: the simulator now against the simulator as it was before
its closed-form tree passes (commit ``BASE``), and against a naive enumeration.

Setup: ``tree/calibrated`` (V = 6, T = 5: 1,555 prefixes, 9,330 logits per seed), GRPO advantages
(G = 8) in expected mode (the exact expectation by conditioning on the number of correct
samples), one on-policy step per batch, SGD lr 1.0, float64, one intra-op thread
(``entropy_lab.sim.single_thread``). Per step the simulator computes the update and the row's
exact quantities (token-averaged entropy and its gradient, J, pass@1, pass@8, dH_exact, dH_pred).

"Before" is the package at ``BASE``, extracted with ``git archive`` into a temporary folder:
there the snapshot differentiates the visit probabilities by autograd through the level-by-level
forward pass, and the GRPO update is one more forward and backward pass through
``success_prob``. Each side runs in its own fresh interpreter (same script, same machine, run one
after the other: new, old, new at 64 seeds; new, old at 1,024), which reports its seconds per step
(a run of n + 1 steps minus a run of 1 step, over n: setup excluded), its peak resident memory and
the load average; the two frames are compared column by column.

The naive reference works one seed at a time by brute-force enumeration: it lists all V^T
sequences, sums log-probs along each, gets P(correct), J and the prefix visit probabilities from
those sequence probabilities, and every gradient by autograd through the enumeration; the GRPO
weight w(p) is the plain sum over c = 0..G of Binomial(G, p)-weighted advantages. Its trajectory
is checked against ``simulate``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from math import comb
from pathlib import Path

import torch

PROBLEM = "tree/calibrated"
BASE = "ffd1162"  # the simulator before the closed-form tree passes
GROUP, LR, K_PASS = 8, 1.0, 8
ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, os, resource, sys, time
import pandas as pd
from entropy_lab.problems import get_problem
from entropy_lab.sim import SimConfig, simulate
from entropy_lab.sim.threads import single_thread

pid, frame_path = sys.argv[1], sys.argv[2]
seeds, steps, group, k = (int(a) for a in sys.argv[3:7])
prob = get_problem(pid)
cfg = SimConfig(steps=1, seeds=seeds, lr=float(sys.argv[7]), mode="expected", group_size=group,
                k=k)
with single_thread():
    simulate(prob, "grpo", cfg, minibatches=1)  # warm-up
    t0 = time.perf_counter()
    simulate(prob, "grpo", cfg, minibatches=1)
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = simulate(prob, "grpo", cfg.replace(steps=steps + 1), minibatches=1)
    many = time.perf_counter() - t0
frame.to_pickle(frame_path)
print(json.dumps({"s_per_step": (many - one) / steps, "run_s": many,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "load": os.getloadavg()[0]}))
"""


def old_package(folder: Path) -> Path:
    """``entropy_lab`` at ``BASE`` extracted into ``folder`` (returned: the PYTHONPATH)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASE, "entropy_lab"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def time_side(path: Path, problem_id: str, seeds: int, steps: int, frame_path: Path) -> dict:
    """One side in a fresh interpreter with ``path`` first on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(path)}
    args = [problem_id, str(frame_path), *(str(a) for a in (seeds, steps, GROUP, K_PASS, LR))]
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], check=True,
                         capture_output=True, text=True, env=env, cwd=str(path))
    return json.loads(out.stdout.strip().splitlines()[-1])


def frame_difference(new_path: Path, old_path: Path) -> float:
    """max |new − old| over the numeric columns of two frames (NaN where both are NaN)."""
    import numpy as np
    import pandas as pd

    new, old = pd.read_pickle(new_path), pd.read_pickle(old_path)
    worst = 0.0
    for col in old.columns:
        if col not in new or not pd.api.types.is_numeric_dtype(old[col]):
            continue
        a, b = new[col].to_numpy(np.float64), old[col].to_numpy(np.float64)
        both = np.isnan(a) & np.isnan(b)
        if (np.isnan(a) != np.isnan(b)).any():
            return float("inf")
        worst = max(worst, float(np.abs(a[~both] - b[~both]).max(initial=0.0)))
    return worst


def compare(seeds: int, steps: int, order: str, problem_id: str = PROBLEM) -> dict:
    """Time the current simulator ("n") and the one at ``BASE`` ("o") in the given order."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "old").mkdir()
        old = old_package(tmp / "old")
        runs = {"n": [], "o": []}
        for side in order:
            path = ROOT if side == "n" else old
            runs[side].append(time_side(path, problem_id, seeds, steps, tmp / f"{side}.pkl"))
        diff = frame_difference(tmp / "n.pkl", tmp / "o.pkl")
    new_s = min(r["s_per_step"] for r in runs["n"])
    old_s = min(r["s_per_step"] for r in runs["o"])
    return {"seeds": seeds, "steps": steps, "new_ms_per_step": [r["s_per_step"] * 1e3
                                                                for r in runs["n"]],
            "old_ms_per_step": [r["s_per_step"] * 1e3 for r in runs["o"]],
            "ratio": old_s / new_s, "new_peak_mib": max(r["peak_rss_mib"] for r in runs["n"]),
            "old_peak_mib": max(r["peak_rss_mib"] for r in runs["o"]),
            "load": [r["load"] for r in runs["n"] + runs["o"]],
            "frames_max_abs_diff": diff}


def problem(problem_id: str = PROBLEM):
    """The preset, built once (its construction is not part of a training step)."""
    from entropy_lab.problems import get_problem

    return get_problem(problem_id)


def run_sim(seeds: int, steps: int, prob=None):
    from entropy_lab.sim import SimConfig, simulate

    cfg = SimConfig(steps=steps, seeds=seeds, lr=LR, mode="expected", group_size=GROUP, k=K_PASS)
    return simulate(prob or problem(), "grpo", cfg, minibatches=1)


def grpo_weight(p: torch.Tensor, g: int, eps: float = 1e-6) -> torch.Tensor:
    """Σ_c Binom(c; G, p)·(1/G)·[c·a⁺(c)/p − (G − c)·a⁻(c)/(1 − p)] for GRPO, written out."""
    total = torch.zeros_like(p)
    for c in range(g + 1):
        std = (c * (g - c) / (g * (g - 1))) ** 0.5
        a_pos, a_neg = (1 - c / g) / (std + eps), (-c / g) / (std + eps)
        pmf = comb(g, c) * p**c * (1 - p) ** (g - c)
        total = total + pmf / g * (c * a_pos / p - (g - c) * a_neg / (1 - p))
    return total


class Enumeration:
    """Every complete sequence of the tree, with the prefix id it passes at each step."""

    def __init__(self, prob):
        v, t = prob.vocab_size, prob.horizon
        leaves = torch.arange(v**t)
        self.tokens = torch.stack([(leaves // v ** (t - 1 - i)) % v for i in range(t)], 1)
        self.states = torch.stack([prob.offsets[i] + leaves // v ** (t - i) for i in range(t)], 1)
        self.correct = prob.leaf_correct
        self.reward = prob.leaf_rewards
        self.num_states, self.horizon = prob.num_states, t

    def measure(self, z: torch.Tensor) -> dict:
        """Exact quantities of one seed's logits ``[S, V]`` by enumeration (differentiable)."""
        logp = torch.log_softmax(z, -1)
        seq_p = logp[self.states, self.tokens].sum(1).exp()
        visits = torch.zeros(self.num_states, dtype=z.dtype)
        for i in range(self.horizon):
            visits = visits.index_add(0, self.states[:, i], seq_p)
        h_s = -(logp.exp() * logp).sum(-1)
        p = (seq_p * self.correct).sum()
        return {"entropy": (visits * h_s).sum() / visits.sum(), "J": (seq_p * self.reward).sum(),
                "p": p}


def reference(seeds: int, steps: int, prob=None) -> list[dict]:
    prob = prob or problem()
    enum = Enumeration(prob)
    rows = []
    for seed in range(seeds):
        z = prob.init_logits(1)[0].clone()
        for step in range(1, steps + 1):
            zg = z.clone().requires_grad_(True)
            before = enum.measure(zg)
            (grad_h,) = torch.autograd.grad(before["entropy"], zg, retain_graph=True)
            (grad_p,) = torch.autograd.grad(before["p"], zg)
            p = before["p"].detach()
            # loss gradient −(1/T)·w(p)·∇p (seq-mean-token-mean over T tokens); SGD step
            delta = LR * grpo_weight(p, GROUP) * grad_p / enum.horizon
            z = z + delta
            with torch.no_grad():
                after = enum.measure(z)
            rows.append({
                "seed": seed, "step": step, "entropy": float(after["entropy"]),
                "J": float(after["J"]), "pass@1": float(after["p"]),
                f"pass@{K_PASS}": float(1 - (1 - after["p"]) ** K_PASS),
                "dH_exact": float(after["entropy"] - before["entropy"].detach()),
                "dH_pred": float((grad_h * delta).sum()),
            })
    return rows


def check_reference(steps: int = 2) -> float:
    """max |reference − simulate| over the recorded columns (one seed)."""
    import pandas as pd

    ref = pd.DataFrame(reference(1, steps)).set_index(["seed", "step"])
    sim = run_sim(1, steps).set_index(["seed", "step"]).loc[ref.index]
    return float((ref - sim[ref.columns]).abs().max().max())


def run(quick: bool = False) -> dict:
    small = compare(64, 3 if quick else 10, "no" if quick else "non")
    out = {
        "name": "sim_tree",
        "ratio": small["ratio"],
        "reference": f"the simulator at {BASE} (autograd through the tree's forward pass), "
                     "each side in a fresh interpreter, 1 thread",
        "problem": PROBLEM,
        "seeds_64": small,
        "reference_vs_sim_max_abs_diff": check_reference(1 if quick else 2),
    }
    if not quick:
        big = compare(1024, 3, "no")
        out["seeds_1024"] = big
        out["ratio_1024"] = big["ratio"]
    return out


if __name__ == "__main__":
    t0 = time.perf_counter()
    for key, value in run(quick="--quick" in sys.argv[1:]).items():
        print(f"{key}: {value}")
    print(f"wall: {time.perf_counter() - t0:.0f} s; torch {torch.__version__}")
