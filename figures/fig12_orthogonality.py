"""Figure 12 — how much of the entropy change the paper's orthogonality assumption explains when
parameters are shared across prompts (check ``claim01_orthogonality_share``).

GRPO with SGD on the LLM-like preset, each shared-parameter policy at three widths. The
orthogonal closed form ``dH_pred_orth`` is the entropy change the step would make if each
state's logits moved only by its own samples (the tabular step on the same minibatch gradients;
entropy_lab/sim/params.py). (a) Per seed Σ_t dH_pred_orth / Σ_t dH_exact, mean ± s.e. over
seeds, by policy and width: 1 means the assumption explains the whole change (the grey band is
the check's "reproduced" band [0.8, 1.2]); the tabular policy is 1 by construction. (b)–(d)
Each step's orthogonal prediction against the exact change, for the middle width of each
policy, beside ∇_θH·Δθ (``dH_pred_param``, the first-order prediction through the shared
parameters; off y = x only where the step is too large for first order).

Reading: where the orthogonal points lie far below y = x while ∇_θH·Δθ lies on it, the entropy
change is driven by states moved through the shared parameters by other states' samples, which
the per-token closed form leaves out; a share falling with width says the wider the model, the
less of its entropy dynamics the assumption accounts for.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from _common import budget, require, require_finite, save, setup
from _runs import cached

from entropy_lab.analysis.plots_theory import plot_pred_vs_exact
from entropy_lab.sim import SimConfig, run

PROBLEM = "prompts-llm/calibrated"   # C = K = 256, peaked rows with a Zipf tail
WIDTHS = {"loglinear": ("dim", (4, 16, 64)), "lowrank": ("rank", (2, 4, 16)),
          "mlp": ("hidden", (8, 16, 64))}
TRAIN = {"steps": budget(15, 3), "seeds": budget(3, 2), "n_prompts": 16, "group_size": 8,
         "k": 8, "lr": 0.5, "optimizer": "sgd"}   # the check's full budget


def _runs() -> dict[str, pd.DataFrame]:
    frames = []
    for policy, (key, widths) in WIDTHS.items():
        for width in widths:
            cfg = SimConfig(policy=policy, **TRAIN)
            res = run(PROBLEM, "grpo", cfg, torch.Generator().manual_seed(0),
                      **{f"policy.{key}": width})
            st = res.frame[res.frame.step > 0]
            frames.append(st[["seed", "step", "dH_exact", "dH_pred_orth", "dH_pred_param"]]
                          .assign(policy=policy, width=width, label=f"{policy} {key}={width}"))
    return {"steps": pd.concat(frames, ignore_index=True)}


def shares(steps: pd.DataFrame) -> pd.DataFrame:
    """Per (policy, width): mean and s.e. over seeds of Σ_t dH_pred_orth / Σ_t dH_exact."""
    sums = steps.groupby(["policy", "width", "label", "seed"], sort=False)[
        ["dH_pred_orth", "dH_exact"]].sum().reset_index()
    sums["share"] = sums["dH_pred_orth"] / sums["dH_exact"]
    out = sums.groupby(["policy", "width", "label"], sort=False)["share"].agg(
        mean="mean", se=lambda s: s.std(ddof=1) / np.sqrt(len(s))).reset_index()
    return out


def main() -> None:
    setup()
    steps = cached("orthogonality", {"problem": PROBLEM, "widths": WIDTHS, **TRAIN}, _runs)["steps"]
    require_finite("dH_exact / dH_pred_orth / dH_pred_param",
                   steps[["dH_exact", "dH_pred_orth", "dH_pred_param"]])
    table = shares(steps)
    require(len(table) == sum(len(w) for _, w in WIDTHS.values()), "a policy × width is missing")
    require_finite("shares", table["mean"])

    fig, axes = plt.subplots(1, 4, figsize=(15.5, 4.4),
                             gridspec_kw={"wspace": 0.35, "width_ratios": [2.2, 1, 1, 1]})
    ax_a = axes[0]
    ax_a.axhspan(0.8, 1.2, color="#dddddd", zorder=0, label="check's band [0.8, 1.2]")
    ax_a.axhline(1.0, color="black", lw=1, ls="--")
    ax_a.axhline(0.0, color="#888888", lw=0.8)
    xs = np.arange(len(table))
    for policy, g in table.groupby("policy", sort=False):
        idx = xs[table["policy"].to_numpy() == policy]
        ax_a.errorbar(idx, g["mean"], yerr=g["se"], fmt="o", capsize=3, label=policy)
    ax_a.set_xticks(xs)
    ax_a.set_xticklabels([f"{WIDTHS[p][0]}\n{w}" for p, w in zip(table["policy"],
                                                                  table["width"])], fontsize=8)
    ax_a.set_ylabel("Σ dH_pred_orth / Σ dH_exact (per seed)")
    ax_a.set_title("(a) share of the exact entropy change explained")
    ax_a.legend(loc="upper right", fontsize=8)

    for ax, (policy, (key, widths)) in zip(axes[1:], WIDTHS.items()):
        sub = steps[(steps["policy"] == policy) & (steps["width"] == widths[1])]
        both = pd.concat([sub.assign(kind="orthogonal form", pred=sub["dH_pred_orth"]),
                          sub.assign(kind="∇θH·Δθ", pred=sub["dH_pred_param"])])
        plot_pred_vs_exact(both, pred="pred", hue="kind", ax=ax)
        ax.set_xlabel("predicted ΔH per step")
        ax.set_ylabel("exact ΔH per step" if policy == "loglinear" else "")
        ax.set_title(f"({'bcd'[list(WIDTHS).index(policy)]}) {policy} {key}={widths[1]}")
        ax.legend(loc="upper left", fontsize=7)
    save(fig, "fig12_orthogonality",
         note=f"{PROBLEM}, GRPO, sgd lr {TRAIN['lr']}, N×G = {TRAIN['n_prompts']}×"
              f"{TRAIN['group_size']}, {TRAIN['steps']} steps, {TRAIN['seeds']} seeds")


if __name__ == "__main__":
    main()
