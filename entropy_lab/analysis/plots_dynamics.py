"""Plots of training dynamics: trajectories over steps, performance against entropy, pass@k
curves, cumulative entropy against performance, and controller traces.

Every function draws on the Axes it is given (a new one when ``ax`` is None) and returns it; none
saves. Inputs are tidy DataFrames (one row per seed and step, as :func:`entropy_lab.sim.simulate`
returns) or the summaries of :mod:`entropy_lab.analysis.metrics`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from entropy_lab.analysis.metrics import _require_columns, summarize
from entropy_lab.analysis.style import algo_color


def _axes(ax):
    return ax if ax is not None else plt.subplots()[1]


def _groups(df: pd.DataFrame, hue: str | None):
    """(label, sub-frame) pairs in order of first appearance (so legends follow the input)."""
    if hue is None:
        return [(None, df)]
    _require_columns(df, [hue])
    return [(key, df[df[hue] == key]) for key in pd.unique(df[hue])]


def plot_trajectories(df: pd.DataFrame, y: str = "entropy", x: str = "step",
                      hue: str | None = "algorithm", band: str = "sem", ax=None,
                      label_prefix: str = "", **line_kw):
    """Mean of ``y`` over seeds against ``x``, one line per ``hue`` value, with a shaded band.

    Args:
        df: one row per (hue, seed, x); several seeds give the band.
        y, x: columns to plot.
        hue: the column naming a line (``None``: a single line).
        band: ``"sem"``, ``"std"``, ``"ci95"`` or ``"none"`` (see :func:`metrics.summarize`).
        ax: Axes to draw on.
        label_prefix: prepended to each legend label (e.g. ``"bf16 "``).
        line_kw: passed to ``ax.plot`` (e.g. ``linestyle``); ``color`` overrides the per-algorithm
            colours for every line.
    Returns:
        The Axes: one line per hue value, one filled band each where the band is non-zero.
    """
    ax = _axes(ax)
    fixed_color = line_kw.pop("color", None)
    for key, sub in _groups(df, hue):
        s = summarize(sub, y, by=(), x=x, band=band)
        color = fixed_color or (algo_color(str(key)) if hue is not None else None)
        label = f"{label_prefix}{key}" if key is not None else (label_prefix or None)
        (line,) = ax.plot(s[x], s["mean"], label=label, color=color, **line_kw)
        if band != "none" and (s["hi"] > s["lo"]).any():
            ax.fill_between(s[x], s["lo"], s["hi"], color=line.get_color(), alpha=0.18, lw=0)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax


def plot_phase(df: pd.DataFrame, x: str = "entropy", y: str = "J", hue: str = "algorithm",
               step: str = "step", ax=None):
    """The seed-mean trajectory in the (x, y) plane, one path per ``hue`` value; a circle marks
    the start and a filled dot the end (the paper's "performance against entropy" picture).

    Returns:
        The Axes: one path line per hue value plus one start and one end marker each.
    """
    ax = _axes(ax)
    _require_columns(df, [x, y, step])
    for key, sub in _groups(df, hue):
        m = sub.groupby(step, sort=True)[[x, y]].mean()
        color = algo_color(str(key))
        (line,) = ax.plot(m[x], m[y], label=key, color=color)
        c = line.get_color()
        ax.plot(m[x].iloc[:1], m[y].iloc[:1], "o", mfc="none", color=c, ms=6)
        ax.plot(m[x].iloc[-1:], m[y].iloc[-1:], "o", color=c, ms=5)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax


def plot_passk_curves(df: pd.DataFrame, k: str = "k", value: str = "pass", hue: str = "algorithm",
                      stage: str | None = "stage", ax=None):
    """pass@k against k (log axis), one line per (hue, stage); stages after the first are solid,
    the first (e.g. ``"before"``) is dashed black when it is the same for every hue.

    Args:
        df: columns ``k``, ``value``, ``hue`` and ``stage`` (e.g. ``"before"``/``"after"``).
    Returns:
        The Axes: one line per (hue, stage) pair, except that a first stage identical across hues
        (training starts from one policy) is drawn once.
    """
    ax = _axes(ax)
    _require_columns(df, [k, value] + ([stage] if stage else []))
    stages = list(pd.unique(df[stage])) if stage else [None]
    first = df[df[stage] == stages[0]] if stage else None
    shared_first = False
    if stage and len(stages) > 1 and hue in df.columns:
        per_hue = [g.sort_values(k)[value].to_numpy() for _, g in first.groupby(hue)]
        shared_first = all(p.shape == per_hue[0].shape and np.allclose(p, per_hue[0])
                           for p in per_hue)
    if shared_first:
        g = first[first[hue] == first[hue].iloc[0]].sort_values(k)
        ax.plot(g[k], g[value], color="black", linestyle="--", label=f"{stages[0]} (all)")
    for st in stages:
        if shared_first and st == stages[0]:
            continue
        sub = df[df[stage] == st] if stage else df
        for key, g in _groups(sub, hue if hue in sub.columns else None):
            g = g.sort_values(k)
            style = "--" if (stage and st == stages[0]) else "-"
            label = " ".join(str(t) for t in (key, st) if t is not None)
            ax.plot(g[k], g[value], style, color=algo_color(str(key)), label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k")
    return ax


def plot_correlation(summary: pd.DataFrame, x: str = "cum_entropy", y: str = "J",
                     hue: str | None = "algorithm", corr: dict | None = None, ax=None):
    """One point per run (x against y), coloured by ``hue``, with a least-squares line and the
    correlation with its interval in the title when ``corr`` (from :func:`metrics.correlation`)
    is given.

    Returns:
        The Axes: one scatter collection per hue value and one fitted line.
    """
    ax = _axes(ax)
    _require_columns(summary, [x, y])
    for key, g in _groups(summary, hue):
        ax.scatter(g[x], g[y], s=22, color=algo_color(str(key)), label=key, alpha=0.85)
    xs = summary[x].to_numpy(dtype=np.float64)
    ys = summary[y].to_numpy(dtype=np.float64)
    if xs.size >= 2 and np.ptp(xs) > 0:
        slope, icpt = np.polyfit(xs, ys, 1)
        grid = np.linspace(xs.min(), xs.max(), 2)
        ax.plot(grid, slope * grid + icpt, color="black", lw=1, alpha=0.6)
    if corr is not None:
        sym = "r" if corr["method"] == "pearson" else "ρ"
        ax.set_title(f"{sym} = {corr['r']:.2f}  [{corr['lo']:.2f}, {corr['hi']:.2f}] "
                     f"({int(corr['level'] * 100)}% bootstrap CI, n = {corr['n']})")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax


def plot_controller_trace(df: pd.DataFrame, param: str, entropy: str = "entropy",
                          step: str = "step", target: float | None = None, color=None, ax=None):
    """A controller's parameter (left axis) and the entropy it steers (right axis, twin), seed
    means over steps; ``target`` draws the controller's entropy target as a dotted line.

    Returns:
        The left Axes (parameter line); the twin holding the entropy line is ``ax.twin``.
    """
    ax = _axes(ax)
    _require_columns(df, [param, entropy, step])
    m = df.groupby(step, sort=True)[[param, entropy]].mean()
    ax.plot(m.index, m[param], color=color or "#444444", label=param)
    ax.set_ylabel(param)
    ax.set_xlabel(step)
    twin = ax.twinx()
    twin.plot(m.index, m[entropy], color="#1f77b4", alpha=0.8, label=entropy)
    if target is not None:
        twin.axhline(target, color="#1f77b4", linestyle=":", lw=1)
    twin.set_ylabel(entropy, color="#1f77b4")
    twin.grid(False)
    ax.twin = twin
    return ax
