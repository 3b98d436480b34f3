"""Figure 9 — DAPO's entropy on the calibrated token tree when the sampler and trainer log-probs
go through the bf16, fp16 or fp32 precision pipelines (``simulate(..., precision=...)``; the
pipelines are defined in ``entropy_lab.precision.named``), beside exact float64.

Right panel: the mean ratio r = π_trainer/π_sampler the loss saw in each update.

Reading: Theorem 3 says bf16 biases the ratio upward and acts like extra clipping in the
entropy-lowering direction; if so the bf16 curve falls faster than fp16/fp32, whose curves should
sit on the float64 one. Curves on top of each other mean the rounding does not change training
at this scale.

Caveat (the regime is not yet the paper's): the simulator still draws rollout tokens from the exact
policy — the exact-π *diagnostic* of ``entropy_lab.precision.sampling``, not the sampler's own
distribution — and clips against the sampler's log-probs only (bypass). By Theorem 3 (iii)
(``entropy_lab/precision/theorem3.py``) that sampling alone biases the mean ratio upward, so these
curves show the diagnostic's effect on training, not an engine's.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import torch
from _common import budget, require, require_finite, save, setup
from _runs import cached

from entropy_lab.analysis.plots_dynamics import plot_trajectories
from entropy_lab.analysis.plots_theory import DTYPE_COLORS

ALGORITHM = "dapo"
PROBLEM = "tree/calibrated"
PRECISIONS = ("bf16", "fp16", "fp32", "fp64")   # pipeline names; fp64 = exact control
TRAIN = {"steps": budget(120, 12), "seeds": budget(8, 2), "optimizer": "sgd", "lr": 1.0}


def _compute() -> dict[str, pd.DataFrame]:
    from entropy_lab.sim import simulate

    frames = [simulate(PROBLEM, ALGORITHM, precision=p,
                       generator=torch.Generator().manual_seed(0), **TRAIN).assign(precision=p)
              for p in PRECISIONS]
    return {"runs": pd.concat(frames, ignore_index=True)}


def main() -> None:
    setup()
    runs = cached("dapo_precision", {"precisions": PRECISIONS, "problem": PROBLEM, **TRAIN},
                  _compute)["runs"]
    require_finite("entropy", runs["entropy"])
    require(set(runs["precision"]) == set(PRECISIONS), "a precision run is missing")
    fig, (ax_h, ax_c) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    for p in PRECISIONS:
        sub = runs[runs["precision"] == p]
        plot_trajectories(sub, y="entropy", hue=None, ax=ax_h, label_prefix=p,
                          color=DTYPE_COLORS[p])
        plot_trajectories(sub, y="ratio/mean", hue=None, ax=ax_c, label_prefix=p,
                          color=DTYPE_COLORS[p])
    ax_h.set_ylabel("token-averaged entropy (nats)")
    ax_h.set_title(f"{ALGORITHM.upper()} entropy by precision pipeline")
    ax_h.legend()
    ax_c.axhline(1.0, color="black", lw=0.8)
    ax_c.set_ylabel("mean importance ratio r over the update's tokens")
    ax_c.set_title("mean ratio in each update (1 = no bias)")
    save(fig, "fig09_dapo_precision",
         note=f"{PROBLEM}, sgd lr {TRAIN['lr']}, {TRAIN['steps']} steps, {TRAIN['seeds']} seeds")


if __name__ == "__main__":
    main()
