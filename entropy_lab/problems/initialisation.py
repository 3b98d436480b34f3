"""Initial logits that stand in a chosen relation to the reward (calibrated / uncorrelated / anti).

The sign law (docs/theory.md, "Theorem 1") reads the first-order entropy change of a policy-gradient
step off Cov_π(log π, A) at each state. These constructions set that covariance's sign, or make
it vanish exactly, so the presets test the law rather than a random draw:

- ``ranked_arms``: bandit logits by probability rank; the paired form has zero covariance in both
  geometries;
- ``neutral_logits`` + ``on_path``: token-tree logits whose on-path tokens have centred log-prob
  L = 0 (shifted up or down for calibrated / anti);
- ``decorrelate``: any problem, a fixed-point search that zeroes Cov_π(log π, Q̄) at every state.
"""

from __future__ import annotations

import torch

from entropy_lab.problems.base import TabularProblem
from entropy_lab.problems.tree import TokenTree, all_sequences
from entropy_lab.validation import fail


def ranked_arms(
    mode: str, num_arms: int, num_correct: int, skew: float, task: str, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and correct mask ``[K]`` by probability rank (rank 0 = most probable arm).

    calibrated: task A rewards ranks [0, m), task B ranks [m, 2m) (disjoint, next most probable).
    anti: task A rewards ranks [K − m, K), task B ranks [K − 2m, K − m).
    uncorrelated: logits come in equal pairs and exactly one arm of each pair is correct (task B:
    the other one). Every pair then holds half of its mass on correct arms, so E_π[μ] = ½(μ_hi +
    μ_lo) and both Cov_π(log π, μ) and E_π[π (μ − E_π μ) L] vanish exactly.
    """
    k, m = num_arms, num_correct
    correct = torch.zeros(k, dtype=torch.bool)
    if mode == "uncorrelated":
        if k % 2:
            raise fail("num_arms", k, "an even number of arms for the paired 'uncorrelated' preset")
        logits = skew * torch.linspace(1.0, -1.0, k // 2, dtype=torch.float64).repeat_interleave(2)
        pick = torch.randint(0, 2, (k // 2,), generator=gen)
        pick = pick if task == "A" else 1 - pick
        correct[2 * torch.arange(k // 2) + pick] = True
        return logits, correct
    logits = skew * torch.linspace(1.0, -1.0, k, dtype=torch.float64)
    start = {("calibrated", "A"): 0, ("calibrated", "B"): m,
             ("anti", "A"): k - m, ("anti", "B"): k - 2 * m}[(mode, task)]
    correct[start:start + m] = True
    return logits, correct


def neutral_logits(z_xk: torch.Tensor, on_xk: torch.Tensor, iters: int = 100) -> torch.Tensor:
    """Logit c for the marked tokens of each row so that their centred log-prob L is 0.

    L_c = c − E_π[z] with π = softmax(z where the marked tokens are set to c); the root of
    g(c) = Σ_{unmarked b} π_b (c − z_b) is unique (g' = Σ_unmarked π > 0 at any root) and lies
    between the smallest and largest unmarked logit, so bisection finds it. ``[X, K]`` -> ``[X]``.
    """
    big = torch.finfo(z_xk.dtype).max
    lo = torch.where(on_xk, big, z_xk).amin(-1)
    hi = torch.where(on_xk, -big, z_xk).amax(-1)
    for _ in range(iters):
        c = 0.5 * (lo + hi)
        zc = torch.where(on_xk, c[:, None], z_xk)
        p = torch.softmax(zc, -1)
        g = (p * (c[:, None] - zc)).sum(-1)
        lo, hi = torch.where(g < 0, c, lo), torch.where(g < 0, hi, c)
    return 0.5 * (lo + hi)


def on_path(tree: TokenTree, leaves: torch.Tensor) -> torch.Tensor:
    """``[S, V]`` bool: (prefix, token) pairs that lie on the path to one of ``leaves``."""
    seqs = all_sequences(tree.vocab_size, tree.horizon)[leaves]
    mark = torch.zeros(tree.num_states, tree.vocab_size, dtype=torch.bool)
    for t in range(tree.horizon):
        mark[tree.prefix_ids(seqs[:, :t]), seqs[:, t]] = True
    return mark


def cov_logp_adv(z_sk: torch.Tensor, adv_sk: torch.Tensor) -> torch.Tensor:
    """Cov_π(log π, A) per row with π = softmax(z). ``[S, K]`` -> ``[S]``."""
    p = torch.softmax(z_sk, -1)
    logp = torch.log_softmax(z_sk, -1)
    centred = adv_sk - (p * adv_sk).sum(-1, keepdim=True)
    return (p * logp * centred).sum(-1)


def decorrelate(problem: TabularProblem, z_sk: torch.Tensor, rounds: int = 200) -> torch.Tensor:
    """Move each state's logits along its advantage until Cov_π(log π, Q̄) = 0 at every state.

    Per round, with A = Q̄ − E_π Q̄ held fixed, the shift z − c·A at one state has covariance
    positive as c → −∞ and negative as c → +∞ (the mass piles on the best or the worst
    action), so bisection finds a root c per state; Q̄ then moves because the other states'
    policies moved, hence the rounds (|Cov| < 1e-14 after about a dozen on the presets).
    """
    z = z_sk.clone()
    for _ in range(rounds):
        q_sk = problem.action_values(z[None])[0]
        p = torch.softmax(z, -1)
        adv = q_sk - (p * q_sk).sum(-1, keepdim=True)
        if float(cov_logp_adv(z, adv).abs().max()) < 1e-14:
            break
        scale = adv.abs().amax(-1).clamp_min(1e-300)
        lo, hi = -50.0 / scale, 50.0 / scale
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            positive = cov_logp_adv(z - mid[:, None] * adv, adv) > 0
            lo, hi = torch.where(positive, mid, lo), torch.where(positive, hi, mid)
        moving = adv.abs().amax(-1) > 1e-12
        z = torch.where(moving[:, None], z - (0.5 * (lo + hi))[:, None] * adv, z)
    return z
