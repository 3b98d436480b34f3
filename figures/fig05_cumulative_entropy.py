"""Figure 5 — cumulative entropy over training against final performance, in two worlds, with
Pearson's r and its 95% percentile-bootstrap interval (``analysis.metrics.correlation``).

(a), (b) Tabular world: the calibrated token tree (shared sweep of figures 2–5, ``_runs.py``),
    one point per (algorithm, seed), Σ_t H_t against the final J and exact pass@8 (means of
    the last ``LAST`` steps); pass@8 is saturated at 1 for most runs, and the runs that learned
    slowest (RLOO, GSPO) kept the most entropy, so r < 0 for both.
(c), (d) Shared-parameter world of ``claim11_cum_entropy_shared``
    (``paper_checks/_shared_world.py``: cbandit/anti, 64 contexts × 16 arms, lowrank rank 4,
    Adam 0.05, N×G = 16×8, preset schedules), the check's quantities: C = Σ_{t=1..T} H_t
    against the final exact J and pass@256, one point per algorithm (seed mean ± 1 s.e. both
    ways; r and its CI over these means, the check's decision quantity, in the title), and each
    knob as a path through its values' seed means (DAPO ε_high, entropy-bonus coefficient,
    REPO-R ζ_max; r over the values in the legend, reported by the check, not judged). The knob
    runs draw their own seeds (one run holds every value as replicas), so a knob's default
    value need not sit on its algorithm's point.

Reading: across algorithms in the shared world the sign depends on the metric: runs that kept
more entropy ended with lower J but higher pass@256; along each algorithm's own knob more
entropy goes with both higher J and higher pass@256.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
from _common import require, require_finite, save, setup
from _mechanism_runs import K_LARGE, KNOB_VALUES, SHARED_ALGORITHMS, describe_shared, shared_sweep
from _runs import describe_training, tree_sweep

from entropy_lab.analysis.metrics import correlation, final_summary
from entropy_lab.analysis.plots_dynamics import plot_correlation
from entropy_lab.analysis.style import algo_color

PERFORMANCE = ("J", "pass@8")   # tabular world: final expected reward, and exact pass@8
LAST = 5                        # tabular world: final steps averaged
SHARED_METRICS = ("J", f"pass@{K_LARGE}")   # shared world: at the last step, as the check
N_BOOT = 2000                   # bootstrap resamples (the check's)
KNOB_LABELS = {"dapo/eps_high": "dapo ε_high", "entropy_bonus/entropy_coef": "entropy bonus coef",
               "repo_r/zeta_max": "repo_r ζ_max"}
KNOB_MARKERS = {"dapo/eps_high": "^", "entropy_bonus/entropy_coef": "s",
                "repo_r/zeta_max": "D"}


def _tabular_panels(axes) -> None:
    runs = tree_sweep()["runs"]
    summary = final_summary(runs, by=("algorithm",), values=PERFORMANCE, last=LAST)
    require(len(summary) >= 3, f"only {len(summary)} runs to correlate")
    for ax, perf, tag in zip(axes, PERFORMANCE, "ab"):
        require_finite(perf, summary[perf])
        corr = correlation(summary["cum_entropy"], summary[perf], n_boot=N_BOOT)
        plot_correlation(summary, x="cum_entropy", y=perf, hue="algorithm", corr=corr, ax=ax)
        ax.set_title(f"({tag}) tabular world, per run: {ax.get_title()}", fontsize=9)
        ax.set_xlabel("cumulative entropy Σ_t H_t")
        ax.set_ylabel(f"final {perf} (mean of last {LAST} steps)")
    axes[0].legend(ncol=2, fontsize=7)


def _algorithm_means(runs):
    """One row per algorithm: seed mean and s.e. of cum_entropy and SHARED_METRICS at the end."""
    last = runs[runs["step"] == runs["step"].max()]
    cols = ["cum_entropy", *SHARED_METRICS]
    g = last.groupby("algorithm")[cols]
    mean, se = g.mean(), g.std(ddof=1) / g.count().map(math.sqrt)
    # the check's order, so the bootstrap (seeded, order-dependent) gives the check's interval
    order = [a for a in SHARED_ALGORITHMS if a in mean.index]
    return mean.join(se.add_suffix("_se")).loc[order].reset_index()


def _shared_panels(axes) -> None:
    sweep = shared_sweep()
    runs = sweep["runs"][sweep["runs"]["policy"] == "lowrank"]
    knobs = sweep["knobs"]
    means = _algorithm_means(runs)
    require(set(means["algorithm"]) == set(SHARED_ALGORITHMS), "the shared sweep misses "
                                                                "algorithms")
    require_finite("shared-world knob points", knobs[["cum", *SHARED_METRICS]])
    for ax, metric, tag in zip(axes, SHARED_METRICS, "cd"):
        require_finite(f"shared-world {metric}", means[[metric, "cum_entropy"]])
        corr = correlation(means["cum_entropy"], means[metric], n_boot=N_BOOT)
        plot_correlation(means, x="cum_entropy", y=metric, hue="algorithm", corr=corr, ax=ax)
        ax.set_title(f"({tag}) shared world, across algorithm means:\n{ax.get_title()}",
                     fontsize=9)
        for _, row in means.iterrows():
            ax.errorbar(row["cum_entropy"], row[metric], xerr=row["cum_entropy_se"],
                        yerr=row[f"{metric}_se"], color=algo_color(row["algorithm"]), lw=0.9,
                        capsize=0, fmt="none")
        algorithms = ax.get_legend_handles_labels()
        knob_lines = []
        for name, values in KNOB_VALUES.items():
            k = knobs[knobs["knob"] == name].sort_values("index")
            require(len(k) == len(values), f"knob {name} has {len(k)} of {len(values)} points")
            r = correlation(k["cum"], k[metric], n_boot=N_BOOT)["r"]
            knob_lines += ax.plot(k["cum"], k[metric], linestyle="--", marker=KNOB_MARKERS[name],
                                  ms=4, lw=1, color=algo_color(name.split("/")[0]), alpha=0.8,
                                  label=f"knob {KNOB_LABELS[name]} {values[0]:g}→{values[-1]:g}:"
                                        f" r {r:+.2f}")
        ax.legend(handles=knob_lines, fontsize=7, loc="upper right" if tag == "c" else
                  "lower right")
        ax.set_xlabel("cumulative entropy Σ_t H_t (t = 1..T)")
        ax.set_ylabel(f"final exact {metric} (last step)")
    axes[-1].figure.legend(*algorithms, loc="center left", bbox_to_anchor=(0.91, 0.28),
                           fontsize=7, title="algorithm (c, d)", title_fontsize=7)


def main() -> None:
    setup()
    fig, axes = plt.subplots(2, 2, figsize=(12.5, 9.0), gridspec_kw={"hspace": 0.35})
    _tabular_panels(axes[0])
    _shared_panels(axes[1])
    fig.suptitle("Cumulative entropy against final performance (Pearson r, 95% bootstrap CI)",
                 fontsize=11)
    save(fig, "fig05_cumulative_entropy",
         note=f"(a, b) {describe_training()}\n(c, d) {describe_shared()}")


if __name__ == "__main__":
    main()
