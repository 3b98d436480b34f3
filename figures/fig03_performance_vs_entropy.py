"""Figure 3 — the paper's trajectory picture: expected reward J against entropy along training,
one path per algorithm (seed means; open circle = start, dot = end), from the shared sweep.

Reading: paths run from the high-entropy, low-reward start towards the low-entropy corner; a
method that preserves entropy reaches the same J further to the right.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import require_finite, save, setup
from _runs import describe_training, tree_sweep

from entropy_lab.analysis.plots_dynamics import plot_phase

PERFORMANCE = "J"   # exact expected reward (= pass@1 on this problem)


def main() -> None:
    setup()
    runs = tree_sweep()["runs"]
    require_finite("entropy and J", runs[["entropy", PERFORMANCE]])
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    plot_phase(runs, x="entropy", y=PERFORMANCE, hue="algorithm", ax=ax)
    ax.set_xlabel("token-averaged entropy (nats)")
    ax.set_ylabel("expected reward J (exact)")
    ax.set_title("Performance against entropy along training")
    ax.legend(ncol=3, loc="lower left")
    save(fig, "fig03_performance_vs_entropy", note=describe_training())


if __name__ == "__main__":
    main()
