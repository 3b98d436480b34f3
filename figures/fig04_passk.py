"""Figure 4 — exact pass@k for k = 1..64 before training (dashed) and after training (solid),
per algorithm, from the policies' exact success probabilities (pass@k = 1 − (1 − p)^k).

Reading: collapse trades breadth for reliability: pass@1 rises, and where a trained curve falls
below the initial one at large k, training has lost answers the initial policy could sample.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import require, require_finite, save, setup
from _runs import PASSK_KS, describe_training, tree_sweep

from entropy_lab.analysis.plots_dynamics import plot_passk_curves


def main() -> None:
    setup()
    passk = tree_sweep()["passk"]
    require_finite("pass@k", passk["pass"])
    require(set(passk["k"]) == set(PASSK_KS), "pass@k rows miss some k")
    mean = passk.groupby(["algorithm", "stage", "k"], sort=False)["pass"].mean().reset_index()
    fig, (ax_full, ax_zoom) = plt.subplots(1, 2, figsize=(11.5, 4.4))
    for ax in (ax_full, ax_zoom):
        plot_passk_curves(mean, k="k", value="pass", hue="algorithm", stage="stage", ax=ax)
    ax_full.set_title("pass@k before (dashed) and after training (seed mean)")
    ax_full.legend(ncol=2, loc="lower right")
    ax_zoom.set_ylim(max(0.0, mean.loc[mean["k"] >= 16, "pass"].min() - 0.02), 1.002)
    ax_zoom.set_xlim(16, 64)
    ax_zoom.set_title("zoom on k = 16..64")
    save(fig, "fig04_passk", note=describe_training())


if __name__ == "__main__":
    main()
