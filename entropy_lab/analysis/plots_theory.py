"""Plots of the theorems against exact numbers: Theorem 1's prediction against the exact entropy
change and its O(η²) error, Theorem 2's entropy bounds under a ratio band, Theorem 3's ratio bias
by log-prob bin, and grouped bars for fractions (e.g. how often updates leave the clip band).

Every function draws on the Axes it is given (a new one when ``ax`` is None) and returns it; none
saves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from entropy_lab.analysis.metrics import _require_columns, convergence_order
from entropy_lab.analysis.plots_dynamics import _axes, _groups

# One colour per dtype so every precision figure agrees.
DTYPE_COLORS = {"bf16": "#d62728", "fp16": "#1f77b4", "fp32": "#2ca02c", "fp64": "#7f7f7f"}


def plot_pred_vs_exact(df: pd.DataFrame, pred: str = "dH_pred", exact: str = "dH_exact",
                       hue: str | None = None, ax=None):
    """Predicted against exact entropy change, one scatter per ``hue`` value, with the identity
    line y = x (points on it: the first-order prediction is exact to plotting precision).

    Returns:
        The Axes: one scatter collection per hue value and the identity line.
    """
    ax = _axes(ax)
    _require_columns(df, [pred, exact])
    for key, g in _groups(df, hue):
        ax.scatter(g[pred], g[exact], s=10, alpha=0.6, label=key)
    both = np.concatenate([df[pred].to_numpy(np.float64), df[exact].to_numpy(np.float64)])
    both = both[np.isfinite(both)]
    lim = (both.min(), both.max()) if both.size else (-1.0, 1.0)
    ax.plot(lim, lim, color="black", lw=1, linestyle="--", label="y = x")
    ax.set_xlabel(f"predicted ΔH ({pred})")
    ax.set_ylabel(f"exact ΔH ({exact})")
    return ax


def plot_convergence(df: pd.DataFrame, eta: str = "eta", error: str = "error",
                     hue: str | None = None, ax=None):
    """|error| against step size η on log-log axes, one line per ``hue`` value labelled with its
    observed order (slope), and a dotted η² reference through each line's smallest-η point.

    Returns:
        The Axes: two lines per hue value (measured, η² reference).
    """
    ax = _axes(ax)
    _require_columns(df, [eta, error])
    for key, g in _groups(df, hue):
        g = g.sort_values(eta)
        e = g[eta].to_numpy(np.float64)
        err = np.abs(g[error].to_numpy(np.float64))
        order = convergence_order(e, err)
        name = f"{key}: " if key is not None else ""
        (line,) = ax.plot(e, err, "o-", ms=3, label=f"{name}slope {order:.2f}")
        ax.plot(e, err[0] * (e / e[0]) ** 2, ":", color=line.get_color(), lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step size η")
    ax.set_ylabel("|exact − predicted ΔH|")
    return ax


def plot_entropy_bounds(pairs: pd.DataFrame, bounds: pd.DataFrame, h: str = "H",
                        h_new: str = "H_new", flag: str | None = "violates_paper",
                        label: str = "pairs", ax=None):
    """Theorem 2: H(π_new)/H(π) against H(π) for ratio-bounded pairs, with each bound form as a
    pair of curves (lower, upper) divided by H.

    Args:
        pairs: one row per (π, π_new) pair: columns ``h``, ``h_new`` and an optional boolean
            ``flag`` column (drawn as red crosses, e.g. pairs below the paper's lower bound).
        bounds: columns ``h`` (a grid of entropies) and ``lo_<form>``, ``hi_<form>`` per form.
        label: legend label of the unflagged pairs.
    Returns:
        The Axes: one scatter (two with flagged pairs) and two lines per bound form.
    """
    ax = _axes(ax)
    _require_columns(pairs, [h, h_new])
    _require_columns(bounds, [h])
    ratio = pairs[h_new] / pairs[h]
    bad = pairs[flag].astype(bool) if flag and flag in pairs.columns else pd.Series(False,
                                                                                   pairs.index)
    ax.scatter(pairs[h][~bad], ratio[~bad], s=6, color="#555555", alpha=0.6, label=label)
    if bad.any():
        ax.scatter(pairs[h][bad], ratio[bad], s=14, marker="x", color="#d62728",
                   label=f"{flag} ({int(bad.sum())})")
    forms = [c[3:] for c in bounds.columns if c.startswith("lo_")]
    styles = ["-", "--", "-.", ":"]
    for i, form in enumerate(forms):
        g = bounds.sort_values(h)
        kw = {"color": "black", "linestyle": styles[i % len(styles)], "lw": 1.2}
        ax.plot(g[h], g[f"lo_{form}"] / g[h], label=f"{form} bounds", **kw)
        ax.plot(g[h], g[f"hi_{form}"] / g[h], **kw)
    ax.set_xlabel("H(π)")
    ax.set_ylabel("H(π_new) / H(π)")
    return ax


def plot_ratio_bias(df: pd.DataFrame, x: str = "logp_bin", measured: str = "measured",
                    predicted: str | None = "predicted", se: str | None = None,
                    hue: str = "dtype", symlog: bool = True, ax=None):
    """E[r] − 1 by log-prob bin: measured as markers joined by solid lines (± ``se`` error bars
    when given), the prediction as a dashed line of the same colour, one pair per ``hue`` value;
    a symlog y axis keeps fp32's ~1e-7 and bf16's ~1e-3 visible together.

    Returns:
        The Axes: one or two lines per hue value (measured; predicted where present and finite)
        and the zero line; with ``se``, one error-bar collection per hue value.
    """
    ax = _axes(ax)
    _require_columns(df, [x, measured] + ([se] if se else []))
    tiny = np.inf
    for key, g in _groups(df, hue):
        g = g.sort_values(x)
        color = DTYPE_COLORS.get(str(key))
        if se:
            bars = ax.errorbar(g[x], g[measured], yerr=g[se], fmt="o-", ms=3, capsize=0,
                               color=color, label=f"{key} measured")
            line = bars.lines[0]
        else:
            (line,) = ax.plot(g[x], g[measured], "o-", ms=3, color=color,
                              label=f"{key} measured")
        if predicted and predicted in g.columns and np.isfinite(g[predicted]).any():
            ax.plot(g[x], g[predicted], "--", color=line.get_color(), label=f"{key} predicted")
        vals = np.abs(g[measured].to_numpy(np.float64))
        vals = vals[np.isfinite(vals) & (vals > 0)]
        if vals.size:
            tiny = min(tiny, vals.min())
    if symlog and np.isfinite(tiny):
        ax.set_yscale("symlog", linthresh=max(tiny, 1e-9))
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xlabel("log π_old of the token (bin centre)")
    ax.set_ylabel("E[r] − 1")
    return ax


def plot_fraction_bars(df: pd.DataFrame, label: str, values, ax=None, colors=None):
    """Grouped bars: one group per row (``label``), one bar per column in ``values``.

    Returns:
        The Axes: ``len(df) * len(values)`` bars.
    """
    ax = _axes(ax)
    values = list(values)
    _require_columns(df, [label, *values])
    xs = np.arange(len(df))
    width = 0.8 / max(len(values), 1)
    for i, v in enumerate(values):
        c = None if colors is None else colors[i]
        ax.bar(xs + (i - (len(values) - 1) / 2) * width, df[v], width=width, label=v, color=c)
    ax.set_xticks(xs)
    ax.set_xticklabels(df[label], rotation=30, ha="right")
    return ax

