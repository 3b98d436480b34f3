"""Figure 2 — token-averaged entropy along training for every algorithm on the calibrated token
tree (seed mean ± standard error), from the shared sweep of figures 2–5 (``_runs.py``).

Reading: on a calibrated problem every group-normalised method lowers the entropy (Theorem 1's
sign law); how far and how fast it falls, per algorithm, is the comparison the paper draws.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import require, require_finite, save, setup
from _runs import ALGORITHMS, describe_training, tree_sweep

from entropy_lab.analysis.plots_dynamics import plot_trajectories

BAND = "sem"


def main() -> None:
    setup()
    runs = tree_sweep()["runs"]
    require(set(runs["algorithm"]) == set(ALGORITHMS), "the sweep is missing algorithms")
    require_finite("entropy", runs["entropy"])
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    plot_trajectories(runs, y="entropy", hue="algorithm", band=BAND, ax=ax)
    ax.set_ylabel("token-averaged entropy (nats)")
    ax.set_title("Entropy along training on the calibrated token tree (mean ± s.e. over seeds)")
    ax.legend(ncol=3, loc="upper right")
    save(fig, "fig02_entropy_trajectories", note=describe_training())


if __name__ == "__main__":
    main()
