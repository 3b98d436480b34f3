"""Loss aggregation: how per-token losses ``[..., B, T]`` become one number per replica ``[...]``.

With m the 0/1 mask, ℓ the per-token loss, B rows (sequences) and T the padded length:

    token-mean               Σ_{b,t} m·ℓ / Σ_{b,t} m                  (DAPO; verl's default)
    seq-mean-token-mean      (1/B) Σ_b [Σ_t m·ℓ / Σ_t m]              (GRPO paper; GSPO)
    seq-mean-token-sum       (1/B) Σ_b Σ_t m·ℓ
    seq-mean-token-sum-norm  (1/B) Σ_b Σ_t m·ℓ / norm                 (Dr.GRPO constant horizon)

The choice sets each token's weight: token-mean weights tokens equally (long sequences count
more); seq-mean-token-mean weights sequences equally (a token of a short sequence counts more,
the length bias Dr.GRPO points out); the -norm form divides by a constant so the weight of a token
does not depend on any length.

Deliberate differences from verl (``agg_loss``):
- ``seq-mean-token-sum-norm`` divides by B·norm (TRL's ``dr_grpo``: B·max_completion_length);
  verl divides the batch sum by ``norm`` only, so its value grows with the batch size.
- ``norm=None`` means the padded length T (verl: ``loss_mask.shape[-1]``); pass the generation
  budget to get a constant horizon independent of padding.
- A row without tokens contributes 0 to ``seq-mean-token-mean`` (verl: 0/0 = NaN); it still
  counts in B, as in verl.
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms._tensors import TOKEN_AXES, check_mask, token_count
from entropy_lab.registry import Registry
from entropy_lab.validation import check_number, check_same_shape, check_tensor

AGGREGATIONS: Registry = Registry("aggregation mode")


def _zeroed(loss_bt: torch.Tensor, mask_bt: torch.Tensor) -> torch.Tensor:
    return torch.where(mask_bt, loss_bt, torch.zeros((), dtype=loss_bt.dtype,
                                                     device=loss_bt.device))


@AGGREGATIONS.register("token-mean")
def _token_mean(loss_bt, mask_bt, norm):
    return _zeroed(loss_bt, mask_bt).sum((-2, -1)) / token_count(mask_bt).to(loss_bt.dtype)


@AGGREGATIONS.register("seq-mean-token-mean")
def _seq_mean_token_mean(loss_bt, mask_bt, norm):
    per_seq = _zeroed(loss_bt, mask_bt).sum(-1) / mask_bt.sum(-1).clamp(min=1).to(loss_bt.dtype)
    return per_seq.mean(-1)


@AGGREGATIONS.register("seq-mean-token-sum")
def _seq_mean_token_sum(loss_bt, mask_bt, norm):
    return _zeroed(loss_bt, mask_bt).sum(-1).mean(-1)


@AGGREGATIONS.register("seq-mean-token-sum-norm")
def _seq_mean_token_sum_norm(loss_bt, mask_bt, norm):
    horizon = float(loss_bt.shape[-1]) if norm is None else float(norm)
    return _zeroed(loss_bt, mask_bt).sum(-1).mean(-1) / horizon


def aggregate(
    loss: torch.Tensor, mask: torch.Tensor, mode: str = "token-mean", norm: float | None = None
) -> torch.Tensor:
    """Reduce per-token losses to one value per replica (formulas in the module docstring).

    Args:
        loss: ``[..., B, T]`` per-token loss (any float dtype; the result keeps it).
        mask: ``[..., B, T]`` 0/1 (bool or numeric) — 1 marks a generated token.
        mode: ``token-mean`` | ``seq-mean-token-mean`` | ``seq-mean-token-sum`` |
            ``seq-mean-token-sum-norm``.
        norm: the constant horizon of ``seq-mean-token-sum-norm`` (> 0); None = T. Ignored by
            the other modes.
    Returns:
        ``[...]`` (0-d for ``[B, T]`` input).
    """
    check_tensor("loss", loss, min_ndim=2, axes=TOKEN_AXES, finite=False)
    fn = AGGREGATIONS.get(mode)
    check_same_shape(["loss", "mask"], [loss, mask])
    if norm is not None:
        check_number("norm", norm, lo=0, lo_open=True)
    return fn(loss, check_mask(mask, loss), norm)


def aggregation_names() -> list[str]:
    """All aggregation modes."""
    return AGGREGATIONS.names()
