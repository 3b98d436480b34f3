"""Figure 10 — the entropy controllers at work: REPO-R's ζ and ADAPO's ε_high (left axes) with
the entropy they steer (right axes; dotted: the controller's target, the initial entropy), seed
means on the calibrated token tree.

Reading: when the entropy sits below its target the controller should push (ζ doubling up to
ζ_max, ε_high rising); a parameter pinned at its bound while entropy keeps falling means the
controller has run out of authority at this scale.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import budget, require, require_finite, save, setup
from _runs import algorithm_runs

from entropy_lab.analysis.plots_dynamics import plot_controller_trace
from entropy_lab.analysis.style import algo_color

CONTROLLED = {"repo_r": "zeta", "adapo": "eps_high"}   # algorithm -> the parameter it adapts
PROBLEM = "tree/calibrated"
TRAIN = {"steps": budget(120, 12), "seeds": budget(8, 2), "optimizer": "sgd", "lr": 1.0}


def main() -> None:
    setup()
    runs = algorithm_runs("controllers", PROBLEM, CONTROLLED, TRAIN)
    fig, axes = plt.subplots(1, len(CONTROLLED), figsize=(12.5, 4.2), gridspec_kw={"wspace": 0.45})
    for ax, (algo, param) in zip(axes, CONTROLLED.items()):
        sub = runs[runs["algorithm"] == algo]
        require_finite(f"{algo} {param}", sub[param])
        require_finite(f"{algo} entropy", sub["entropy"])
        target = float(sub["entropy_target"].iloc[0]) if "entropy_target" in sub else None
        plot_controller_trace(sub, param, target=target, color=algo_color(algo), ax=ax)
        ax.set_title(f"{algo}: {param} (left) and entropy (right)")
    require(len(runs) > 0, "no controller runs")
    axes[0].set_yscale("log")
    save(fig, "fig10_controllers",
         note=f"{PROBLEM}, sgd lr {TRAIN['lr']}, {TRAIN['steps']} steps, {TRAIN['seeds']} seeds")


if __name__ == "__main__":
    main()
