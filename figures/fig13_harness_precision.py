"""Figure 13 — precision at transformer scale: the committed CPU harness study
(``results/harness_study/``, ``entropy-lab harness-study``) per precision mode.

Left: DAPO's rollout token entropy in bf16, fp16, fp32 and fp32_logprobs (bf16 network, fp32
log-softmax), bands ± 1 SE over seeds (claim 9 at scale). Middle: the on-policy ratio bias
E[r] − 1 before each update, r = exp(ℓ_trainer − ℓ_sampler) on the sampled tokens (the sampler is
the engine ``bf16-engine``: kernels of its own in real arithmetic), every algorithm's runs pooled
per precision (claim 8 at scale). Right: DAPO's per-step clip fractions, upper (solid;
fp32_logprobs dotted) and lower (dashed; fp32_logprobs dash-dotted) side. Curves are smoothed
over a window of ``WINDOW`` steps.

Reading: Theorem 3 (``docs/theory.md``) says the rollout-convention ratio of a faithful sampler
has E[r] = 1 in population, up to the rounding of the stored log-probs; bf16's bias above fp16's
and fp32's is that rounding. Whether it moves DAPO's entropy is the left panel.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from _common import require, require_finite, rolling, save, setup
from _runs import HARNESS_STUDY as STUDY

from entropy_lab.analysis.plots_dynamics import plot_trajectories
from entropy_lab.analysis.plots_theory import DTYPE_COLORS

PRECISIONS = ("bf16", "fp16", "fp32", "fp32_logprobs")
WINDOW = 10


def main() -> None:
    setup()
    from entropy_lab.harness.study import describe, read_study

    require((STUDY / "study.csv.gz").exists(), f"no harness study under {STUDY}: run "
                                               "`entropy-lab harness-study --jobs 2`")
    df, meta = read_study(STUDY)
    grid = df[(df["kind"] == "grid") & (df["phase"] == 1)]
    dapo = grid[grid["algo"] == "dapo"]
    require(set(PRECISIONS) <= set(dapo["precision"]),
            f"the study lacks a DAPO run in one of {PRECISIONS}")
    require_finite("DAPO entropy", dapo["entropy/token"])
    fig, (ax_h, ax_r, ax_c) = plt.subplots(1, 3, figsize=(16.5, 4.2))
    for prec in PRECISIONS:
        color = DTYPE_COLORS.get(prec, "#9467bd")
        style = ":" if prec == "fp32_logprobs" else "-"
        sub = dapo[dapo["precision"] == prec]
        plot_trajectories(rolling(sub, WINDOW, "entropy/token"), y="entropy/token", hue=None,
                          band="sem", ax=ax_h, label_prefix=prec, color=color, linestyle=style)
        pooled = grid[grid["precision"] == prec]
        pooled = pooled.assign(bias=pooled["ratio0/mean"] - 1)
        plot_trajectories(rolling(pooled, WINDOW, "bias"), y="bias", hue=None, band="sem", ax=ax_r,
                          label_prefix=f"{prec} ({pooled['run_id'].nunique()} runs)",
                          color=color, linestyle=style)
        for side, ls in (("high", "-"), ("low", "--")):
            col = f"clip/frac_{side}"
            plot_trajectories(rolling(sub, WINDOW, col), y=col, hue=None, band="none", ax=ax_c,
                              label_prefix=f"{prec} {side}", color=color,
                              linestyle=ls if prec != "fp32_logprobs" else (":" if side == "high"
                                                                            else "-."))
    ax_h.set_ylabel("token entropy of the rollouts (nats)")
    ax_h.set_title("DAPO's entropy per precision")
    ax_r.axhline(0, color="#888888", lw=0.8)
    ax_r.set_ylabel("E[r] − 1 before the update (token mean)")
    ax_r.set_title("Sampler/trainer ratio bias, all algorithms")
    ax_c.set_ylabel("clipped fraction of tokens per step")
    ax_c.set_title("DAPO's clip fractions (upper solid, lower dashed)")
    for ax in (ax_h, ax_r, ax_c):
        ax.legend(fontsize=7)
    save(fig, "fig13_harness_precision",
         note=f"CPU study {STUDY.name}: {describe(meta)}; rolling mean over {WINDOW} steps; "
              "bands ± 1 SE over runs")

if __name__ == "__main__":
    main()
