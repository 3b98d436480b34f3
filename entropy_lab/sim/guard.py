"""One finiteness check per iteration, in place of the per-call scans the step loop switches off.

The step loop runs the problem and algorithm entry points under ``validation.trusted()``: their
``check_tensor(..., finite=True)`` scans (about 20 per iteration, each a pass over the tensor and
a host synchronisation) are skipped. Instead the loop registers every quantity that could carry a
non-finite value into the next iteration (rewards, sampler and trainer log-probs, loss, updated
logits, entropy) with a :class:`StepGuard` and checks them together once:

    ok  ⇔  isfinite(Σ_q Σ x_q)

A sum with a NaN or ±inf term is never finite, so a finite total proves every entry finite; a
non-finite total (or an overflow of finite entries) sends the guard through the quantities one by
one, in the order they arose, to name the step, the first affected seed and the quantity. Only the
order of summation is new: no value computed by the iteration changes.
"""

from __future__ import annotations

import math

import torch


class NonFiniteStep(RuntimeError):
    """An iteration produced a non-finite quantity; the message names step, seed and quantity."""


class StepGuard:
    """Quantities of one iteration, each with the seeds as its leading dim (``[B, ...]``)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, torch.Tensor]] = []

    def add(self, quantity: str, x_b: torch.Tensor) -> None:
        """Register ``x_b`` ``[B, ...]`` (kept by reference, detached; nothing is computed yet)."""
        self.items.append((quantity, x_b.detach()))

    def check(self, step: int, seed_ids: list[int]) -> None:
        """Raise :class:`NonFiniteStep` if any registered entry is NaN or ±inf; then forget them.

        Costs one sum per quantity and a single host synchronisation when all is finite.
        """
        items, self.items = self.items, []
        if not items:
            return
        total = torch.stack([x.sum() for _, x in items]).sum()
        if math.isfinite(total.item()):  # one host read (torch.isfinite: four more ops)
            return
        report = _first_bad(items, seed_ids)
        if report is not None:
            raise NonFiniteStep(f"step {step}, {report}")


def _first_bad(items: list[tuple[str, torch.Tensor]], seed_ids: list[int]) -> str | None:
    """The message for the earliest quantity with a non-finite entry (None: all finite, the
    total only overflowed)."""
    flags = [(name, x, ~torch.isfinite(x.reshape(x.shape[0], -1)).all(-1)) for name, x in items]
    for name, x, bad_b in flags:
        if not bool(bad_b.any()):
            continue
        first = int(bad_b.nonzero()[0, 0])
        n_bad = int((~torch.isfinite(x[first])).sum())
        also = list(dict.fromkeys(n for n, _, b in flags if n != name and bool(b[first])))
        after = f"; also non-finite for this seed: {', '.join(also)}" if also else ""
        return (f"seed {seed_ids[first]}: non-finite {name} ({n_bad} of {x[first].numel()} "
                f"entries NaN/inf; {int(bad_b.sum())} of {bad_b.numel()} seeds affected){after}")
    return None
