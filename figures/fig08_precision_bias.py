"""Figure 8 — Theorem 3: the importance-ratio bias E[r] − 1 by the token's log-prob, measured
(markers, ± cluster-robust standard error) with tokens drawn from the sampler's own distribution
(faithful sampling, bypass convention), beside the rounding models' token-conditional prediction
(dashed) — which is what drawing tokens from the exact π would measure (Theorem 3 (iii),
``entropy_lab/precision/theorem3.py``) — for each precision pipeline of ``entropy_lab.precision``
on LLM-like logits (vocab 32k, peaked).

First panel: end-to-end runs in bf16, fp16 and fp32. Then one panel per rounding mechanism
(a)–(f) of docs/precision.md, "Mechanisms (a)–(f)", each in bf16 with everything else in full
precision. Last panel: the
fraction of tokens whose ratio differs from the exact one, and the fraction pushed outside the
clip band [0.8, 1.28], per pipeline.

Reading: an upward bias growing towards low log-probs is the paper's mechanism; fp16 and fp32
should sit near zero. A mechanism whose markers hug zero does not bias the ratio by itself; where
the dashes rise and the markers do not, the rise was the exact-π sampling choice, not the ratio.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _common import budget, require, save, setup
from _runs import cached

from entropy_lab.analysis.plots_theory import plot_fraction_bars, plot_ratio_bias
from entropy_lab.precision import LogitSource, measure_ratio_bias
from entropy_lab.precision.drift import predicted_by_bin

END_TO_END = ("bf16", "fp16", "fp32")
MECHANISMS = ("a_bf16_logprobs", "b_bf16_ratio", "c_bf16_probs", "d_bf16_logits",
              "e_bf16_network", "f_fsdp2_cast")
VOCAB = 32_000
TOKENS_PER_ROW = 64
ROWS = budget(128, 8)       # context rows per pipeline (ROWS × TOKENS_PER_ROW sampled tokens)
MIN_BIN_TOKENS = 16         # bins with fewer tokens are not drawn
SEED = 8


def _measure() -> dict[str, pd.DataFrame]:
    source = LogitSource(vocab=VOCAB, kind="peaked")
    n = ROWS * TOKENS_PER_ROW
    bins, summary = [], []
    for name in END_TO_END + MECHANISMS:
        res = measure_ratio_bias(name, source, n, seed=SEED, tokens_per_row=TOKENS_PER_ROW,
                                 sampling="faithful")
        pred = predicted_by_bin(name, source, n, seed=SEED, tokens_per_row=TOKENS_PER_ROW)
        bins.append(res.by_bin.assign(predicted=pred["predicted_bias"].to_numpy()))
        summary.append(res.summary)
    return {"bins": pd.concat(bins, ignore_index=True),
            "summary": pd.concat(summary, ignore_index=True)}


def _tidy(bins: pd.DataFrame) -> pd.DataFrame:
    lo = bins["logp_lo"].where(np.isfinite(bins["logp_lo"]), bins["logp_hi"] - 5.0)
    return (bins[bins["n"] >= MIN_BIN_TOKENS]
            .assign(logp_bin=(lo + bins["logp_hi"]) / 2, measured=bins["measured_bias"]))


def main() -> None:
    setup()
    data = cached("precision_bias", {"pipelines": END_TO_END + MECHANISMS, "vocab": VOCAB,
                                     "rows": ROWS, "tpr": TOKENS_PER_ROW, "seed": SEED,
                                     "sampling": "faithful"},
                  _measure)
    bins = _tidy(data["bins"])
    for name in END_TO_END + MECHANISMS:
        sub = bins[bins["pipeline"] == name]
        require(len(sub) >= 2, f"{name}: fewer than 2 log-prob bins with {MIN_BIN_TOKENS} tokens")
        require(bool(np.isfinite(sub[["measured", "bias_se"]]).all().all()),
                f"{name}: non-finite measured bias")

    fig, axes = plt.subplots(2, 4, figsize=(16, 7.6), gridspec_kw={"hspace": 0.45,
                                                                    "wspace": 0.3})
    axes = axes.ravel()
    plot_ratio_bias(bins[bins["pipeline"].isin(END_TO_END)], se="bias_se", hue="pipeline",
                    symlog=False, ax=axes[0])
    axes[0].set_title("end to end: bf16 / fp16 / fp32")
    axes[0].legend(fontsize=6)
    for ax, name in zip(axes[1:7], MECHANISMS):
        plot_ratio_bias(bins[bins["pipeline"] == name], se="bias_se", hue="pipeline",
                        symlog=False, ax=ax)
        ax.set_title(f"({name[0]}) {name[2:]}")
    axes[1].legend(fontsize=7)
    frac = data["summary"][["pipeline", "frac_ne1", "frac_out"]].rename(
        columns={"frac_ne1": "r ≠ exact", "frac_out": "outside [0.8, 1.28]"})
    plot_fraction_bars(frac, "pipeline", ["r ≠ exact", "outside [0.8, 1.28]"], ax=axes[7],
                       colors=["#9467bd", "#d62728"])
    axes[7].set_yscale("symlog", linthresh=1e-4)
    axes[7].set_ylabel("fraction of tokens")
    axes[7].set_title("tokens touched, per pipeline")
    axes[7].legend(fontsize=7, loc="center right")
    axes[7].tick_params(axis="x", labelsize=7)
    save(fig, "fig08_precision_bias",
         note=f"LogitSource(vocab={VOCAB}, peaked), {ROWS * TOKENS_PER_ROW} tokens per pipeline "
              f"({TOKENS_PER_ROW} per context row); bins with < {MIN_BIN_TOKENS} tokens hidden")


if __name__ == "__main__":
    main()
