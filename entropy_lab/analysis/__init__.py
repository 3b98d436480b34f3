"""Metrics and plots on the DataFrames that the simulator and harness produce.

Plot functions take a DataFrame (or arrays) and an optional ``ax``, draw, and return the Axes;
they never save (figure scripts do). The shared style is :mod:`entropy_lab.analysis.style`.
"""

from entropy_lab.analysis.metrics import (
    band_exit_fraction,
    convergence_order,
    correlation,
    cumulative_entropy,
    final_summary,
    pass_at_k_curve,
    summarize,
)
from entropy_lab.analysis.plots_dynamics import (
    plot_controller_trace,
    plot_correlation,
    plot_passk_curves,
    plot_phase,
    plot_trajectories,
)
from entropy_lab.analysis.plots_theory import (
    plot_convergence,
    plot_entropy_bounds,
    plot_fraction_bars,
    plot_pred_vs_exact,
    plot_ratio_bias,
)
from entropy_lab.passk import pass_at_k

__all__ = [
    "band_exit_fraction",
    "convergence_order",
    "correlation",
    "cumulative_entropy",
    "final_summary",
    "pass_at_k",
    "pass_at_k_curve",
    "plot_controller_trace",
    "plot_convergence",
    "plot_correlation",
    "plot_entropy_bounds",
    "plot_fraction_bars",
    "plot_passk_curves",
    "plot_phase",
    "plot_pred_vs_exact",
    "plot_ratio_bias",
    "plot_trajectories",
    "summarize",
]
