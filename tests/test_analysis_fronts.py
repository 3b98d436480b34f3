"""Trade-off fronts (entropy_lab/analysis/fronts.py) on hand-made points: the Pareto front, the
interpolation and its SE, the dominance rule at its threshold, the per-seed point table."""

import math

import numpy as np
import pandas as pd
import pytest

from entropy_lab.analysis.fronts import dominance, front_points, interpolate, pareto_front
from entropy_lab.validation import InputError


def pts(rows, se=0.1, j_se=0.0):
    """Points [(J, H), ...] with one H SE and one J SE."""
    return pd.DataFrame([{"J": a, "H": b, "J_se": j_se, "H_se": se} for a, b in rows])


def test_pareto_front_drops_dominated_points_and_sorts_by_j():
    # (0.4, 3) is dominated by (0.5, 4); (0.9, 0.5) by (0.9, 1); (0.3, 2) by both (0.5, 4)
    # and (0.4, 3); the duplicate (0.5, 4) is kept once.
    p = pts([(0.9, 1.0), (0.1, 5.0), (0.4, 3.0), (0.5, 4.0), (0.9, 0.5), (0.3, 2.0),
             (0.95, 0.2), (0.5, 4.0)])
    f = pareto_front(p)
    assert f["J"].tolist() == [0.1, 0.5, 0.9, 0.95]
    assert f["H"].tolist() == [5.0, 4.0, 1.0, 0.2]


def test_pareto_front_of_one_point_and_bad_input():
    assert pareto_front(pts([(0.3, 1.0)]))["J"].tolist() == [0.3]
    with pytest.raises(InputError, match="empty"):
        pareto_front(pts([]).reindex(columns=["J", "H"]))
    with pytest.raises(InputError, match="non-finite"):
        pareto_front(pts([(0.3, float("nan"))]))
    with pytest.raises(InputError, match="not in the frame"):
        pareto_front(pd.DataFrame({"J": [0.1]}))


def test_interpolation_and_its_standard_error():
    # Front (0, 10) → (1, 0), H SE 1 at both ends. At J = 0.5: H = 5,
    # SE_H² = 0.25 + 0.25 = 0.5. With J SE 0.1 at both ends, SE_J² = 0.25·0.01·2 = 0.005 and
    # the slope −10 adds 100·0.005 = 0.5: SE = 1.
    f = pareto_front(pts([(0.0, 10.0), (1.0, 0.0)], se=1.0))
    h, se = interpolate(f, [0.0, 0.5, 1.0])
    assert np.allclose(h, [10.0, 5.0, 0.0]) and np.allclose(se, [1.0, math.sqrt(0.5), 1.0])
    h, se = interpolate(pareto_front(pts([(0.0, 10.0), (1.0, 0.0)], se=1.0, j_se=0.1)), [0.5])
    assert np.allclose(h, [5.0]) and np.allclose(se, [1.0])
    with pytest.raises(InputError, match="leaves the front's J range"):
        interpolate(f, [1.2])
    with pytest.raises(InputError, match="strictly increasing"):
        interpolate(pts([(1.0, 0.0), (0.0, 10.0)]), [0.5])


B = [(0.0, 5.0), (1.0, 1.0)]  # the baseline: H_B(J) = 5 − 4J


def test_dominance_above_below_crossing():
    # X: (0.2, 6) → (0.8, 4). Overlap [0.2, 0.8]; H_B = 4.2 and 1.8 at its ends, so
    # d = 1.8 … 2.2, far above 2·√(0.1² + 0.1²) = 0.28.
    x = pts([(0.2, 6.0), (0.8, 4.0)])
    d = dominance(x, pts(B), n_grid=7)
    assert d.verdict == "dominates" and (d.lo, d.hi) == (0.2, 0.8)
    assert np.allclose(d.diff[[0, -1]], [1.8, 2.2]) and d.share_above == 1.0
    assert dominance(pts(B), x).verdict == "dominated"
    # X from (0.2, 3.5) to (0.8, 3) crosses the baseline: d = −0.7 at J = 0.2, +1.2 at 0.8.
    cross = dominance(pts([(0.2, 3.5), (0.8, 3.0)]), pts(B), n_grid=7)
    assert np.allclose(cross.diff[[0, -1]], [-0.7, 1.2])
    assert cross.verdict == "mixed" and 0 < cross.share_above < 1


def test_dominance_threshold_is_z_standard_errors():
    # One X point at J = 0.5, where H_B = 3; s = √(0.1² + 0.1²) = 0.1414 (the baseline's
    # interpolated SE at the midpoint is √(0.25·0.01·2) = 0.0707, so s = √(0.01 + 0.005)).
    s = math.sqrt(0.01 + 0.005)
    x = pts([(0.5, 3.0 + 2.1 * s)])
    d = dominance(x, pts(B))
    assert d.j_grid.tolist() == [0.5] and d.verdict == "dominates"
    assert math.isclose(d.min_z, 2.1, rel_tol=1e-9)
    assert dominance(x, pts(B), z=2.2).verdict == "mixed"
    assert dominance(pts([(0.5, 3.0 - 2.1 * s)]), pts(B)).verdict == "dominated"


def test_no_overlap_and_the_ceiling_ratio():
    d = dominance(pts([(0.2, 9.0), (0.3, 8.0)]), pts([(0.5, 1.0), (0.9, 0.5)]))
    assert d.verdict == "no overlap" and d.j_grid.size == 0 and math.isnan(d.min_z)
    assert d.summary() == {"verdict": "no overlap", "J_lo": 0.5, "J_hi": 0.3}
    d = dominance(pts([(0.2, 6.0), (0.8, 4.0)]), pts(B), ceiling=lambda j: 10.0 - 5.0 * j)
    s = d.summary()
    assert math.isclose(s["x_over_Hmax_at_J_lo"], 6.0 / 9.0)
    assert math.isclose(s["b_over_Hmax_at_J_hi"], 1.8 / 6.0)


def test_front_points_mean_and_se_over_seeds():
    # Two seeds, steps 0 and 2. Step 2: J = (0.6, 0.8) -> 0.7 ± 0.1; H = (1, 3) -> 2 ± 1;
    # H/H_0 with H_0 = (2, 4): (0.5, 0.75) -> 0.625 ± 0.125; H/H_max with H_max = (2, 6):
    # (0.5, 0.5) -> 0.5 ± 0.
    frame = pd.DataFrame({
        "algo": ["a"] * 4, "seed": [0, 1, 0, 1], "step": [0, 0, 2, 2],
        "J": [0.1, 0.2, 0.6, 0.8], "entropy": [2.0, 4.0, 1.0, 3.0], "H_max": [9, 9, 2.0, 6.0]})
    p = front_points(frame, by=["algo"])
    row = p.iloc[0]
    assert row["step"] == 2 and row["seeds"] == 2
    assert np.allclose(row[["J", "J_se", "H", "H_se"]].to_numpy(float), [0.7, 0.1, 2.0, 1.0])
    assert np.allclose(row[["H_ratio", "H_ratio_se"]].to_numpy(float), [0.625, 0.125])
    assert np.allclose(row[["H_ceil", "H_ceil_se"]].to_numpy(float), [0.5, 0.0])
    both = front_points(frame, by=["algo"], steps=[0, 2])
    assert both["step"].tolist() == [0, 2] and np.isclose(both["H_ratio"].iloc[0], 1.0)
    with pytest.raises(InputError, match="step=5"):
        front_points(frame, by=["algo"], steps=[5])
