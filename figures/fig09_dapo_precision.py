"""Figure 9 — DAPO's entropy on the calibrated token tree when the sampler and trainer log-probs
go through the bf16, fp16 or fp32 precision pipelines (``simulate(..., precision=...)``; the
pipelines are defined in ``entropy_lab.precision.named``), beside exact float64.

Tokens are drawn faithfully: each from its sampler path's own distribution π_s, as an inference
engine samples, with log π_s from the same pass (``SimConfig.sampling``); the ratio is the bypass
one (old = the sampler's log-prob). The dashed red line is bf16 under the labelled exact-π
diagnostic (tokens from π, the sampler's log-probs evaluated after), the first round's draw.

Middle: the mean ratio r = π_trainer/π_sampler over each update's tokens. Right: the same at the
first minibatch (before any update of the iteration) over the tokens with ℓ_s < −5, where bf16
rounds log-probs most coarsely: the pure sampler/trainer mismatch on rare tokens.

Reading: by Theorem 3 (``docs/theory.md``) bypass with faithful sampling has E[r] = 1 in
population, so the faithful bf16 ratios should sit at 1 up to the rounding of the stored
log-probs, while the exact-π diagnostic's sit above it (its χ²(π‖π_s) term). Entropy curves on
top of each other mean the rounding does not change training at this scale.
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


RUNS = [(p, "faithful") for p in PRECISIONS] + [("bf16", "exact_pi_diagnostic")]


def _compute() -> dict[str, pd.DataFrame]:
    from entropy_lab.sim import simulate

    frames = [simulate(PROBLEM, ALGORITHM, precision=p, sampling=sampling,
                       generator=torch.Generator().manual_seed(0), **TRAIN)
              .assign(precision=p, sampling=sampling)
              for p, sampling in RUNS]
    return {"runs": pd.concat(frames, ignore_index=True)}


def main() -> None:
    setup()
    runs = cached("dapo_precision_faithful", {"runs": RUNS, "problem": PROBLEM, **TRAIN},
                  _compute)["runs"]
    require_finite("entropy", runs["entropy"])
    require(len(runs.groupby(["precision", "sampling"])) == len(RUNS), "a precision run is missing")
    fig, (ax_h, ax_c, ax_t) = plt.subplots(1, 3, figsize=(16, 4.2))
    trained = runs[runs["step"] > 0]
    for p, sampling in RUNS:
        sub = runs[(runs["precision"] == p) & (runs["sampling"] == sampling)]
        diag = sampling != "faithful"
        kw = {"color": DTYPE_COLORS[p], "linestyle": "--" if diag else "-",
              "label_prefix": f"{p} exact-π diagnostic" if diag else p, "hue": None}
        plot_trajectories(sub, y="entropy", ax=ax_h, **kw)
        sub_t = trained[(trained["precision"] == p) & (trained["sampling"] == sampling)]
        plot_trajectories(sub_t, y="ratio/mean", ax=ax_c, **kw)
        plot_trajectories(sub_t, y="first/ratio/mean|tail", ax=ax_t, **kw)
    ax_h.set_ylabel("token-averaged entropy (nats)")
    ax_h.set_title(f"{ALGORITHM.upper()} entropy by precision pipeline")
    ax_h.legend(fontsize=8)
    for ax in (ax_c, ax_t):
        ax.axhline(1.0, color="black", lw=0.8)
    ax_c.set_ylabel("mean importance ratio r over the update's tokens")
    ax_c.set_title("mean ratio in each update (1 = no bias)")
    ax_t.set_ylabel("mean r, first minibatch, tokens with log π_s < −5")
    ax_t.set_title("before any update, rare tokens (mismatch only)")
    save(fig, "fig09_dapo_precision",
         note=f"{PROBLEM}, sgd lr {TRAIN['lr']}, {TRAIN['steps']} steps, {TRAIN['seeds']} seeds, "
             "faithful sampling, bypass ratio; dashed: exact-π diagnostic")


if __name__ == "__main__":
    main()
