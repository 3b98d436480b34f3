"""Shared by the figure scripts: the output folder, the save helper, the budget switch and a
loud failure for broken inputs.

A figure script sets its constants at the top, computes its data, draws with the plot functions
of :mod:`entropy_lab.analysis` and calls :func:`save` once. ``entropy-lab figures`` runs each
script in its own process with ``ENTROPY_LAB_QUICK=1|0``; a script exits non-zero (an uncaught
exception or :func:`require`) when its inputs are broken, so the command reports the figure failed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from entropy_lab.analysis.style import quick_mode, use_style  # noqa: E402

QUICK = quick_mode()
# Only a full run writes the committed gallery figures/out/; a quick run writes the git-ignored
# figures/out-quick/, and tests point ENTROPY_LAB_FIGURES_OUT at a temporary folder.
OUT = Path(os.environ.get("ENTROPY_LAB_FIGURES_OUT")
           or Path(__file__).resolve().parent / ("out-quick" if QUICK else "out"))
# The tabular tensors are tiny: extra intra-op threads cost more in synchronisation than they save
# (measured 3-5x slower per simulator step on 2 shared cores).
torch.set_num_threads(1)


def budget(full, quick):
    """``quick`` under ``ENTROPY_LAB_QUICK=1`` (about 10× smaller), otherwise ``full``."""
    return quick if QUICK else full


def setup() -> None:
    """Apply the shared style (call once, before drawing)."""
    use_style()


def require(ok: bool, message: str) -> None:
    """Stop the script with a non-zero exit when an input is broken (NaN, empty, wrong size)."""
    if not ok:
        raise SystemExit(f"figure input check failed: {message}")


def require_finite(name: str, values) -> None:
    """Stop the script when ``values`` is empty or holds a NaN/inf."""
    arr = np.asarray(values, dtype=np.float64)
    require(arr.size > 0, f"{name} is empty")
    require(bool(np.isfinite(arr).all()), f"{name} has {int((~np.isfinite(arr)).sum())} "
                                          f"non-finite values of {arr.size}")


def rolling(df, window: int, col: str, run: str = "run_id", x: str = "step"):
    """``df`` with ``col`` replaced by its centred rolling mean over ``window`` values of ``x``
    within each ``run`` (for noisy per-step sample estimates; say so in the figure's note)."""
    df = df.sort_values([run, x])
    rolled = df.groupby(run)[col].transform(
        lambda v: v.rolling(window, center=True, min_periods=1).mean())
    return df.assign(**{col: rolled})


def save(fig, name: str, note: str | None = None) -> Path:
    """Write ``figures/out/<name>.png`` (``figures/out-quick/`` on the quick budget,
    ``$ENTROPY_LAB_FIGURES_OUT`` when set) and close
    the figure; ``note`` goes in small grey text below it (the budget, where the data came from)."""
    OUT.mkdir(parents=True, exist_ok=True)
    text = " · ".join(t for t in (note, "quick budget" if QUICK else None) if t)
    if text:
        fig.text(0.005, -0.01, text, fontsize=7, color="#666666", ha="left", va="top")
    path = OUT / f"{name}.png"
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stdout)
    return path
