"""Covariance-based entropy control of Cui et al. 2025 ("The Entropy Mechanism of RL for Reasoning
LMs", arXiv 2505.22617): Clip-Cov and KL-Cov.

Both score each unmasked token by its centred covariance term over the batch (per replica):

    cov_t = (A_t − mean A)·(sg log π_θ(y_t) − mean sg log π_θ)     (means over unmasked tokens)

and treat the few tokens with the largest covariance differently — those drive entropy down
(Theorem 1: ΔH ≈ −Cov(log π, A)).

Units — the traps between implementations:
- ``clip_cov_ratio`` and ``kl_cov_ratio`` are *fractions* of the unmasked tokens of the whole
  batch (per replica), not percentages: k = max(⌊ratio·n⌋, 1). 2e-4 is 0.02 % of the tokens.
  The paper quotes Clip-Cov r = 2·10⁻⁴ and KL-Cov k = 2·10⁻³ (7B) / 2·10⁻⁴ (32B); verl's default
  for both is 2e-4. At least one token is always selected, so on small batches the
  fraction is effectively 1/n — a large intervention on a tabular problem.
- verl's Clip-Cov reports the covariance-selected fraction as ``pg_clipfrac``; here ``clip/frac``
  keeps its meaning (ratio clip) and the selection is ``cov/frac_selected``.
- verl's KL-Cov reports mean |log π − log π_old| as ``ppo_kl``; here ``kl/old_new`` keeps its
  meaning (signed k1) and |·| is ``kl/abs``.
- The covariance window of Clip-Cov is absolute ([1, 5] in covariance units), so how many tokens
  are eligible depends on the advantage scale (GRPO's std normalisation, REPO shaping).
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms._tensors import masked_mean
from entropy_lab.algorithms.aggregation import aggregate
from entropy_lab.algorithms.losses_clip import ppo_terms
from entropy_lab.algorithms.losses_common import (
    extra_mean,
    log_ratio,
    prepare,
    ratio_metrics,
    register_loss,
)
from entropy_lab.validation import check_number, fail

Metrics = dict[str, torch.Tensor]


def token_covariance(adv_bt: torch.Tensor, logp_bt: torch.Tensor,
                     mask_bt: torch.Tensor) -> torch.Tensor:
    """cov_t = (A_t − Ā)(sg log π_t − \\bar{log π}), means over unmasked tokens per replica.

    Args:
        adv_bt, logp_bt, mask_bt: ``[..., B, T]`` (mask bool).
    Returns:
        ``[..., B, T]`` (0 at masked positions).
    """
    lp = logp_bt.detach()
    a_bar = masked_mean(adv_bt, mask_bt)[..., None, None]
    l_bar = masked_mean(lp, mask_bt)[..., None, None]
    cov = (adv_bt - a_bar) * (lp - l_bar)
    return torch.where(mask_bt, cov, torch.zeros((), dtype=cov.dtype, device=cov.device))


def _k_of(ratio: float, mask_bt: torch.Tensor) -> torch.Tensor:
    """k = max(⌊ratio·n⌋, 1) per replica ``[...]`` (n = unmasked tokens)."""
    n = mask_bt.sum((-2, -1))
    return torch.clamp(torch.floor(ratio * n.to(torch.float64)).to(torch.long), min=1)


def _rank_flat(keys_bt: torch.Tensor, descending: bool) -> torch.Tensor:
    """Rank (0 = first) of each entry of ``[..., B, T]`` within its replica (stable order)."""
    flat = keys_bt.flatten(-2)
    order = torch.sort(flat, dim=-1, descending=descending, stable=True).indices
    ranks = torch.empty_like(order)
    pos = torch.arange(flat.shape[-1], device=flat.device).expand_as(order)
    ranks.scatter_(-1, order, pos)
    return ranks.view(keys_bt.shape)


@register_loss("clip_cov", pg_limit={"clip_cov_lb": 1e8, "clip_cov_ub": 1e9},
               data=("generator",))
def clip_cov(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    eps_low=0.2,
    eps_high=None,
    clip_cov_ratio: float = 2e-4,
    clip_cov_lb: float = 1.0,
    clip_cov_ub: float = 5.0,
    agg: str = "token-mean",
    agg_norm: float | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """Clip-Cov: the PPO-clip loss, with the gradient removed from k random tokens whose
    covariance lies in (lb, ub):

        eligible_t = m_t ∧ ¬ratio-clipped_t ∧ lb < cov_t < ub
        selected   = k tokens drawn uniformly from the eligible ones, k = max(⌊ratio·n⌋, 1)
        ℓ_t        = max(−A r, −A clip(r)) for unselected tokens, 0 for selected ones

    As verl (``compute_policy_loss_clip_cov``): no dual clip, the selected tokens' loss is
    multiplied by 0 (value and gradient), ties and the window are strict.

    Args:
        logp, old_logp, advantages, mask: ``[..., B, T]``.
        generator: randomness for the selection (required; the recipe passes one).
        eps_low, eps_high: PPO band (ε_high None = ε_low).
        clip_cov_ratio: fraction of unmasked tokens, in (0, 1] (module docstring on units).
        clip_cov_lb, clip_cov_ub: covariance window, lb < ub.
    Returns:
        (loss ``[...]``, metrics) with extras ``cov/frac_selected``, ``cov/frac_window``,
        ``cov/mean``.
    """
    logp_bt, old_bt, adv_bt, m = prepare(logp, old_logp, advantages, mask)
    if not isinstance(generator, torch.Generator):
        raise fail("generator", generator, "a torch.Generator (clip_cov selects tokens at random)")
    check_number("clip_cov_ratio", clip_cov_ratio, lo=0, lo_open=True, hi=1)
    check_number("clip_cov_lb", clip_cov_lb)
    check_number("clip_cov_ub", clip_cov_ub, lo=clip_cov_lb, lo_open=True)
    logr, loss_bt, ev = ppo_terms(logp_bt, old_bt, adv_bt, eps_low, eps_high, None)
    cov = token_covariance(adv_bt, logp_bt, m)
    window = m & (cov > clip_cov_lb) & (cov < clip_cov_ub)
    eligible = window & ~(ev["low"] | ev["high"])
    keys = torch.rand(m.shape, generator=generator, device=generator.device,
                      dtype=torch.float64).to(m.device)
    keys = torch.where(eligible, keys, torch.full_like(keys, 2.0))
    k = _k_of(clip_cov_ratio, m)
    selected = eligible & (_rank_flat(keys, descending=False) < k[..., None, None])
    loss_bt = torch.where(selected, torch.zeros_like(loss_bt), loss_bt)
    metrics = ratio_metrics(logr, m, ev["low"], ev["high"])
    metrics["cov/frac_selected"] = extra_mean(selected, m, logp_bt.dtype)
    metrics["cov/frac_window"] = extra_mean(window, m, logp_bt.dtype)
    metrics["cov/mean"] = extra_mean(cov, m, logp_bt.dtype)
    return aggregate(loss_bt, m, agg, agg_norm), metrics


@register_loss("kl_cov", pg_limit={})
def kl_cov(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    kl_cov_ratio: float = 2e-4,
    kl_coef: float = 1.0,
    agg: str = "token-mean",
    agg_norm: float | None = None,
) -> tuple[torch.Tensor, Metrics]:
    """KL-Cov: the unclipped surrogate plus a KL penalty on the top-k covariance tokens:

        ℓ_t = −A_t r_t + [t ∈ top-k cov]·coef·|log π_θ(y_t) − log π_old(y_t)|,
        k = max(⌊ratio·n⌋, 1)

    As verl (``compute_policy_loss_kl_cov``): no ratio clip at all, ``ppo_kl_coef`` = 1, ties in
    the top-k broken by position. At log π_θ = log π_old the penalty's gradient is 0, so the
    gradient is the plain policy gradient.

    Args:
        logp, old_logp, advantages, mask: ``[..., B, T]``.
        kl_cov_ratio: fraction of unmasked tokens, in (0, 1] (module docstring on units).
        kl_coef: coefficient ≥ 0 of the |log-ratio| penalty.
    Returns:
        (loss ``[...]``, metrics) with extras ``cov/frac_selected``, ``cov/mean``, ``kl/abs``.
    """
    logp_bt, old_bt, adv_bt, m = prepare(logp, old_logp, advantages, mask)
    check_number("kl_cov_ratio", kl_cov_ratio, lo=0, lo_open=True, hi=1)
    check_number("kl_coef", kl_coef, lo=0)
    logr = log_ratio(logp_bt, old_bt)
    cov = token_covariance(adv_bt, logp_bt, m)
    keys = torch.where(m, cov, torch.full_like(cov, -torch.inf))
    selected = m & (_rank_flat(keys, descending=True) < _k_of(kl_cov_ratio, m)[..., None, None])
    abs_kl = (logp_bt - old_bt).abs()
    loss_bt = -adv_bt * logr.exp() + torch.where(selected, kl_coef * abs_kl,
                                                 torch.zeros_like(abs_kl))
    metrics = ratio_metrics(logr, m)
    metrics["cov/frac_selected"] = extra_mean(selected, m, logp_bt.dtype)
    metrics["cov/mean"] = extra_mean(cov, m, logp_bt.dtype)
    metrics["kl/abs"] = extra_mean(abs_kl, m, logp_bt.dtype)
    return aggregate(loss_bt, m, agg, agg_norm), metrics
