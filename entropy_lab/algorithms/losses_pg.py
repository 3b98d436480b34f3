"""Plain policy gradient (REINFORCE on token log-probs).

    ℓ_t = −A_t · log π_θ(y_t)            (to minimise; gradient −A_t ∇log π_θ(y_t))

No importance ratio enters the loss: with samples from π_old ≠ π_θ this is biased, which is the
point of comparing it with the ratio-based losses. The ratio metrics are still reported, so a
sampler/trainer mismatch shows up in ``ratio/*`` even here. (verl's ``gpg`` loss is the same
per-token term.)
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms.aggregation import aggregate
from entropy_lab.algorithms.losses_common import log_ratio, prepare, ratio_metrics, register_loss


@register_loss("pg", pg_limit={})
def pg(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    agg: str = "token-mean",
    agg_norm: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """ℓ_t = −A_t·log π_θ(y_t), aggregated with ``agg``.

    Args:
        logp, old_logp, advantages, mask: ``[..., B, T]`` (see :mod:`losses_common`).
        agg, agg_norm: aggregation mode and its horizon (see :func:`aggregate`).
    Returns:
        (loss ``[...]``, metrics) — clip fractions are 0.
    """
    logp_bt, old_bt, adv_bt, m = prepare(logp, old_logp, advantages, mask)
    loss_bt = -adv_bt * logp_bt
    return aggregate(loss_bt, m, agg, agg_norm), ratio_metrics(log_ratio(logp_bt, old_bt), m)
