"""Outcome advantages: rewards ``[..., N, G]`` (N prompts × G samples) -> ``[..., N, G]``.

    grpo       (r_i − mean_j r_j) / (std_j r_j + ε), unbiased std, ε 1e-6   (Shao et al. 2024)
    dr_grpo    r_i − mean_j r_j                                            (Liu et al. 2025)
    rloo       r_i − mean_{j≠i} r_j = G/(G−1)·(r_i − mean_j r_j)           (Ahmadian et al. 2024)
    reinforce  r_i − b   (b = 0 by default, or a fixed baseline)
    signed     w⁺·1[r_i > τ] − w⁻·1[r_i ≤ τ]   (±1 rewards, weighted: PSR, NSR, W-REINFORCE of
               Zhu et al. 2025, arXiv 2506.01347)

Advantages are computed without gradient (rewards are data). Any leading dims are replicas.

Singleton groups (G = 1), exactly as verl's ``compute_grpo_outcome_advantage``: the group mean is
taken as 0 and the std as 1, so ``grpo`` returns r/(1 + ε) (with ``norm_by_std=False``: r) —
the reward is *kept*, not zeroed. ``dr_grpo`` likewise returns r. ``rloo`` raises instead: a
leave-one-out baseline needs G ≥ 2 (verl silently keeps the raw reward there).

TRL's GRPO uses ε = 1e-4 (``scale_rewards``) and, for G = 1, its ``std`` is NaN; pass ``eps=1e-4``
for TRL's numbers at G ≥ 2.
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms._tensors import check_mask
from entropy_lab.registry import Registry
from entropy_lab.validation import check_number, check_tensor, fail

ADVANTAGES: Registry = Registry("advantage")
REWARD_AXES = "[..., N, G]"


def _check_rewards(rewards: torch.Tensor) -> torch.Tensor:
    return check_tensor("rewards", rewards, min_ndim=2, axes=REWARD_AXES).detach()


@ADVANTAGES.register("grpo")
def grpo(rewards: torch.Tensor, eps: float = 1e-6, norm_by_std: bool = True) -> torch.Tensor:
    """A_i = (r_i − mean_j r_j)/(std_j r_j + ε), unbiased std (verl; TRL uses ε = 1e-4).

    Args:
        rewards: ``[..., N, G]``.
        eps: ε ≥ 0 added to the std.
        norm_by_std: False gives r_i − mean (verl's ``norm_adv_by_std_in_grpo=False``).
    Returns:
        ``[..., N, G]``; a group of G = 1 gives r/(1 + ε) (verl: mean 0, std 1).
    """
    r = _check_rewards(rewards)
    check_number("eps", eps, lo=0)
    g = r.shape[-1]
    if g == 1:
        mean = torch.zeros_like(r)
        std = torch.ones_like(r)
    else:
        mean = r.mean(-1, keepdim=True)
        std = r.std(-1, keepdim=True, correction=1)
    centred = r - mean
    return centred / (std + eps) if norm_by_std else centred


@ADVANTAGES.register("dr_grpo")
def dr_grpo(rewards: torch.Tensor) -> torch.Tensor:
    """A_i = r_i − mean_j r_j (no std division: Dr.GRPO). G = 1 keeps r (verl).

    Args:
        rewards: ``[..., N, G]``.
    Returns:
        ``[..., N, G]``.
    """
    return grpo(rewards, eps=0.0, norm_by_std=False)


@ADVANTAGES.register("rloo")
def rloo(rewards: torch.Tensor) -> torch.Tensor:
    """A_i = r_i − (1/(G−1)) Σ_{j≠i} r_j = G/(G−1)·(r_i − mean_j r_j).

    Args:
        rewards: ``[..., N, G]`` with G ≥ 2.
    Returns:
        ``[..., N, G]``.
    Raises:
        InputError: G < 2 (the leave-one-out baseline is undefined; verl keeps r instead).
    """
    r = _check_rewards(rewards)
    g = r.shape[-1]
    if g < 2:
        raise fail("rewards", rewards, f"a group size G >= 2 in {REWARD_AXES} for rloo "
                   "(leave-one-out needs another sample)")
    return (r - r.mean(-1, keepdim=True)) * (g / (g - 1))


@ADVANTAGES.register("reinforce")
def reinforce(rewards: torch.Tensor, baseline: float = 0.0) -> torch.Tensor:
    """A_i = r_i − b with a fixed baseline b (default 0: plain REINFORCE).

    Args:
        rewards: ``[..., N, G]``.
        baseline: a constant b.
    Returns:
        ``[..., N, G]``.
    """
    r = _check_rewards(rewards)
    check_number("baseline", baseline)
    return r - baseline


@ADVANTAGES.register("signed")
def signed(rewards: torch.Tensor, positive_weight: float = 1.0, negative_weight: float = 1.0,
           threshold: float = 0.5) -> torch.Tensor:
    """A_i = w⁺ if r_i > τ (a correct sample) else −w⁻: REINFORCE on ±1 rewards, no baseline,
    each sign weighted (Zhu et al. 2025, "The Surprising Effectiveness of Negative
    Reinforcement in LLM Reasoning", arXiv 2506.01347):

        PSR (positive-sample reinforcement only)   w⁺ = 1,   w⁻ = 0
        NSR (negative-sample reinforcement only)   w⁺ = 0,   w⁻ = 1   (only A < 0 contributes)
        W-REINFORCE                                w⁺ = λ = 0.1, w⁻ = 1
        ±1 REINFORCE                               w⁺ = w⁻ = 1

    Args:
        rewards: ``[..., N, G]``; a sample is correct when its reward exceeds ``threshold``.
        positive_weight, negative_weight: w⁺, w⁻ ≥ 0.
        threshold: τ (0.5: 0/1 rewards).
    Returns:
        ``[..., N, G]`` in the rewards' dtype.
    """
    r = _check_rewards(rewards)
    check_number("positive_weight", positive_weight, lo=0)
    check_number("negative_weight", negative_weight, lo=0)
    check_number("threshold", threshold)
    correct = r > threshold
    return torch.where(correct, torch.full_like(r, float(positive_weight)),
                       torch.full_like(r, -float(negative_weight)))


def get_advantage(name: str):
    """The advantage estimator registered as ``name`` (unknown -> error listing the choices)."""
    return ADVANTAGES.get(name)


def advantage_names() -> list[str]:
    """All registered advantage estimators."""
    return ADVANTAGES.names()


def broadcast_advantages(adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token advantages A_{n,g,t} = A_{n,g}·m_{n,g,t}.

    Args:
        adv: ``[..., N, G]`` sequence advantages.
        mask: ``[..., N, G, T]`` 0/1 token mask.
    Returns:
        ``[..., N, G, T]`` in ``adv``'s dtype (reshape to ``[..., B, T]`` with B = N·G).
    """
    check_tensor("adv", adv, min_ndim=2, axes=REWARD_AXES)
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape[:-1]) != tuple(adv.shape):
        raise fail("mask", mask, f"shape {list(adv.shape)} + [T] ([..., N, G, T])")
    m = check_mask(mask, mask)
    return torch.where(m, adv[..., None], torch.zeros((), dtype=adv.dtype, device=adv.device))
