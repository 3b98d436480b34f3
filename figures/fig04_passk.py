"""Figure 4 — exact pass@k before training (dashed) and after training (solid), in two worlds,
from the policies' exact success probabilities (pass@k = Σ_c w_c·(1 − (1 − p_c)^k)).

(a), (b) Tabular world: the calibrated token tree (shared sweep of figures 2–5, ``_runs.py``),
    every algorithm, k = 1..64, and a zoom on k = 16..64: no trained curve falls below the
    initial one, so collapse costs nothing at large k there.
(c), (d) Shared-parameter world of ``claim10_passk_shared`` (``paper_checks/_shared_world.py``:
    cbandit/anti, 64 contexts × 16 arms, lowrank rank 4, Adam 0.05, N×G = 16×8, preset
    schedules), k = 1..256: GRPO and REPO-R through the lowrank policy, and GRPO on the tabular
    policy in the same world (grey; no sharing), the check's three learners and seeds; (d) the
    large-k zoom with ± 1 s.e. over seeds, the labels giving pass@256 (mean ± s.e.).

Reading: where parameters are shared, collapse raises pass@1 and lowers pass@256 below the
initial policy's (answers the initial policy could sample are lost on some contexts); the same
learner without sharing keeps pass@256 at 1.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
from _common import require, require_finite, save, setup
from _mechanism_runs import K_LARGE, PASSK_LEARNERS, SHARED_PASSK_KS, describe_shared, shared_sweep
from _runs import PASSK_KS, describe_training, tree_sweep

from entropy_lab.analysis.plots_dynamics import plot_passk_curves
from entropy_lab.analysis.style import algo_color

TABULAR_LABEL = "grpo (tabular policy)"
TABULAR_COLOR = "#555555"
ZOOM_K = 16


def _seed_mean(passk):
    return passk.groupby(["algorithm", "stage", "k"], sort=False)["pass"].mean().reset_index()


def _tabular_panels(ax_full, ax_zoom) -> None:
    passk = tree_sweep()["passk"]
    require_finite("tree pass@k", passk["pass"])
    require(set(passk["k"]) == set(PASSK_KS), "tree pass@k rows miss some k")
    mean = _seed_mean(passk)
    for ax in (ax_full, ax_zoom):
        plot_passk_curves(mean, k="k", value="pass", hue="algorithm", stage="stage", ax=ax)
    ax_full.set_title("(a) tabular world: calibrated token tree, SGD lr 1", fontsize=10)
    ax_full.legend(ncol=2, loc="lower right", fontsize=7)
    ax_zoom.set_ylim(max(0.0, mean.loc[mean["k"] >= ZOOM_K, "pass"].min() - 0.02), 1.002)
    ax_zoom.set_xlim(ZOOM_K, max(PASSK_KS))
    ax_zoom.set_title(f"(b) tabular world: zoom on k = {ZOOM_K}..{max(PASSK_KS)}", fontsize=10)


def _shared_panels(ax_full, ax_zoom) -> None:
    passk = shared_sweep()["passk"]
    require_finite("shared-world pass@k", passk["pass"])
    require(set(passk["k"]) == set(SHARED_PASSK_KS), "shared-world pass@k rows miss some k")
    require(set(passk["algorithm"]) == set(PASSK_LEARNERS), "shared-world pass@k misses learners")
    plot_passk_curves(_seed_mean(passk), k="k", value="pass", hue="algorithm", stage="stage",
                      ax=ax_full)
    for line in ax_full.get_lines():
        if line.get_label().startswith(TABULAR_LABEL):
            line.set_color(TABULAR_COLOR)
    ax_full.set_title("(c) shared world: cbandit/anti 64×16, lowrank rank 4, Adam 0.05",
                      fontsize=10)
    ax_full.legend(loc="lower right", fontsize=7)
    large = passk[passk["k"] >= ZOOM_K]
    stats = large.groupby(["algorithm", "stage", "k"])["pass"].agg(["mean", "std", "count"])
    stats["se"] = stats["std"] / stats["count"].map(math.sqrt)
    before = stats.xs("before", level="stage").groupby("k")["mean"].mean()
    ax_zoom.plot(before.index, before.to_numpy(), "--", color="black",
                 label=f"before (all): pass@{K_LARGE} {before.iloc[-1]:.3f}")
    for label in PASSK_LEARNERS:
        s = stats.loc[(label, "after")]
        color = TABULAR_COLOR if label == TABULAR_LABEL else algo_color(label)
        end = s.loc[K_LARGE]
        ax_zoom.plot(s.index, s["mean"], color=color,
                     label=f"{label} after: pass@{K_LARGE} {end['mean']:.3f} ± {end['se']:.3f}")
        ax_zoom.fill_between(s.index, s["mean"] - s["se"], s["mean"] + s["se"], color=color,
                             alpha=0.18, lw=0)
    ax_zoom.set_xscale("log", base=2)
    ax_zoom.set_xlim(ZOOM_K, K_LARGE)
    ax_zoom.set_ylim(max(0.0, (stats["mean"] - stats["se"]).min() - 0.02), 1.005)
    ax_zoom.set_xlabel("k")
    ax_zoom.set_ylabel("pass@k")
    ax_zoom.set_title(f"(d) shared world: zoom on k = {ZOOM_K}..{K_LARGE} (± 1 s.e.)",
                      fontsize=10)
    ax_zoom.legend(loc="lower right", fontsize=7)


def main() -> None:
    setup()
    fig, axes = plt.subplots(2, 2, figsize=(12.5, 8.6), gridspec_kw={"hspace": 0.32})
    _tabular_panels(axes[0, 0], axes[0, 1])
    _shared_panels(axes[1, 0], axes[1, 1])
    fig.suptitle("Exact pass@k before (dashed) and after training (seed mean)", fontsize=11)
    save(fig, "fig04_passk", note=f"(a, b) {describe_training()}\n(c, d) {describe_shared()}")


if __name__ == "__main__":
    main()
