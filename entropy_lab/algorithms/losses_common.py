"""The policy-loss registry and what every loss shares: input checks, the ratio, the metrics.

Every loss has one signature (verl's ``compute_policy_loss_*`` family, made replica-aware)::

    loss, metrics = fn(logp, old_logp, advantages, mask, *, agg="token-mean", agg_norm=None, **hp)

- ``logp`` ``[..., B, T]``: log π_θ of the taken tokens (trainer path, differentiable).
- ``old_logp`` ``[..., B, T]``: log π_old of the same tokens (sampler path or a recomputation).
- ``advantages`` ``[..., B, T]``: token advantages (already broadcast and shaped).
- ``mask`` ``[..., B, T]``: 0/1, 1 = a generated token.
- returns ``loss`` ``[...]`` to *minimise* (input dtype) and ``metrics``: str -> ``[...]``.

Ratio r = exp(clamp(logp − old_logp, ±20)) (verl clamps at ±20; here at most ln(max of dtype) − 1
so float16 never overflows). Every loss reports these masked means:

    clip/frac_low    fraction of tokens whose update the lower clip stops   (A<0, r < 1−ε_low)
    clip/frac_high   fraction stopped by the upper clip                      (A>0, r > 1+ε_high)
    clip/frac        clip/frac_low + clip/frac_high (= verl's ``pg_clipfrac``; TRL
                     ``clip_ratio/region_mean``; its ``low_mean``/``high_mean`` are the two parts)
    ratio/mean, ratio/min, ratio/max   of r over unmasked tokens
    kl/old_new       mean(old_logp − logp) (verl's ``ppo_kl``, the k1 estimate of KL(π_old‖π_θ))

Losses without a clip report zeros for the clip fractions; each adds its own namespaced extras.
Metrics are detached and in float32 (float64 for float64 input).

A new loss is one function registered with :func:`register_loss`; the registry-wide tests then run
shape, dtype, gradient, masking and replica checks on it, and — when it declares ``pg_limit`` (the
hyperparameters under which its gradient at r = 1 is the plain policy gradient) — that check too.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from entropy_lab.algorithms._tensors import (
    check_tokens,
    hp_param,
    log_ratio_limit,
    masked_extreme,
    masked_mean,
    masked_means,
    metric_dtype,
)
from entropy_lab.registry import Registry
from entropy_lab.validation import fail

LOSSES: Registry = Registry("loss")

# Data a loss may declare with ``register_loss(..., data=...)``; the step passes them when it has
# them. They are never hyperparameters.
DATA_ARGS = ("logits", "generator", "sampler_logp")


def register_loss(
    name: str,
    *,
    needs_logits: bool = False,
    pg_limit: dict | None = None,
    detached_weights: bool = False,
    data: tuple[str, ...] = (),
) -> Callable:
    """Decorator: register a loss under ``name``.

    Args:
        needs_logits: the loss takes a ``logits=`` keyword ``[..., B, T, K]`` (entropy bonus).
        pg_limit: hyperparameters under which, at logp = old_logp, the gradient equals that of
            ``pg`` with the same aggregation; None if no such identity is claimed.
        detached_weights: the loss multiplies log π by a stop-gradient weight (CISPO, TIS), so
            its gradient is *not* the derivative of its value and finite differences of the
            value do not apply.
        data: keyword arguments that are data the step supplies, not hyperparameters:
            ``logits`` (implied by ``needs_logits``), ``generator`` (random token selection),
            ``sampler_logp`` (the sampler's log-probs ``[..., B, T]``, verl's TIS/IcePop layout).
            The four token tensors and ``agg`` are always supplied.
    """
    declared = tuple(data) + (("logits",) if needs_logits and "logits" not in data else ())
    unknown = sorted(set(declared) - set(DATA_ARGS))
    if unknown:
        raise fail("data", list(data), f"names among {sorted(DATA_ARGS)}")

    def add(fn: Callable) -> Callable:
        fn.data_args = frozenset(declared)
        fn.needs_logits = needs_logits
        fn.pg_limit = pg_limit
        fn.detached_weights = detached_weights
        LOSSES.register(name, fn)
        return fn

    return add


def get_loss(name: str) -> Callable:
    """The loss registered as ``name`` (unknown -> error listing the choices)."""
    return LOSSES.get(name)


def loss_names() -> list[str]:
    """All registered losses."""
    return LOSSES.names()


def prepare(logp, old_logp, advantages, mask):
    """Check the four token tensors; zero padded positions; return (logp, old, adv, mask_bool)."""
    return check_tokens(mask, logp=logp, old_logp=old_logp, advantages=advantages)


def log_ratio(logp_bt: torch.Tensor, old_bt: torch.Tensor) -> torch.Tensor:
    """clamp(logp − old_logp, ±limit) with the dtype-safe limit of :func:`log_ratio_limit`."""
    lim = log_ratio_limit(logp_bt.dtype)
    return (logp_bt - old_bt).clamp(-lim, lim)


def clip_band(eps_low, eps_high, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(1 − ε_low, 1 + ε_high) as broadcastable tensors; ε_low ∈ [0, 1), ε_high ≥ 0.

    ``eps_high=None`` means ε_high = ε_low (verl's ``clip_ratio_high`` default).
    """
    lo = hp_param("eps_low", eps_low, like, lo=0.0, hi=1.0, hi_open=True)
    hi = hp_param("eps_high", eps_low if eps_high is None else eps_high, like, lo=0.0)
    return 1 - lo, 1 + hi


def ratio_metrics(
    logr_bt: torch.Tensor,
    mask_bt: torch.Tensor,
    low_bt: torch.Tensor | None = None,
    high_bt: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The metrics every loss reports (module docstring); ``low_bt``/``high_bt`` are bool."""
    dt = metric_dtype(logr_bt.dtype)
    logr = logr_bt.detach().to(dt)
    r = logr.exp()
    zeros = torch.zeros_like(mask_bt, dtype=dt)
    low = zeros if low_bt is None else low_bt.to(dt)
    high = zeros if high_bt is None else high_bt.to(dt)
    frac_low, frac_high, r_mean, kl = masked_means(mask_bt, low, high, r, -logr)
    return {
        "clip/frac_low": frac_low,
        "clip/frac_high": frac_high,
        "clip/frac": frac_low + frac_high,
        "ratio/mean": r_mean,
        "ratio/min": masked_extreme(r, mask_bt, largest=False),
        "ratio/max": masked_extreme(r, mask_bt, largest=True),
        "kl/old_new": kl,
    }


def extra_mean(x_bt: torch.Tensor, mask_bt: torch.Tensor, like: torch.dtype) -> torch.Tensor:
    """A detached masked mean in the metric dtype of input dtype ``like`` (a loss's extras)."""
    return masked_mean(x_bt.detach().to(metric_dtype(like)), mask_bt)
