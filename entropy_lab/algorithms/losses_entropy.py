"""Explicit entropy bonus on top of the PPO loss, fixed or controller-driven coefficient.

    ℓ_t = ℓ^PPO_t − c·H(π_θ(·|s_t)),    H from the full logits ``[..., B, T, K]``

aggregated with the same mode (aggregation is linear, so this is verl's
``policy_loss − entropy_coeff·agg(entropy)``). Unlike REPO, the bonus needs the whole
distribution at every position — K floats per token kept for the backward pass — which fused /
cut cross-entropy kernels avoid; REPO gets the same expected gradient from the taken token alone
(:mod:`.shaping`).
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms._tensors import hp_param
from entropy_lab.algorithms.aggregation import aggregate
from entropy_lab.algorithms.losses_clip import ppo_metrics, ppo_terms
from entropy_lab.algorithms.losses_common import extra_mean, prepare, register_loss
from entropy_lab.validation import check_tensor, fail

Metrics = dict[str, torch.Tensor]


def token_entropy(logits: torch.Tensor, mask_bt: torch.Tensor) -> torch.Tensor:
    """H_t = −Σ_k π_k log π_k per position ``[..., B, T]`` (0 at masked positions, whose logits
    never reach the computation, so they may be non-finite)."""
    zero = torch.zeros((), dtype=logits.dtype, device=logits.device)
    z = torch.where(mask_bt[..., None], logits, zero)
    logp_k = torch.log_softmax(z, dim=-1)
    h = -(logp_k.exp() * logp_k).sum(-1)
    return torch.where(mask_bt, h, zero)


@register_loss("entropy_bonus", needs_logits=True, pg_limit={"entropy_coef": 0.0})
def entropy_bonus(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    logits: torch.Tensor | None = None,
    entropy_coef=1e-3,
    eps_low=0.2,
    eps_high=None,
    dual_clip: float | None = 3.0,
    agg: str = "token-mean",
    agg_norm: float | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """PPO (see :func:`~entropy_lab.algorithms.losses_clip.ppo`) minus c·H per token.

    Args:
        logp, old_logp, advantages, mask: ``[..., B, T]``.
        logits: ``[..., B, T, K]`` (required; K ≥ 2) — the distribution behind ``logp``.
        entropy_coef: c, float or ``[...]`` (the entropy-coefficient controller drives it).
        eps_low, eps_high, dual_clip: as :func:`ppo`.
    Returns:
        (loss ``[...]``, metrics) with extras ``entropy/mean`` and ``entropy/coef``.
    """
    logp_bt, old_bt, adv_bt, m = prepare(logp, old_logp, advantages, mask)
    check_tensor("logits", logits, min_ndim=3, last_dim_min=2, axes="[..., B, T, K]",
                 finite=False)
    if tuple(logits.shape[:-1]) != tuple(logp.shape):
        raise fail("logits", logits, f"shape {list(logp.shape)} + [K] ([..., B, T, K])")
    check_tensor("logits (unmasked positions)", torch.where(m[..., None], logits.detach(), 0.0),
                 finite=True)
    coef = hp_param("entropy_coef", entropy_coef, logp_bt)
    logr, pg_bt, ev = ppo_terms(logp_bt, old_bt, adv_bt, eps_low, eps_high, dual_clip)
    h_bt = token_entropy(logits.to(logp_bt.dtype), m)
    metrics = ppo_metrics(logr, m, ev, logp_bt.dtype)
    metrics["entropy/mean"] = extra_mean(h_bt, m, logp_bt.dtype)
    h_mean = metrics["entropy/mean"]
    coef_r = coef.detach().to(h_mean.dtype)
    metrics["entropy/coef"] = (coef_r[..., 0, 0] if coef_r.ndim else coef_r).expand_as(h_mean)
    return aggregate(pg_bt - coef * h_bt, m, agg, agg_norm), metrics


@register_loss("adaptive_entropy", needs_logits=True, pg_limit={"entropy_coef": 0.0})
def adaptive_entropy(logp, old_logp, advantages, mask, *, logits=None, entropy_coef=0.0,
                     eps_low=0.2, eps_high=None, dual_clip: float | None = 3.0,
                     agg: str = "token-mean", agg_norm: float | None = None):
    """:func:`entropy_bonus` whose coefficient is driven by
    :class:`~entropy_lab.algorithms.controllers.EntropyCoefController` (Skywork-OR1 style); the
    coefficient starts at 0 and only the controller moves it."""
    return entropy_bonus(logp, old_logp, advantages, mask, logits=logits,
                         entropy_coef=entropy_coef, eps_low=eps_low, eps_high=eps_high,
                         dual_clip=dual_clip, agg=agg, agg_norm=agg_norm)
