"""One matplotlib style for every figure, and the quick-mode switch figure scripts read.

Plot functions in :mod:`entropy_lab.analysis` draw on an Axes they are given (or a new one) and
return it; they never save. Figure scripts call :func:`use_style` once, then save.
"""

from __future__ import annotations

import os

import matplotlib as mpl

RC = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "savefig.bbox": "tight",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
}

# A fixed colour per algorithm so every figure agrees.
ALGO_COLORS = {
    "grpo": "#d62728", "dr_grpo": "#ff9896", "rloo": "#8c564b", "ppo": "#7f7f7f",
    "dapo": "#1f77b4", "gspo": "#17becf", "cispo": "#9edae5", "clip_cov": "#bcbd22",
    "kl_cov": "#dbdb8d", "entropy_bonus": "#c5b0d5", "adaptive_entropy": "#9467bd",
    "repo": "#98df8a", "repo_r": "#2ca02c", "repo_d": "#006400", "adapo": "#ff7f0e",
    "reinforce": "#e377c2",
}


def use_style() -> None:
    """Apply the shared style to matplotlib's global rcParams."""
    mpl.rcParams.update(RC)


def algo_color(name: str) -> str | None:
    """The fixed colour of an algorithm (``None`` lets matplotlib choose)."""
    return ALGO_COLORS.get(name)


def quick_mode() -> bool:
    """True when ``ENTROPY_LAB_QUICK=1`` (set by ``entropy-lab figures --quick`` and CI)."""
    return os.environ.get("ENTROPY_LAB_QUICK", "0") == "1"
