"""Ratio-clipped losses: PPO (asymmetric band, dual clip), GSPO (sequence ratio), CISPO (clipped
importance weight).

Shared notation: r_t = π_θ/π_old = exp(logp − old_logp), band [1 − ε_low, 1 + ε_high], sg = stop
gradient. All three are written exactly as verl writes them unless a docstring says otherwise.
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms._tensors import hp_param, log_ratio_limit, masked_extreme, metric_dtype
from entropy_lab.algorithms.aggregation import aggregate
from entropy_lab.algorithms.losses_common import (
    clip_band,
    extra_mean,
    log_ratio,
    prepare,
    ratio_metrics,
    register_loss,
)

Metrics = dict[str, torch.Tensor]


def ppo_token_loss(
    ratio_bt: torch.Tensor,
    adv_bt: torch.Tensor,
    lo: torch.Tensor,
    hi: torch.Tensor,
    dual_clip,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-token PPO loss max(−A·r, −A·clip(r, lo, hi)), dual-clipped for A<0 at −A·c.

    Returns the per-token loss and the bool maps ``low``/``high`` (clip active: gradient stopped)
    and ``dual`` (verl's ``pg_clipfrac_lower`` event: A<0 and the dual clip binds).
    """
    clipped = torch.maximum(torch.minimum(ratio_bt, hi), lo)
    l1 = -adv_bt * ratio_bt
    l2 = -adv_bt * clipped
    loss_bt = torch.maximum(l1, l2)
    neg = adv_bt < 0
    events = {"low": neg & (ratio_bt < lo), "high": (adv_bt > 0) & (ratio_bt > hi)}
    if dual_clip is None:
        events["dual"] = torch.zeros_like(neg)
    else:
        c = hp_param("dual_clip", dual_clip, ratio_bt, lo=1.0, lo_open=True)
        l3 = -adv_bt * c
        events["dual"] = neg & (loss_bt > l3)
        loss_bt = torch.where(neg, torch.minimum(loss_bt, l3), loss_bt)
    return loss_bt, events


