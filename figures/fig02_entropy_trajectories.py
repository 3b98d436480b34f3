"""Figure 2 — entropy along training per algorithm (seed mean ± standard error), in three worlds.

(a) Tabular world: the calibrated token tree, SGD lr 1, preset schedules, from the shared sweep
    of figures 2–5 (``_runs.py``).
(b), (c) Shared-parameter world of claims 10–12 (``paper_checks/_shared_world.py``: cbandit/anti,
    64 contexts × 16 arms, lowrank rank 4, Adam 0.05, preset schedules): token entropy H and
    H/H_max(J), the share of the entropy ceiling at the run's own J that it keeps
    (``_mechanism_runs.shared_ceiling``). GRPO on the tabular policy in the same world (grey,
    dashed) is the control without sharing.
(d) Clipping world of ``claim07_clip_higher_llm`` (bandit64/anti, 2 × 16 minibatches, Adam 0.01):
    H/H_0 for DAPO's clip-higher (0.2/0.28), the symmetric clip (0.2/0.2) and ADAPO, with their
    clip fractions (both sides; upper side in brackets).

Every label gives the run's mean per-minibatch clip fraction over trained steps and seeds (the
activity of the clip mechanism; 0 for unclipped losses and on-policy single-minibatch schedules).

Reading: (a) every group-normalised method lowers entropy on a calibrated problem (Theorem 1's
sign law); (b)–(c) with sharing, every method ends at a small fraction of the entropy the final
J allows, the tabular control far above; (d) where clipping is active, clip-higher ends with
*less* entropy than the symmetric clip here, because the upper-clipped tokens are mostly above
typical probability (claim 7's check).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import require, require_finite, save, setup
from _mechanism_runs import (
    CLIP_LEARNERS,
    SHARED_ALGORITHMS,
    clip_fractions,
    clip_sweep,
    describe_clip,
    describe_shared,
    shared_sweep,
)
from _runs import ALGORITHMS, describe_training, tree_sweep

from entropy_lab.analysis.plots_dynamics import plot_trajectories
from entropy_lab.analysis.style import algo_color

BAND = "sem"
CLIP_COLORS = {"dapo 0.2/0.28": algo_color("dapo"), "symmetric 0.2/0.2": algo_color("ppo"),
               "adapo": algo_color("adapo")}
TABULAR_CONTROL = {"color": "#555555", "linestyle": "--"}


def _lines(ax, runs, y: str, algorithms, **line_kw) -> None:
    """One mean ± s.e. line of ``y`` per algorithm, labelled with its clip fraction."""
    frac = clip_fractions(runs)
    for algo in algorithms:
        plot_trajectories(runs[runs["algorithm"] == algo], y=y, hue=None, band=BAND, ax=ax,
                          **{"color": algo_color(algo), **line_kw},
                          label_prefix=f"{algo} (clip {frac[algo]:.1%})")


def _tabular_panel(ax) -> None:
    runs = tree_sweep()["runs"]
    require(set(runs["algorithm"]) == set(ALGORITHMS), "the tree sweep is missing algorithms")
    require_finite("tree entropy", runs["entropy"])
    _lines(ax, runs, "entropy", ALGORITHMS)
    ax.set_ylim(0, 1.25 * runs["entropy"].max())
    ax.set_ylabel("token-averaged entropy (nats)")
    ax.set_title("(a) tabular world: calibrated token tree, SGD lr 1", fontsize=10)
    ax.legend(ncol=3, loc="upper right", fontsize=7)


def _shared_panels(ax_h, ax_ratio) -> None:
    runs = shared_sweep()["runs"]
    runs = runs.assign(ratio=runs["entropy"] / runs["H_max"])
    lowrank, tabular = runs[runs["policy"] == "lowrank"], runs[runs["policy"] == "tabular"]
    require(set(lowrank["algorithm"]) == set(SHARED_ALGORITHMS),
            "the shared sweep is missing algorithms")
    require(not tabular.empty, "the shared sweep has no tabular control")
    require_finite("shared-world entropy and H_max", runs[["entropy", "H_max"]])
    require(bool((runs["entropy"] <= runs["H_max"] + 1e-9).all()),
            "an entropy above the ceiling H_max(J): the ceiling or the runs are wrong")
    for y, ax in (("entropy", ax_h), ("ratio", ax_ratio)):
        _lines(ax, lowrank, y, SHARED_ALGORITHMS)
        plot_trajectories(tabular, y=y, hue=None, band=BAND, ax=ax, **TABULAR_CONTROL,
                          label_prefix=f"grpo, tabular policy (clip "
                                       f"{clip_fractions(tabular)['grpo']:.1%})")
    ax_h.set_ylim(0, 1.35 * runs["entropy"].max())
    ax_h.set_ylabel("token-averaged entropy H (nats)")
    ax_h.set_title("(b) shared world: cbandit/anti 64×16, lowrank rank 4, Adam 0.05",
                   fontsize=10)
    ax_h.legend(ncol=3, loc="upper right", fontsize=6.5)
    ax_ratio.set_ylabel("H / H_max(J)  (share of the entropy ceiling kept)")
    ax_ratio.set_ylim(0, 1.02)
    ax_ratio.set_title("(c) shared world: entropy against its ceiling at the run's J",
                       fontsize=10)


def _clip_panel(ax) -> None:
    runs = clip_sweep()
    require(set(runs["algorithm"]) == set(CLIP_LEARNERS), "the clipping runs miss learners")
    require_finite("clipping-world entropy", runs["entropy"])
    h0 = runs[runs["step"] == 0].set_index(["algorithm", "seed"])["entropy"]
    runs = runs.assign(ratio=runs["entropy"].to_numpy()
                       / h0.loc[list(zip(runs["algorithm"], runs["seed"]))].to_numpy())
    both = clip_fractions(runs)
    upper = clip_fractions(runs.drop(columns="clip/frac").rename(
        columns={"clip/frac_high": "clip/frac"}))
    for label in CLIP_LEARNERS:
        plot_trajectories(runs[runs["algorithm"] == label], y="ratio", hue=None, band=BAND,
                          ax=ax, color=CLIP_COLORS[label],
                          label_prefix=f"{label} (clip {both[label]:.1%} [{upper[label]:.1%}])")
    ax.axhline(1.0, color="black", lw=0.8, linestyle=":")
    ax.set_ylabel("H / H_0")
    ax.set_title("(d) clipping world: bandit64/anti, 2×16 minibatches, Adam 0.01", fontsize=10)
    ax.legend(loc="lower left", fontsize=7)


def main() -> None:
    setup()
    fig, axes = plt.subplots(2, 2, figsize=(12.5, 8.6), gridspec_kw={"hspace": 0.32})
    _tabular_panel(axes[0, 0])
    _shared_panels(axes[0, 1], axes[1, 0])
    _clip_panel(axes[1, 1])
    fig.suptitle("Entropy along training (mean ± s.e. over seeds); labels: mean per-minibatch "
                 "clip fraction", fontsize=11)
    save(fig, "fig02_entropy_trajectories",
         note=f"(a) {describe_training()}\n(b, c) {describe_shared()}\n(d) {describe_clip()}")


if __name__ == "__main__":
    main()
