"""Expected mode against the Monte Carlo mean of sampled mode, from the same logits.

One SGD step from the problem's initial logits, run once in expected mode (Δ_exp, deterministic)
and in sampled mode for B independent replicas (Δ_b; ``init_noise`` must be 0 so every replica
starts from the same logits). The update is compared through projections normalised by |Δ_exp|:

    ratio_b = ⟨Δ_b, u⟩ / |Δ_exp|,  u = Δ_exp / |Δ_exp|        (1 where expected mode is exact)
    orth_b  = ⟨Δ_b, v⟩ / |Δ_exp|,  v ⊥ u a fixed random unit direction   (0 where exact)

with their means and standard errors std/√B over the replicas. Projections, not per-logit
z-scores: on rarely visited states a per-logit standard error is unreliable. With SGD one step is
linear in the gradient, so the ratios do not depend on the learning rate.

``python -m entropy_lab.sim.expected_mc [problem] [seeds]`` prints the table for every
aggregation and the estimators' presets (grpo: group advantage, rloo: affine advantage).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch

from entropy_lab.algorithms.aggregation import aggregation_names
from entropy_lab.problems import get_problem
from entropy_lab.sim.config import SimConfig
from entropy_lab.sim.loop import run
from entropy_lab.validation import check_number, fail

ORTH_SEED = 12345  # the random orthogonal direction


@dataclass(frozen=True)
class Comparison:
    """Mean projections of the sampled update (see the module docstring), with standard errors."""

    ratio: float
    ratio_se: float
    orth: float
    orth_se: float
    seeds: int


def compare_expected_sampled(
    problem,
    preset: str,
    *,
    seeds: int = 4000,
    n_prompts: int = 1,
    group_size: int = 8,
    lr: float = 1e-2,
    seed: int = 0,
    **algo_overrides,
) -> Comparison:
    """Project ``seeds`` sampled one-step updates onto the expected update's direction.

    Args:
        problem: a preset id or a problem object (its ``init_noise`` must be 0).
        preset: an algorithm preset; ``algo_overrides`` (e.g. ``agg=...``) are applied to it,
            with ``epochs = minibatches = 1`` (expected mode's single on-policy step).
        seeds: B replicas of the sampled step (sampled from generator ``seed``).
    Returns:
        :class:`Comparison`.
    """
    check_number("seeds", seeds, lo=2, integer=True)
    kw = {"epochs": 1, "minibatches": 1, **algo_overrides}
    base = {"steps": 1, "lr": lr, "optimizer": "sgd", "n_prompts": n_prompts,
            "group_size": group_size, "k": 1, "seed": seed}
    prob = get_problem(problem) if isinstance(problem, str) else problem
    if prob.init_noise != 0:
        raise fail("problem", problem, "a problem with init_noise == 0 (one common start)")
    z0 = prob.init_logits(1)
    sampled = run(prob, preset, SimConfig(mode="sampled", seeds=seeds, **base),
                  torch.Generator().manual_seed(seed), **kw).logits
    expected = run(prob, preset, SimConfig(mode="expected", seeds=1, **base),
                   torch.Generator().manual_seed(seed), **kw).logits
    d_bx = (sampled - z0).reshape(seeds, -1)
    d_exp = (expected - z0).reshape(-1)
    norm = d_exp.norm()
    u = d_exp / norm
    v = torch.randn(u.shape, generator=torch.Generator().manual_seed(ORTH_SEED),
                    dtype=torch.float64)
    v = v - (v @ u) * u
    v = v / v.norm()
    ratio_b, orth_b = d_bx @ u / norm, d_bx @ v / norm
    root = seeds**0.5
    return Comparison(float(ratio_b.mean()), float(ratio_b.std() / root), float(orth_b.mean()),
                      float(orth_b.std() / root), seeds)


def main(argv: list[str]) -> None:
    problem = argv[0] if argv else "mdp/calibrated"
    seeds = int(argv[1]) if len(argv) > 1 else 4000
    for preset in ("grpo", "rloo"):
        for agg in aggregation_names():
            for n in (1, 16) if agg == "token-mean" else (1,):
                c = compare_expected_sampled(problem, preset, seeds=seeds, n_prompts=n, agg=agg)
                print(f"{problem} {preset:5s} {agg:24s} N={n:<3d} G=8  ratio {c.ratio:.4f} ± "
                      f"{c.ratio_se:.4f}  orth {c.orth:+.4f} ± {c.orth_se:.4f}  (B={seeds})",
                      flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
