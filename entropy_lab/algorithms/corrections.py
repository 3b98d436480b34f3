"""Sampler/trainer mismatch corrections: truncated importance sampling (TIS) and a masking band
(IcePop-style). They exist here to show what a precision fix does and what a correction only
hides (docs/theory.md, "Theorem 3").

Two settings, chosen by whether ``sampler_logp`` is passed:

- ``sampler_logp=None`` — ``old_logp`` *is* the sampler's log-prob (docs/algorithms.md, "The one RL
step": the rollout's
  ``old_logp`` comes from the sampler path), so r = π_θ/μ is the mismatch ratio itself. This is
  the strictly on-policy case (one step per batch), where PPO clipping acts on mismatch only.
- ``sampler_logp`` given ``[..., B, T]`` — verl's layout: ``old_logp`` is the trainer's own
  recomputation π_old and the mismatch is k = π_old/μ = exp(old_logp − sampler_logp); the PPO
  loss runs on r = π_θ/π_old and the correction acts through k.

    tis     ℓ_t = −sg(min(r, C))·A·log π_θ       (no sampler_logp; Yao et al. 2025, "Your
                                                 efficient RL framework secretly brings you
                                                 off-policy RL training")
            ℓ_t = sg(min(k, C))·ℓ^PPO_t          (with sampler_logp; verl's ``tis_imp_ratio_cap``)
    icepop  ℓ_t = 1[k ∈ [α, β]]·ℓ^PPO_t          (k = r without sampler_logp)

C = 2 (docs/algorithms.md, "Losses"). The band [α, β] = [0.5, 5] is the value commonly quoted for
IcePop — a
default to expose, not checked against its code. Masked-out tokens keep their place in the
aggregation's normaliser (their loss is 0), as a zeroed weight does.
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms._tensors import check_tokens
from entropy_lab.algorithms.aggregation import aggregate
from entropy_lab.algorithms.losses_clip import ppo_terms
from entropy_lab.algorithms.losses_common import (
    extra_mean,
    log_ratio,
    prepare,
    ratio_metrics,
    register_loss,
)
from entropy_lab.validation import check_number

Metrics = dict[str, torch.Tensor]


def _mismatch_log_ratio(old_bt, mask, sampler_logp):
    """log k = clamp(old_logp − sampler_logp) with padding zeroed; None without a sampler."""
    if sampler_logp is None:
        return None
    old_chk, sampler_bt, _ = check_tokens(mask, old_logp=old_bt, sampler_logp=sampler_logp)
    return log_ratio(old_chk, sampler_bt).detach()


@register_loss("tis", pg_limit={}, detached_weights=True, data=("sampler_logp",))
def tis(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    cap: float = 2.0,
    sampler_logp: torch.Tensor | None = None,
    eps_low=0.2,
    eps_high=None,
    dual_clip: float | None = 3.0,
    agg: str = "token-mean",
    agg_norm: float | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """Truncated importance sampling (module docstring for the two forms).

    Args:
        logp, old_logp, advantages, mask: ``[..., B, T]``.
        cap: C > 0, the truncation of the importance weight.
        sampler_logp: optional ``[..., B, T]`` sampler log-probs (verl layout).
        eps_low, eps_high, dual_clip: the PPO band, used only with ``sampler_logp``.
    Returns:
        (loss ``[...]``, metrics) with extras ``tis/weight_mean`` and ``tis/frac_capped``.
    """
    logp_bt, old_bt, adv_bt, m = prepare(logp, old_logp, advantages, mask)
    check_number("cap", cap, lo=0, lo_open=True)
    logr = log_ratio(logp_bt, old_bt)
    logk = _mismatch_log_ratio(old_bt, m, sampler_logp)
    if logk is None:
        raw = logr.detach().exp()
        w = raw.clamp(max=cap)
        loss_bt = -w * adv_bt * logp_bt
        metrics = ratio_metrics(logr, m)
    else:
        raw = logk.exp()
        w = raw.clamp(max=cap)
        _, ppo_bt, ev = ppo_terms(logp_bt, old_bt, adv_bt, eps_low, eps_high, dual_clip)
        loss_bt = w * ppo_bt
        metrics = ratio_metrics(logr, m, ev["low"], ev["high"])
    metrics["tis/weight_mean"] = extra_mean(w, m, logp_bt.dtype)
    metrics["tis/frac_capped"] = extra_mean(raw > cap, m, logp_bt.dtype)
    return aggregate(loss_bt, m, agg, agg_norm), metrics


@register_loss("icepop", pg_limit={}, data=("sampler_logp",))
def icepop(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    band_low: float = 0.5,
    band_high: float = 5.0,
    sampler_logp: torch.Tensor | None = None,
    eps_low=0.2,
    eps_high=None,
    dual_clip: float | None = 3.0,
    agg: str = "token-mean",
    agg_norm: float | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """Masking band: the PPO loss on tokens whose mismatch ratio k lies in [α, β], 0 elsewhere.

    Args:
        logp, old_logp, advantages, mask: ``[..., B, T]``.
        band_low: α ∈ (0, 1]. band_high: β ≥ 1.
        sampler_logp: optional ``[..., B, T]``; without it k = r = π_θ/π_old (detached).
        eps_low, eps_high, dual_clip: the PPO band.
    Returns:
        (loss ``[...]``, metrics) with extra ``icepop/frac_masked``.
    """
    logp_bt, old_bt, adv_bt, m = prepare(logp, old_logp, advantages, mask)
    check_number("band_low", band_low, lo=0, lo_open=True, hi=1)
    check_number("band_high", band_high, lo=1)
    logr, ppo_bt, ev = ppo_terms(logp_bt, old_bt, adv_bt, eps_low, eps_high, dual_clip)
    logk = _mismatch_log_ratio(old_bt, m, sampler_logp)
    k = (logr.detach() if logk is None else logk).exp()
    outside = m & ((k < band_low) | (k > band_high))
    loss_bt = torch.where(outside, torch.zeros_like(ppo_bt), ppo_bt)
    metrics = ratio_metrics(logr, m, ev["low"] & ~outside, ev["high"] & ~outside)
    metrics["icepop/frac_masked"] = extra_mean(outside, m, logp_bt.dtype)
    return aggregate(loss_bt, m, agg, agg_norm), metrics
