"""Smoke tests for the plot functions: each returns an Axes and draws the expected number of
lines / points / bars on a tiny frame, and never saves."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from entropy_lab.analysis import plots_dynamics as D  # noqa: E402
from entropy_lab.analysis import plots_theory as T  # noqa: E402
from entropy_lab.validation import InputError  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _runs(seeds=2):
    rows = []
    for algo in ("grpo", "repo_r", "dapo"):
        for seed in range(seeds):
            for step in range(5):
                rows.append({"algorithm": algo, "seed": seed, "step": step,
                             "entropy": 2.0 - 0.1 * step + 0.05 * seed, "J": 0.1 * step,
                             "zeta": 1e-3 * 2**step})
    return pd.DataFrame(rows)


def test_plot_trajectories_one_line_and_band_per_algorithm():
    ax = D.plot_trajectories(_runs(), y="entropy")
    assert isinstance(ax, plt.Axes)
    assert len(ax.lines) == 3 and len(ax.collections) == 3
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 2.0 - 0.1 * np.arange(5) + 0.025)
    assert [t.get_text() for t in ax.legend().get_texts()] == ["grpo", "repo_r", "dapo"]


def test_plot_trajectories_single_seed_has_no_band_and_reuses_axes():
    fig, ax = plt.subplots()
    out = D.plot_trajectories(_runs(seeds=1), hue=None, ax=ax, band="sem")
    assert out is ax and len(ax.lines) == 1 and len(ax.collections) == 0


def test_plot_trajectories_colours_follow_algorithms_or_override():
    from matplotlib.colors import to_hex

    from entropy_lab.analysis.style import algo_color

    ax = D.plot_trajectories(_runs(), y="entropy")
    assert [to_hex(line.get_color()) for line in ax.lines] == [
        algo_color(a) for a in ("grpo", "repo_r", "dapo")]
    ax2 = D.plot_trajectories(_runs(), y="entropy", color="#000000", linestyle="--")
    assert {to_hex(line.get_color()) for line in ax2.lines} == {"#000000"}
    assert {line.get_linestyle() for line in ax2.lines} == {"--"}


def test_plot_phase_path_and_markers():
    ax = D.plot_phase(_runs(), x="entropy", y="J")
    assert len(ax.lines) == 9  # path + start + end per algorithm
    assert len(ax.lines[0].get_xdata()) == 5


def _passk(shared_before=True):
    rows = []
    for algo, shift in (("grpo", 0.0), ("repo_r", 0.1)):
        for k in (1, 2, 4, 8):
            before = 1 - 0.8**k + (0 if shared_before else shift / 10)
            rows.append({"algorithm": algo, "stage": "before", "k": k, "pass": before})
            rows.append({"algorithm": algo, "stage": "after", "k": k, "pass": 1 - (0.7 - shift)**k})
    return pd.DataFrame(rows)


def test_plot_passk_curves_draws_shared_before_once():
    ax = D.plot_passk_curves(_passk())
    assert len(ax.lines) == 3 and ax.get_xscale() == "log"


def test_plot_passk_curves_distinct_before_per_algorithm():
    ax = D.plot_passk_curves(_passk(shared_before=False))
    assert len(ax.lines) == 4


def test_plot_correlation_points_fit_and_title():
    summary = pd.DataFrame({"algorithm": ["a", "a", "b", "b"], "cum_entropy": [1.0, 2, 3, 4],
                            "J": [0.1, 0.2, 0.25, 0.5]})
    corr = {"r": 0.9, "lo": 0.5, "hi": 1.0, "n": 4, "method": "pearson", "level": 0.95}
    ax = D.plot_correlation(summary, corr=corr)
    assert len(ax.collections) == 2
    assert sum(c.get_offsets().shape[0] for c in ax.collections) == 4
    assert len(ax.lines) == 1 and "r = 0.90" in ax.get_title()


def test_plot_controller_trace_twin_axis():
    df = _runs()
    ax = D.plot_controller_trace(df[df.algorithm == "repo_r"], "zeta", target=2.0)
    assert len(ax.lines) == 1 and len(ax.twin.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 1e-3 * 2.0 ** np.arange(5))


def test_plot_pred_vs_exact_scatter_and_identity():
    df = pd.DataFrame({"dH_pred": [0.1, -0.2, 0.3], "dH_exact": [0.11, -0.19, 0.31],
                       "problem": ["a", "a", "b"]})
    ax = T.plot_pred_vs_exact(df, hue="problem")
    assert len(ax.collections) == 2 and len(ax.lines) == 1


def test_plot_convergence_slopes_in_legend():
    eta = np.logspace(-3, -1, 5)
    df = pd.DataFrame({"eta": np.concatenate([eta, eta]),
                       "error": np.concatenate([eta**2, 2 * eta**3]),
                       "case": ["sq"] * 5 + ["cube"] * 5})
    ax = T.plot_convergence(df, hue="case")
    assert len(ax.lines) == 4
    labels = [t.get_text() for t in ax.legend().get_texts()]
    assert labels == ["sq: slope 2.00", "cube: slope 3.00"]


def test_plot_entropy_bounds_pairs_and_forms():
    pairs = pd.DataFrame({"H": [1.0, 2.0, 0.5], "H_new": [0.9, 2.1, 0.3],
                          "violates_paper": [False, False, True]})
    h = np.linspace(0.1, 2.5, 10)
    bounds = pd.DataFrame({"H": h, "lo_paper": 0.8 * h, "hi_paper": 1.28 * h,
                           "lo_rigorous": 0.8 * h - np.log(1.28), "hi_rigorous": 1.28 * h})
    ax = T.plot_entropy_bounds(pairs, bounds)
    assert len(ax.collections) == 2 and len(ax.lines) == 4


def test_plot_ratio_bias_measured_and_predicted():
    rows = [{"logp_bin": b, "dtype": d, "measured": s * b**2, "predicted": s * b**2 * 1.1}
            for d, s in (("bf16", 1e-3), ("fp32", 1e-7)) for b in (-8.0, -4.0, -1.0)]
    ax = T.plot_ratio_bias(pd.DataFrame(rows))
    assert len(ax.lines) == 5 and ax.get_yscale() == "symlog"  # 2 dtypes × 2 + the zero line


def test_plot_ratio_bias_error_bars():
    rows = [{"logp_bin": b, "dtype": "bf16", "measured": 1e-3 * b, "se": 1e-4}
            for b in (-8.0, -4.0, -1.0)]
    ax = T.plot_ratio_bias(pd.DataFrame(rows), predicted=None, se="se", symlog=False)
    assert len(ax.lines) == 2 and len(ax.collections) == 1
    assert ax.get_yscale() == "linear"


def test_plot_fraction_bars_counts():
    df = pd.DataFrame({"algorithm": ["ppo", "dapo"], "left band": [0.3, 0.5],
                       "bound broken": [0.0, 0.01]})
    ax = T.plot_fraction_bars(df, "algorithm", ["left band", "bound broken"])
    assert len(ax.patches) == 4


def test_plots_name_missing_columns():
    with pytest.raises(InputError, match="nope"):
        D.plot_trajectories(_runs(), y="nope")
    with pytest.raises(InputError, match="H_new"):
        T.plot_entropy_bounds(pd.DataFrame({"H": [1.0]}), pd.DataFrame({"H": [1.0]}))
