"""Input checks shared by every public entry point.

Each helper raises :class:`InputError` (a ``ValueError``) whose message names the argument, the
value that was given and what was allowed, e.g.::

    InputError: lr=-0.1 is not allowed: expected a finite number > 0
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import torch

# True inside ``trusted()``: check_tensor skips its finiteness scan (see there).
_TRUSTED: contextvars.ContextVar[bool] = contextvars.ContextVar("trusted", default=False)


class InputError(ValueError):
    """Bad input to a public function: the message names the argument, the value and the rule."""


def _show(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor(shape={list(value.shape)}, dtype={value.dtype})"
    return repr(value)


def fail(name: str, value: object, allowed: str) -> InputError:
    """Build the standard error; use as ``raise fail("lr", lr, "a finite number > 0")``."""
    return InputError(f"{name}={_show(value)} is not allowed: expected {allowed}")


def check_number(
    name: str,
    value: float,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    integer: bool = False,
) -> float:
    """Check a finite real (or integer) scalar in a range; return it unchanged.

    ``lo``/``hi`` are inclusive unless ``lo_open``/``hi_open``. Booleans are rejected.
    """
    kind = "an integer" if integer else "a finite number"
    bounds = []
    if lo is not None:
        bounds.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        bounds.append(f"{'<' if hi_open else '<='} {hi:g}")
    allowed = f"{kind} {' and '.join(bounds)}".strip()
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(name, value, allowed)
    if integer and not float(value).is_integer():
        raise fail(name, value, allowed)
    if not math.isfinite(value):
        raise fail(name, value, allowed)
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise fail(name, value, allowed)
    if hi is not None and (value > hi or (hi_open and value == hi)):
        raise fail(name, value, allowed)
    return value


def check_choice(name: str, value: object, choices: Iterable[object]) -> object:
    """Check that ``value`` is one of ``choices``; return it."""
    choices = list(choices)
    if value not in choices:
        raise fail(name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value


def choice_field(default: object, choices: Sequence[object] | Callable[[], Iterable[object]],
                 spelling: Callable[[object], object] | None = None):
    """A dataclass field whose value must be one of ``choices``: the one place they are named.

    ``choices`` is a tuple, or a zero-argument function returning a registry's names (called
    when the choices are needed, so a registry is imported lazily). ``spelling`` maps other
    accepted spellings onto the canonical one (e.g. ``fp32-logprobs`` -> ``fp32_logprobs``)
    before the check. A field whose default is None also accepts None.
    :func:`check_field_choices` (in ``__post_init__``) validates every such field, and the
    command line offers the same choices (``entropy_lab/commands/_config_args.py``)::

        mode: str = choice_field("sampled", MODES)
    """
    return dataclasses.field(default=default,
                             metadata={"choices": choices, "spelling": spelling})


def field_choices(field: dataclasses.Field) -> list | None:
    """The allowed values of a :func:`choice_field` (None for any other field)."""
    choices = field.metadata.get("choices")
    if choices is None:
        return None
    return list(choices() if callable(choices) else choices)


def check_field_choices(obj: object) -> None:
    """Check every :func:`choice_field` of the frozen dataclass instance ``obj``, first putting
    its value in the canonical spelling (None passes where it is the field's default)."""
    for field in dataclasses.fields(obj):
        choices = field_choices(field)
        value = getattr(obj, field.name)
        if choices is None or (value is None and field.default is None):
            continue
        spelling = field.metadata.get("spelling")
        if spelling is not None and value is not None:
            value = spelling(value)
            object.__setattr__(obj, field.name, value)
        check_choice(field.name, value, choices)


def check_tensor(
    name: str,
    x: object,
    *,
    min_ndim: int | None = None,
    ndim: int | None = None,
    last_dim_min: int | None = None,
    floating: bool = True,
    finite: bool = True,
    axes: str | None = None,
) -> torch.Tensor:
    """Check a tensor's type, rank, dtype class and finiteness; return it.

    The finiteness scan (``finite=True``) is skipped inside :func:`trusted`.

    Args:
        axes: axis letters for the message, e.g. ``"[..., K]"``.
    """
    shape_txt = f" with shape {axes}" if axes else ""
    if not isinstance(x, torch.Tensor):
        raise fail(name, x, f"a torch.Tensor{shape_txt}")
    if ndim is not None and x.ndim != ndim:
        raise fail(name, x, f"a tensor of rank {ndim}{shape_txt}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise fail(name, x, f"a tensor of rank >= {min_ndim}{shape_txt}")
    if last_dim_min is not None and (x.ndim == 0 or x.shape[-1] < last_dim_min):
        raise fail(name, x, f"a last dimension of size >= {last_dim_min}{shape_txt}")
    if floating and not x.is_floating_point():
        raise fail(name, x, "a floating-point dtype (float16, bfloat16, float32 or float64)")
    if (finite and x.is_floating_point() and not _TRUSTED.get()
            and not bool(torch.isfinite(x).all())):
        n_bad = int((~torch.isfinite(x)).sum())
        raise InputError(
            f"{name} has {n_bad} non-finite entries (NaN or inf) out of {x.numel()}: "
            "expected all finite"
        )
    return x


@contextlib.contextmanager
def trusted() -> Iterator[None]:
    """Inside the block, ``check_tensor(..., finite=True)`` skips its finiteness scan.

    For internal hot paths that detect non-finite values themselves: each scan is a full pass
    over the tensor plus a host synchronisation, and a loop that feeds its own intermediate
    results through many public entry points pays for ~20 of them per iteration. The caller
    takes over the guarantee (the simulator checks its rewards, log-probs, loss, logits and
    entropy once per step and names the step, seed and quantity). Every other check (type,
    rank, shape, dtype class) still runs, and outside the block nothing changes. The flag is a
    context variable, so other threads and asyncio tasks are unaffected; blocks nest.
    """
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def finite_scans_enabled() -> bool:
    """False inside :func:`trusted` (``check_tensor`` then skips its finiteness scan)."""
    return not _TRUSTED.get()


def check_same_shape(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> None:
    """Check that several tensors share one shape; the error lists every shape."""
    shapes = [tuple(t.shape) for t in tensors]
    if len(set(shapes)) > 1:
        listing = ", ".join(f"{n}={list(s)}" for n, s in zip(names, shapes))
        raise InputError(f"shape mismatch: {listing}; expected all equal")
