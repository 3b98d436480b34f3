"""Figure 7 — Theorem 2: H(π_new)/H(π) against the bounds that hold when every ratio
π_new/π lies in [1 − ε_low, 1 + ε_high] (paper form and the looser "rigorous" form), on real
clipped updates, and how often those updates leave the band at all.

One point per (bandit preset and arm skew, learning rate, seed): one sampled iteration of each
algorithm from the preset's initial policy (several clipped minibatch steps for ppo/dapo/grpo;
one plain step for the strictly on-policy rloo). The band is checked on *every* action's ratio
π_new/π_old.
(a) in-band updates (grey) must lie between the paper-form lines; out-of-band ones (orange) are
not covered by the theorem; red crosses are updates outside the paper-form bounds.
(b) per algorithm: the fraction of updates that leave the band, and the fraction that break the
paper-form bound (only possible outside the band).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import torch
from _common import budget, require, require_finite, save, setup

from entropy_lab.analysis.plots_theory import plot_entropy_bounds, plot_fraction_bars
from entropy_lab.problems import get_problem
from entropy_lab.sim import run
from entropy_lab.theory import entropy, entropy_bounds_under_ratio_clip

PRESETS = ("bandit/calibrated", "bandit/uncorrelated", "bandit/anti")
SKEWS = budget((0.5, 1.5, 3.0, 5.0), (1.0, 4.0))   # logit spread of the arms: sets H(π)
ALGORITHMS = ("ppo", "dapo", "grpo", "rloo")
LRS = budget((0.1, 0.3, 1.0, 3.0), (0.3, 3.0))
SEEDS = budget(32, 8)
BAND = {"eps_low": 0.2, "eps_high": 0.28}   # the band each point is checked against (DAPO's)


def updates(preset: str, skew: float, algo: str, lr: float) -> pd.DataFrame:
    problem = get_problem(preset, skew=skew)
    z_old = problem.init_logits(1)[:, 0]                                   # [1, K]
    result = run(problem, algo, steps=1, seeds=SEEDS, lr=lr,
                 generator=torch.Generator().manual_seed(1))
    z_new = result.logits[:, 0]                                            # [B, K]
    ratio_bk = torch.softmax(z_new, -1) / torch.softmax(z_old, -1)
    h_old, h_new = entropy(z_old).expand(SEEDS), entropy(z_new)
    lo, hi = entropy_bounds_under_ratio_clip(h_old, BAND["eps_low"], BAND["eps_high"], "paper")
    in_band = ((ratio_bk >= 1 - BAND["eps_low"]) & (ratio_bk <= 1 + BAND["eps_high"])).all(-1)
    return pd.DataFrame({"preset": preset, "algorithm": algo, "lr": lr,
                         "H": h_old.numpy(), "H_new": h_new.numpy(),
                         "in_band": in_band.numpy(),
                         "violates_paper": ((h_new < lo) | (h_new > hi)).numpy()})


def bound_curves(h_max: float) -> pd.DataFrame:
    h = torch.linspace(0.05, h_max, 200, dtype=torch.float64)
    out = {"H": h.numpy()}
    for form in ("paper", "rigorous"):
        lo, hi = entropy_bounds_under_ratio_clip(h, BAND["eps_low"], BAND["eps_high"], form)
        out[f"lo_{form}"], out[f"hi_{form}"] = lo.numpy(), hi.numpy()
    return pd.DataFrame(out)


def main() -> None:
    setup()
    pairs = pd.concat([updates(p, s, a, lr) for p in PRESETS for s in SKEWS
                       for a in ALGORITHMS for lr in LRS], ignore_index=True)
    require_finite("entropies", pairs[["H", "H_new"]])
    inside = pairs[pairs["in_band"]]
    require(not inside["violates_paper"].any(),
            f"{int(inside['violates_paper'].sum())} in-band updates break the paper-form bound")

    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(12, 4.6), width_ratios=(1.4, 1))
    shown = pairs
    out = shown[~shown["in_band"]]
    ax_a.scatter(out["H"], out["H_new"] / out["H"], s=8, color="#ff7f0e", alpha=0.5,
                 label="left the band")
    bad = out[out["violates_paper"]]
    ax_a.scatter(bad["H"], bad["H_new"] / bad["H"], s=16, marker="x", color="#d62728",
                 label="left the band and the paper bounds")
    plot_entropy_bounds(shown[shown["in_band"]], bound_curves(pairs["H"].max() * 1.05),
                        flag="violates_paper", label="stayed in the band", ax=ax_a)
    ax_a.set_ylim(0, 1.6)
    ax_a.legend(fontsize=7, loc="upper left")
    ax_a.set_title(f"(a) one update per point; band [{1 - BAND['eps_low']:.2f}, "
                   f"{1 + BAND['eps_high']:.2f}] on all actions")
    frac = (pairs.groupby("algorithm", sort=False)
            .agg(left_band=("in_band", lambda s: 1 - s.mean()),
                 broke_paper_bound=("violates_paper", "mean")).reset_index())
    plot_fraction_bars(frac, "algorithm", ["left_band", "broke_paper_bound"], ax=ax_b,
                       colors=["#ff7f0e", "#d62728"])
    ax_b.set_ylabel("fraction of updates")
    ax_b.set_ylim(0, 1)
    ax_b.legend(fontsize=8)
    ax_b.set_title("(b) how often updates leave the band")
    save(fig, "fig07_theorem2_bounds",
         note=f"{', '.join(PRESETS)} × skew {list(SKEWS)}; lr {list(LRS)}; {SEEDS} seeds; "
              "one iteration each")


if __name__ == "__main__":
    main()
