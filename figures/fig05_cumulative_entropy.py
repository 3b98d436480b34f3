"""Figure 5 — cumulative entropy over training (Σ_t H_t) against final performance, one point per
(algorithm, seed), with Pearson's r and its 95% bootstrap interval, from the shared sweep.

Reading: a positive r says runs that kept more entropy ended better (the paper's claim); a
negative r says, at this scale, the runs that learned fastest spent the least entropy.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import require, require_finite, save, setup
from _runs import describe_training, tree_sweep

from entropy_lab.analysis.metrics import correlation, final_summary
from entropy_lab.analysis.plots_dynamics import plot_correlation

PERFORMANCE = ("J", "pass@8")   # final expected reward, and exact pass@8
LAST = 5                        # final steps averaged
N_BOOT = 2000


def main() -> None:
    setup()
    runs = tree_sweep()["runs"]
    summary = final_summary(runs, by=("algorithm",), values=PERFORMANCE, last=LAST)
    require(len(summary) >= 3, f"only {len(summary)} runs to correlate")
    fig, axes = plt.subplots(1, len(PERFORMANCE), figsize=(11.5, 4.4))
    for ax, perf in zip(axes, PERFORMANCE):
        require_finite(perf, summary[perf])
        corr = correlation(summary["cum_entropy"], summary[perf], n_boot=N_BOOT)
        plot_correlation(summary, x="cum_entropy", y=perf, hue="algorithm", corr=corr, ax=ax)
        ax.set_xlabel("cumulative entropy Σ_t H_t")
        ax.set_ylabel(f"final {perf} (mean of last {LAST} steps)")
    axes[0].legend(ncol=2, fontsize=7)
    save(fig, "fig05_cumulative_entropy", note=describe_training())


if __name__ == "__main__":
    main()