def ppo_terms(
    logp_bt: torch.Tensor,
    old_bt: torch.Tensor,
    adv_bt: torch.Tensor,
    eps_low,
    eps_high,
    dual_clip,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """log r = clamp(logp − old_logp) and :func:`ppo_token_loss` on r with the band
    (1 − ε_low, 1 + ε_high) of :func:`clip_band`: the part every PPO-based loss shares.

    Args:
        logp_bt, old_bt, adv_bt: ``[..., B, T]`` as returned by :func:`prepare`.
        eps_low, eps_high, dual_clip: as :func:`ppo`.
    Returns:
        (log r ``[..., B, T]``, per-token loss ``[..., B, T]``, the clip-event maps).
    """
    lo, hi = clip_band(eps_low, eps_high, logp_bt)
    logr = log_ratio(logp_bt, old_bt)
    loss_bt, events = ppo_token_loss(logr.exp(), adv_bt, lo, hi, dual_clip)
    return logr, loss_bt, events


def ppo_metrics(
    logr_bt: torch.Tensor, mask_bt: torch.Tensor, events: dict[str, torch.Tensor],
    like: torch.dtype,
) -> dict[str, torch.Tensor]:
    """:func:`ratio_metrics` with the PPO clip events, plus ``clip/frac_dual`` in the metric
    dtype of ``like`` (the dtype of ``logp``)."""
    metrics = ratio_metrics(logr_bt, mask_bt, events["low"], events["high"])
    metrics["clip/frac_dual"] = extra_mean(events["dual"], mask_bt, like)
    return metrics


@register_loss("ppo", pg_limit={})
def ppo(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    eps_low=0.2,
    eps_high=None,
    dual_clip: float | None = 3.0,
    agg: str = "token-mean",
    agg_norm: float | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """ℓ_t = max(−A r, −A clip(r, 1−ε_low, 1+ε_high)); for A<0 then min(ℓ_t, −A·c) (dual clip).

    Schulman et al. 2017; asymmetric band (DAPO clip-higher, Yu et al. 2025); dual clip (Ye et al.
    2020, arXiv 1912.09729). Matches verl's ``compute_policy_loss_vanilla`` (log-ratio clamp,
    ``clip_ratio_c`` = 3 by default and required > 1; ``eps_high=None`` = ε_low). TRL's GRPO has no
    dual clip: pass ``dual_clip=None`` for TRL's loss.

    Args:
        logp, old_logp, advantages, mask: ``[..., B, T]``.
        eps_low: ε_low ∈ [0, 1), float or ``[...]`` tensor.
        eps_high: ε_high ≥ 0 (float or ``[...]``; the ADAPO controller drives it); None = ε_low.
        dual_clip: c > 1, or None to disable.
        agg, agg_norm: see :func:`aggregate`.
    Returns:
        (loss ``[...]``, metrics) with extra ``clip/frac_dual`` (verl ``pg_clipfrac_lower``).
    """
    logp_bt, old_bt, adv_bt, m = prepare(logp, old_logp, advantages, mask)
    logr, loss_bt, ev = ppo_terms(logp_bt, old_bt, adv_bt, eps_low, eps_high, dual_clip)
    return aggregate(loss_bt, m, agg, agg_norm), ppo_metrics(logr, m, ev, logp_bt.dtype)


@register_loss("gspo", pg_limit={})
def gspo(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    eps_low=3e-4,
    eps_high=4e-4,
    agg: str = "seq-mean-token-mean",
    agg_norm: float | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """GSPO (Zheng et al. 2025, arXiv 2507.18071), token form:

        log s_b   = Σ_t m·(logp − old_logp) / Σ_t m            (sequence ratio s_b, geometric mean)
        s_{b,t}   = sg[s_b] · π_θ(y_t)/sg[π_θ(y_t)]            (value s_b, gradient s_b ∇log π)
        ℓ_{b,t}   = max(−A s_{b,t}, −A clip(s_{b,t}, 1−ε_low, 1+ε_high))

    Defaults ε_low 3e-4, ε_high 4e-4 (the GSPO paper). As verl: log s_{b,t} is clamped above at 10
    and the clip fractions are token-weighted. Difference: verl forces ``seq-mean-token-mean``
    whatever the configured mode; here it is only the default and ``agg`` is honoured.

    Args:
        logp, old_logp, advantages, mask: ``[..., B, T]``.
        eps_low: ∈ [0, 1). eps_high: ≥ 0 (float or ``[...]``).
    Returns:
        (loss ``[...]``, metrics) with extras ``gspo/seq_ratio_mean|min|max`` (over rows
        with tokens).
    """
    logp_bt, old_bt, adv_bt, m = prepare(logp, old_logp, advantages, mask)
    lo, hi = clip_band(eps_low, eps_high, logp_bt)
    logr = log_ratio(logp_bt, old_bt)
    n_t = m.sum(-1, keepdim=True)
    seq_logr = (logr.detach().sum(-1, keepdim=True) / n_t.clamp(min=1)).to(logp_bt.dtype)
    cap = min(10.0, log_ratio_limit(logr.dtype))
    log_s = (logp_bt - logp_bt.detach() + seq_logr).clamp(max=cap)
    s_bt = log_s.exp()
    loss_bt = torch.maximum(-adv_bt * s_bt, -adv_bt * torch.maximum(torch.minimum(s_bt, hi), lo))
    metrics = ratio_metrics(logr, m, (adv_bt < 0) & (s_bt < lo), (adv_bt > 0) & (s_bt > hi))
    rows = n_t > 0
    seq_r = seq_logr.detach().to(metric_dtype(logp_bt.dtype)).exp()
    metrics["gspo/seq_ratio_mean"] = extra_mean(seq_r, rows, logp_bt.dtype)
    metrics["gspo/seq_ratio_min"] = masked_extreme(seq_r, rows, largest=False)
    metrics["gspo/seq_ratio_max"] = masked_extreme(seq_r, rows, largest=True)
    return aggregate(loss_bt, m, agg, agg_norm), metrics


@register_loss("cispo", pg_limit={}, detached_weights=True)
def cispo(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    eps_low=None,
    eps_high=0.28,
    agg: str = "token-mean",
    agg_norm: float | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """CISPO (MiniMax-M1, arXiv 2506.13585): ℓ_t = −sg(clip(r_t, 1−ε_low, 1+ε_high))·A_t·log π_θ.

    Unlike PPO no token's gradient is stopped: the importance weight is capped, so "clipped" here
    means the weight was capped (r > 1+ε_high or r < 1−ε_low, whatever the sign of A).
    ``eps_low=None`` imposes no lower bound (the paper's choice: "a large ε_low"). The paper does
    not fix ε_high; 0.28 follows the DAPO band and is a default to expose, not a published value.

    Args:
        logp, old_logp, advantages, mask: ``[..., B, T]``.
        eps_low: None or ∈ [0, 1). eps_high: ≥ 0 (float or ``[...]``).
    Returns:
        (loss ``[...]``, metrics) with extra ``cispo/weight_mean``.
    """
    logp_bt, old_bt, adv_bt, m = prepare(logp, old_logp, advantages, mask)
    lo, hi = clip_band(0.0 if eps_low is None else eps_low, eps_high, logp_bt)
    if eps_low is None:
        lo = torch.zeros_like(lo)
    logr = log_ratio(logp_bt, old_bt)
    r = logr.detach().exp()
    w = torch.maximum(torch.minimum(r, hi), lo)
    loss_bt = -w * adv_bt * logp_bt
    metrics = ratio_metrics(logr, m, r < lo, r > hi)
    metrics["cispo/weight_mean"] = extra_mean(w, m, logp_bt.dtype)
    return aggregate(loss_bt, m, agg, agg_norm), metrics
