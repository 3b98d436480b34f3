"""Shared tensor plumbing for token tensors ``[..., B, T]`` (leading dims = independent replicas).

Every reduction here runs over the last two axes only, so replicas never interact. Hyperparameters
that controllers adjust may be Python floats or tensors of shape ``[...]`` (one per replica);
:func:`hp_param` turns either into something that broadcasts against ``[..., B, T]``.
"""

from __future__ import annotations

import math

import torch

from entropy_lab.validation import InputError, check_same_shape, check_tensor, fail

TOKEN_AXES = "[..., B, T]"


def check_mask(mask: torch.Tensor, like: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Check a 0/1 mask (bool, integer or float) of ``like``'s shape; return it as bool.

    A float mask with values other than 0 and 1 (e.g. a soft weight) is rejected: weights belong
    in the loss, not in the mask.
    """
    if not isinstance(mask, torch.Tensor):
        raise fail(name, mask, f"a 0/1 torch.Tensor with shape {TOKEN_AXES}")
    if mask.dtype != torch.bool:
        if mask.is_floating_point() and not bool(torch.isfinite(mask).all()):
            raise fail(name, mask, "only the values 0 and 1")
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise fail(name, mask, "only the values 0 and 1 (or a bool tensor)")
    return mask.to(torch.bool)


def check_tokens(
    mask: torch.Tensor, **tensors: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """Check same-shape float token tensors ``[..., B, T]``, finite wherever the 0/1 mask is 1.

    Returns the tensors (in keyword order) with masked positions replaced by zeros, followed by
    the bool mask. Padding may hold anything (−inf from a log-softmax of a pad token, NaN):
    zeroing through ``torch.where`` keeps it out of every value and gradient, so nothing
    downstream can turn it into ``inf * 0 = nan``.
    """
    names = list(tensors)
    for n in names:
        check_tensor(n, tensors[n], min_ndim=2, axes=TOKEN_AXES, finite=False)
    check_same_shape(names, [tensors[n] for n in names])
    if not isinstance(mask, torch.Tensor):
        raise fail("mask", mask, f"a 0/1 torch.Tensor with shape {TOKEN_AXES}")
    ref = tensors[names[0]]
    check_same_shape([names[0], "mask"], [ref, mask])
    m = check_mask(mask, ref)
    zero = torch.zeros((), dtype=ref.dtype, device=ref.device)
    out = tuple(torch.where(m, tensors[n], zero) for n in names)
    for n, x in zip(names, out):
        check_tensor(f"{n} (unmasked positions)", x.detach(), finite=True)
    return (*out, m)


def hp_param(name: str, value, like: torch.Tensor, *, lo=None, hi=None, lo_open=False,
             hi_open=False, allowed: str | None = None) -> torch.Tensor:
    """A float or ``[...]`` tensor hyperparameter as a tensor broadcasting over ``[..., B, T]``.

    Range checks (``lo``/``hi``) apply to every entry. The result has ``like``'s dtype/device and
    shape ``[..., 1, 1]`` (or 0-d for a float).
    """
    bounds = []
    if lo is not None:
        bounds.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        bounds.append(f"{'<' if hi_open else '<='} {hi:g}")
    allowed = allowed or ("a finite number " + " and ".join(bounds)).strip()
    batch_shape = like.shape[:-2]
    if isinstance(value, torch.Tensor):
        if value.ndim and tuple(value.shape) != tuple(batch_shape):
            raise fail(name, value, f"a float or a tensor of shape {list(batch_shape)} ([...])")
        v = value.detach().to(torch.float64)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        # a Python number: the same checks in Python (no tensor ops, no host synchronisation)
        x = float(value)
        if (not math.isfinite(x) or (lo is not None and (x < lo or (x == lo and lo_open)))
                or (hi is not None and (x > hi or (x == hi and hi_open)))):
            raise fail(name, value, allowed)
        return torch.tensor(x, dtype=like.dtype, device=like.device)
    else:
        raise fail(name, value, allowed)
    if not bool(torch.isfinite(v).all()):
        raise fail(name, value, allowed)
    if lo is not None and bool(((v < lo) | ((v == lo) & lo_open)).any()):
        raise fail(name, value, allowed)
    if hi is not None and bool(((v > hi) | ((v == hi) & hi_open)).any()):
        raise fail(name, value, allowed)
    v = v.to(dtype=like.dtype, device=like.device)
    return v[..., None, None] if v.ndim else v


def token_count(mask_bt: torch.Tensor) -> torch.Tensor:
    """Number of unmasked tokens per replica ``[...]`` (integer-valued, never below 1)."""
    return mask_bt.sum((-2, -1)).clamp(min=1)


def masked_mean(x_bt: torch.Tensor, mask_bt: torch.Tensor) -> torch.Tensor:
    """Σ_{b,t} m·x / max(Σ m, 1) per replica: ``[..., B, T] -> [...]``.

    verl divides by Σ m + 1e-8 instead; the two agree whenever a replica has a token.
    """
    return masked_means(mask_bt, x_bt)[0]


def masked_means(mask_bt: torch.Tensor, *xs_bt: torch.Tensor) -> list[torch.Tensor]:
    """:func:`masked_mean` of each of ``xs_bt`` (one dtype) under one mask, the token count
    taken once: ``[..., B, T] -> [...]`` each."""
    x0 = xs_bt[0]
    zero = torch.zeros((), dtype=x0.dtype, device=x0.device)
    count = token_count(mask_bt).to(x0.dtype)
    return [torch.where(mask_bt, x, zero).sum((-2, -1)) / count for x in xs_bt]


def masked_extreme(x_bt: torch.Tensor, mask_bt: torch.Tensor, largest: bool) -> torch.Tensor:
    """Masked max (``largest``) or min per replica; 1 for a replica without tokens (a ratio's
    neutral value, the only use here)."""
    fill = torch.tensor(-math.inf if largest else math.inf, dtype=x_bt.dtype, device=x_bt.device)
    y = torch.where(mask_bt, x_bt, fill)
    y = y.amax((-2, -1)) if largest else y.amin((-2, -1))
    return torch.where(y.abs() < math.inf, y, 1.0)  # |NaN| < inf is False: NaN -> 1 as ±inf


def metric_dtype(dtype: torch.dtype) -> torch.dtype:
    """Metrics are reported in at least float32: a bf16 fraction would keep only 8 bits."""
    return dtype if dtype == torch.float64 else torch.float32


def log_ratio_limit(dtype: torch.dtype) -> float:
    """|log r| clamp before ``exp``: verl's 20, lowered so that exp never overflows the dtype
    (float16: ln 65504 ≈ 11.09, so 10)."""
    return min(20.0, math.floor(math.log(torch.finfo(dtype).max)) - 1.0)


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(name, value, "an integer >= 1")
    return value


__all__ = [
    "InputError",
    "TOKEN_AXES",
    "check_mask",
    "check_positive_int",
    "check_tokens",
    "hp_param",
    "log_ratio_limit",
    "masked_extreme",
    "masked_mean",
    "masked_means",
    "metric_dtype",
    "token_count",
]
