"""Trade-off fronts: each method's (J, H) points along its own knob, their Pareto front, and the
decision rule "X's front dominates the baseline's at matched J" (docs/worlds.md, "Trade-off
fronts").

Points. One point per (method, knob value): J = the mean over seeds of the final exact expected
reward, H = the mean of an entropy measure where higher is better (final token entropy, H/H_0 or
H/H_max(J)), each with its standard error over seeds σ/√n (ddof 1). A point table is a DataFrame
with columns ``J``, ``J_se``, ``H``, ``H_se`` (the names are arguments) and any labels.

Pareto front (both J and H maximised): the points no other point dominates, where q dominates p
if J_q ≥ J_p and H_q ≥ H_p with one inequality strict. Sorted by J ascending its H strictly
decreases, so the front is a function H(J) on [min J, max J].

Interpolation between front points i and i+1 (w = (J − J_i)/(J_{i+1} − J_i)):

    H(J)     = (1 − w) H_i + w H_{i+1}
    SE_H(J)² = (1 − w)² se_H,i² + w² se_H,i+1² + (s · SE_J(J))²,
    SE_J(J)² = (1 − w)² se_J,i² + w² se_J,i+1²,       s = (H_{i+1} − H_i)/(J_{i+1} − J_i),

the last term moving the uncertainty of where a point lies along J into H through the front's
slope. Points are treated as independent (runs of different knob values use separate replicas).
A one-point front is defined at its J only.

Dominance (:func:`dominance`). The overlap of two fronts is [lo, hi] = [max(min J_X, min J_B),
min(max J_X, max J_B)]. With lo > hi the comparison is undecided ("no overlap"). Otherwise, on
``n_grid`` evenly spaced J in [lo, hi] (one J when lo = hi):

    d(J) = H_X(J) − H_B(J),   s(J) = √(SE_X(J)² + SE_B(J)²),
    X dominates B  ⟺  d(J) > z·s(J) at every grid J        (z = 2 by default),
    B dominates X  ⟺  d(J) < −z·s(J) at every grid J,   else "mixed".

Entropy ceiling: where the problem defines H_max(J) (``docs/theory.md``, "Entropy ceiling
H_max(J)"), the fronts' entropies at the grid J are also reported as H(J)/H_max(J).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from entropy_lab.validation import InputError, check_number

VERDICTS = ("dominates", "dominated", "mixed", "no overlap")


def _require(df: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"columns {missing} are not in the frame: it has "
                         f"{sorted(map(str, df.columns))}")


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=np.float64)
    se = float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
    return float(x.mean()), se


def front_points(frame: pd.DataFrame, by: Sequence[str], steps: Sequence[int] | None = None,
                 seed: str = "seed") -> pd.DataFrame:
    """Mean ± SE over seeds of J and the entropy measures, per group of ``by`` and step.

    Args:
        frame: a tidy per-(seed, step) simulator frame with columns ``by``, ``step``, ``seed``,
            ``J``, ``entropy`` (and ``H_max`` where the problem defines the ceiling).
        by: label columns that name a point's method and knob value.
        steps: the steps to read (each gives a point: a checkpoint); None = each group's last.
    Returns:
        One row per (group, step): the ``by`` values, ``step``, ``seeds``, ``J``, ``J_se``,
        ``H``, ``H_se`` (final token entropy), ``H_ratio``, ``H_ratio_se`` (H/H_0, H_0 = the
        seed's step-0 entropy) and, with ``H_max``, ``H_ceil``, ``H_ceil_se`` (H/H_max(J) per
        seed at its own J).
    """
    by = list(by)
    _require(frame, [*by, "step", seed, "J", "entropy"])
    rows = []
    for key, grp in frame.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        h0 = grp[grp["step"] == 0].set_index(seed)["entropy"]
        for step in ([int(grp["step"].max())] if steps is None else [int(s) for s in steps]):
            at = grp[grp["step"] == step].set_index(seed).sort_index()
            if at.empty:
                raise InputError(f"step={step} is not in the frame for {dict(zip(by, key))}: "
                                 f"it has steps 0..{int(grp['step'].max())}")
            row = dict(zip(by, key), step=step, seeds=len(at))
            row["J"], row["J_se"] = _mean_se(at["J"])
            row["H"], row["H_se"] = _mean_se(at["entropy"])
            row["H_ratio"], row["H_ratio_se"] = _mean_se(at["entropy"] / h0.loc[at.index])
            if "H_max" in at:
                row["H_ceil"], row["H_ceil_se"] = _mean_se(at["entropy"] / at["H_max"])
            rows.append(row)
    return pd.DataFrame(rows)


def pareto_front(points: pd.DataFrame, j: str = "J", h: str = "H") -> pd.DataFrame:
    """The points of ``points`` no other point dominates (J and H both maximised), sorted by J
    ascending (so H strictly decreasing); exact duplicates are kept once.

    Raises:
        InputError: missing columns, no points, or a non-finite J or H.
    """
    _require(points, [j, h])
    if points.empty:
        raise InputError("points is empty: a front needs at least one point")
    jv, hv = points[j].to_numpy(np.float64), points[h].to_numpy(np.float64)
    if not (np.isfinite(jv).all() and np.isfinite(hv).all()):
        raise InputError(f"points has non-finite {j} or {h}: {points[[j, h]].to_dict('list')}")
    # Sort by J descending (ties: H descending); a point is on the front iff its H beats every
    # H seen so far, i.e. every point with J at least its own.
    order = np.lexsort((-hv, -jv))
    keep, best = [], -np.inf
    for i in order:
        if hv[i] > best:
            keep.append(i)
            best = hv[i]
    return points.iloc[keep[::-1]].reset_index(drop=True)


def interpolate(front: pd.DataFrame, j_at, j: str = "J", h: str = "H", j_se: str = "J_se",
                h_se: str = "H_se") -> tuple[np.ndarray, np.ndarray]:
    """The front's H(J) and SE_H(J) at each J of ``j_at`` (module docstring's formula).

    Args:
        front: a :func:`pareto_front` (sorted by J, strictly increasing).
        j_at: ``[M]`` J values inside [min J, max J] of the front.
    Returns:
        (H ``[M]``, SE ``[M]``).
    Raises:
        InputError: a J outside the front's range, or a front not sorted by strictly
            increasing J.
    """
    _require(front, [j, h, j_se, h_se])
    jv = front[j].to_numpy(np.float64)
    hv, hs = front[h].to_numpy(np.float64), front[h_se].to_numpy(np.float64)
    js = front[j_se].to_numpy(np.float64)
    x = np.atleast_1d(np.asarray(j_at, dtype=np.float64))
    if len(jv) > 1 and not (np.diff(jv) > 0).all():
        raise InputError(f"front[{j!r}] = {jv.tolist()} is not strictly increasing: pass a "
                         "pareto_front")
    tol = 1e-12 * max(1.0, float(np.abs(jv).max()))
    if (x < jv[0] - tol).any() or (x > jv[-1] + tol).any():
        raise InputError(f"j_at = {x.tolist()} leaves the front's J range "
                         f"[{jv[0]:.6g}, {jv[-1]:.6g}]")
    if len(jv) == 1:
        return np.full_like(x, hv[0]), np.full_like(x, hs[0])
    i = np.clip(np.searchsorted(jv, x, side="right") - 1, 0, len(jv) - 2)
    w = np.clip((x - jv[i]) / (jv[i + 1] - jv[i]), 0.0, 1.0)
    slope = (hv[i + 1] - hv[i]) / (jv[i + 1] - jv[i])
    h_at = (1 - w) * hv[i] + w * hv[i + 1]
    var_h = (1 - w) ** 2 * hs[i] ** 2 + w**2 * hs[i + 1] ** 2
    var_j = (1 - w) ** 2 * js[i] ** 2 + w**2 * js[i + 1] ** 2
    return h_at, np.sqrt(var_h + slope**2 * var_j)


@dataclass(frozen=True)
class Dominance:
    """The result of :func:`dominance` of front X over front B.

    Attributes:
        verdict: "dominates" (X above B by > z SE at every grid J), "dominated" (below by
            > z SE everywhere), "mixed" or "no overlap".
        lo, hi: the J overlap (lo > hi when there is none).
        j_grid, h_x, h_b, se_x, se_b: ``[M]`` grid and each front's H ± SE on it (empty
            without overlap).
        z: the SE multiple of the rule.
        ceiling: ``[M]`` H_max(J) on the grid, or None.
    """

    verdict: str
    lo: float
    hi: float
    j_grid: np.ndarray
    h_x: np.ndarray
    h_b: np.ndarray
    se_x: np.ndarray
    se_b: np.ndarray
    z: float
    ceiling: np.ndarray | None = None

    @property
    def diff(self) -> np.ndarray:
        """``[M]`` d(J) = H_X(J) − H_B(J)."""
        return self.h_x - self.h_b

    @property
    def se(self) -> np.ndarray:
        """``[M]`` s(J) = √(SE_X² + SE_B²)."""
        return np.sqrt(self.se_x**2 + self.se_b**2)

    @property
    def share_above(self) -> float:
        """Share of the grid where d > z·s (nan without overlap)."""
        return float(np.mean(self.diff > self.z * self.se)) if self.j_grid.size else float("nan")

    @property
    def min_z(self) -> float:
        """min over the grid of d/s: X dominates iff min_z > z (nan without overlap)."""
        return float(np.min(self.diff / self.se)) if self.j_grid.size else float("nan")

    def summary(self) -> dict:
        """Scalars for a ledger: verdict, overlap, min and max of d, its SE where d is
        smallest, min_z, share_above, and (with a ceiling) H/H_max of both fronts at the
        overlap's ends."""
        out = {"verdict": self.verdict, "J_lo": self.lo, "J_hi": self.hi}
        if not self.j_grid.size:
            return out
        k = int(np.argmin(self.diff / self.se))
        out.update({"diff_min": float(self.diff.min()), "diff_max": float(self.diff.max()),
                    "diff_at_min_z": float(self.diff[k]), "se_at_min_z": float(self.se[k]),
                    "J_at_min_z": float(self.j_grid[k]), "min_z": self.min_z,
                    "share_above": self.share_above})
        if self.ceiling is not None:
            for name, i in (("lo", 0), ("hi", -1)):
                out[f"x_over_Hmax_at_J_{name}"] = float(self.h_x[i] / self.ceiling[i])
                out[f"b_over_Hmax_at_J_{name}"] = float(self.h_b[i] / self.ceiling[i])
        return out


