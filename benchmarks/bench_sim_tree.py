"""Expected-mode GRPO on a token tree with V = 8, T = 6 (37,449 prefixes, 262,144 sequences),
64 seeds: simulator steps per second against a naive reference.

Setup: ``tree8x6/calibrated``, GRPO advantages (G = 8) in expected mode (the exact expectation
by conditioning on the number of correct samples), one on-policy step per batch, SGD lr 1.0,
float64. Per step both sides compute the update and the row's exact quantities (token-averaged
entropy and its gradient, J, pass@1, pass@8, dH_exact, dH_pred).

The naive reference works one seed at a time by brute-force enumeration: it lists all V^T
sequences, sums log-probs along each, gets P(correct), J and the prefix visit probabilities from
those sequence probabilities, and every gradient by autograd through the enumeration; the GRPO
weight w(p) is the plain sum over c = 0..G of Binomial(G, p)-weighted advantages. It is timed on
fewer seeds and steps and scaled linearly; its trajectory is checked against ``simulate``.
"""

from __future__ import annotations

import time
from math import comb

import torch

PROBLEM = "tree8x6/calibrated"
SEEDS, GROUP, LR, K_PASS = 64, 8, 1.0, 8


def problem():
    """The preset, built once (its construction is not part of a training step)."""
    from entropy_lab.problems import get_problem

    return get_problem(PROBLEM)


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
    steps = 2 if quick else 5
    ref_seeds, ref_steps = (1, 1) if quick else (2, 2)
    prob = problem()
    run_sim(SEEDS, 1, prob)  # warm-up
    t0 = time.perf_counter()
    run_sim(SEEDS, steps, prob)
    sim_s = time.perf_counter() - t0
    enum_prob = problem()
    t0 = time.perf_counter()
    reference(ref_seeds, ref_steps, enum_prob)
    ref_s = (time.perf_counter() - t0) * (SEEDS * steps) / (ref_seeds * ref_steps)
    return {
        "name": "sim_tree",
        "ratio": ref_s / sim_s,
        "reference": f"naive per-seed enumeration of all 8^6 sequences with autograd "
                     f"({ref_seeds} seeds x {ref_steps} steps timed, scaled to {SEEDS} x {steps})",
        "seeds": SEEDS,
        "steps": steps,
        "steps_per_s": steps / sim_s,
        "seed_steps_per_s": SEEDS * steps / sim_s,
        "reference_steps_per_s_scaled": steps / ref_s,
        "reference_vs_sim_max_abs_diff": check_reference(1 if quick else 2),
        "threads": torch.get_num_threads(),
    }


if __name__ == "__main__":
    import sys

    for key, value in run(quick="--quick" in sys.argv[1:]).items():
        print(f"{key}: {value}")
