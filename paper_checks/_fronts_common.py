"""Shared reading of the trade-off-front study for claims 5 and 14
(``entropy_lab.analysis.fronts_study``, ``entropy_lab.analysis.fronts``).

A full run reads the committed ``results/fronts/`` (``python -m entropy_lab.analysis.fronts_study
--out results/fronts``: 2 worlds × 33 knob points × 4 seeds × 40 steps); when it is absent, and
in a quick run, the study's quick grid (2 seeds × 3 steps, lr 0.01, no calibration) runs here,
once per process, and the verdict says so. Fronts: GRPO's from its checkpoints (the steps knob),
every other method's from its final points along its own knob, each the Pareto front of its
points (``entropy_lab.analysis.fronts.pareto_front``). Entropy measure: the final token entropy H
(``H``, ``H_se``); H/H_max(J) is reported beside it.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import pandas as pd

from entropy_lab.analysis.fronts import Dominance, dominance, pareto_front
from entropy_lab.project import project_root

FRONTS = Path(os.environ.get("ENTROPY_LAB_FRONTS") or project_root() / "results" / "fronts")
Z = 2.0          # the dominance rule's SE multiple
N_GRID = 21      # J grid over each overlap


@functools.lru_cache(maxsize=2)
def load(quick: bool) -> tuple[pd.DataFrame, dict, str]:
    """(points, {world: meta}, source): the committed study, or the quick grid run here."""
    from entropy_lab.analysis.fronts_study import read_points, run_study

    if not quick:
        try:
            pts, meta = read_points(FRONTS)
            return pts, meta, f"committed study {FRONTS.relative_to(project_root())}"
        except FileNotFoundError:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        run_study(tmp, quick=True)
        pts, meta = read_points(tmp)
    return pts, meta, "quick grid (2 seeds × 3 steps, lr 0.01; not a verdict)"


def method_points(pts: pd.DataFrame, world: str, method: str) -> pd.DataFrame:
    sel = pts[(pts["world"] == world) & (pts["method"] == method)]
    if sel.empty:
        raise ValueError(f"no points of {method!r} on {world!r} in the fronts study")
    return sel


def front(pts: pd.DataFrame, world: str, method: str) -> pd.DataFrame:
    return pareto_front(method_points(pts, world, method))


def compare(pts: pd.DataFrame, world: str, x: str, b: str) -> Dominance:
    """Front of ``x`` against front of ``b`` on ``world`` (H, z = Z), H_max on the grid."""
    from entropy_lab.analysis.fronts_study import ceiling_fn

    return dominance(front(pts, world, x), front(pts, world, b), z=Z, n_grid=N_GRID,
                     ceiling=ceiling_fn(world))


def world_line(meta: dict, world: str) -> str:
    m = meta[world]
    return (f"{world} ({m['problem']}, N×G = {m['n_prompts']}×{m['group_size']}, regime "
            f"{m['regime']} 1×16 Adam lr {m['lr']:.3g}, {m['seeds']} seeds × {m['steps']} steps)")


def dom_text(d: Dominance) -> str:
    if d.verdict == "no overlap":
        return f"no J overlap ({d.lo:.3f} > {d.hi:.3f})"
    s = d.summary()
    return (f"{d.verdict} on J ∈ [{d.lo:.3f}, {d.hi:.3f}], H diff {s['diff_min']:+.3f}…"
            f"{s['diff_max']:+.3f}, min {s['min_z']:.1f} SE, above by > {d.z:g} SE on "
            f"{s['share_above']:.0%} of it")