def dominance(front_x: pd.DataFrame, front_b: pd.DataFrame, z: float = 2.0, n_grid: int = 21,
              ceiling: Callable[[np.ndarray], np.ndarray] | None = None, j: str = "J",
              h: str = "H", j_se: str = "J_se", h_se: str = "H_se") -> Dominance:
    """Does front X dominate front B at matched J? (the rule in the module docstring).

    Args:
        front_x, front_b: :func:`pareto_front` tables (or point tables: their fronts are taken).
        z: the SE multiple (> 0).
        n_grid: grid size over the overlap (>= 2; one J when the overlap is a point).
        ceiling: J ``[M]`` -> H_max(J) ``[M]``, to report H/H_max on the grid (None: not).
    Returns:
        :class:`Dominance`.
    """
    check_number("z", z, lo=0.0, lo_open=True)
    check_number("n_grid", n_grid, lo=2, integer=True)
    fx, fb = pareto_front(front_x, j, h), pareto_front(front_b, j, h)
    lo = max(float(fx[j].min()), float(fb[j].min()))
    hi = min(float(fx[j].max()), float(fb[j].max()))
    if lo > hi:
        empty = np.empty(0)
        return Dominance("no overlap", lo, hi, empty, empty, empty, empty, empty, float(z))
    grid = np.array([lo]) if lo == hi else np.linspace(lo, hi, int(n_grid))
    hx, sx = interpolate(fx, grid, j, h, j_se, h_se)
    hb, sb = interpolate(fb, grid, j, h, j_se, h_se)
    d, s = hx - hb, np.sqrt(sx**2 + sb**2)
    verdict = ("dominates" if (d > z * s).all() else
               "dominated" if (d < -z * s).all() else "mixed")
    ceil = None if ceiling is None else np.asarray(ceiling(grid), dtype=np.float64)
    return Dominance(verdict, lo, hi, grid, hx, hb, sx, sb, float(z), ceil)
