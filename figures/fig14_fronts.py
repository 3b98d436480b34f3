"""Figure 14 — trade-off fronts: final token entropy against final exact J for each method along
its own knob (claims 5 and 14, ``claim05_repo_r_fronts``, ``claim14_cov_fronts``), on the
shared-parameter ``prompts-many/lowrank`` world and the tabular ``tree/tabular`` one, in the
``llm-clip`` regime (``entropy_lab.analysis.fronts_study``).

Top row: H ± 1 SE over seeds; each method's Pareto front is the line, its dominated points are
faint; GRPO's front (black) runs through its checkpoints. Bottom row: the same points as
H/H_max(J), the share of the entropy ceiling kept. Reading: at a given J (a vertical line), a
front higher than GRPO's keeps more entropy for the same reward; "X dominates GRPO" in the
checks means higher by > 2 SE at every J where both fronts exist.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from _common import require, require_finite, save, setup

from entropy_lab.analysis.fronts import pareto_front
from entropy_lab.analysis.fronts_study import WORLDS, read_points, run_study
from entropy_lab.analysis.style import algo_color

ROOT = Path(__file__).resolve().parent.parent
FRONTS = Path(os.environ.get("ENTROPY_LAB_FRONTS") or ROOT / "results" / "fronts")
METHODS = ("grpo", "repo_r", "repo_r_noclamp", "dapo", "adapo", "clip_cov", "kl_cov",
           "entropy_bonus")
STYLE = {"grpo": ("black", "o", "-"), "repo_r_noclamp": (algo_color("repo_r"), "x", "--")}


def load():
    try:
        return (*read_points(FRONTS), "committed study results/fronts")
    except FileNotFoundError:
        with tempfile.TemporaryDirectory() as tmp:
            run_study(tmp, quick=True)
            return (*read_points(tmp), "no committed study: quick grid")


def main() -> None:
    setup()
    pts, meta, source = load()
    fig, axes = plt.subplots(2, len(WORLDS), figsize=(12.5, 8.2), squeeze=False,
                             gridspec_kw={"hspace": 0.3, "wspace": 0.25})
    for col, world in enumerate(WORLDS):
        wp = pts[pts["world"] == world]
        require(not wp.empty, f"no points for {world}")
        for row, (h, se, label) in enumerate((("H", "H_se", "final token entropy H"),
                                              ("H_ceil", "H_ceil_se", "H / H_max(J)"))):
            ax = axes[row, col]
            for m in METHODS:
                p = wp[wp["method"] == m]
                require_finite(f"{world} {m} {h}", p[h])
                color, marker, line = STYLE.get(m, (algo_color(m), "o", "-"))
                f = pareto_front(p, h=h)
                ax.errorbar(p["J"], p[h], yerr=p[se], fmt=marker, ms=3, color=color,
                            alpha=0.3, lw=0.8)
                ax.errorbar(f["J"], f[h], yerr=f[se], fmt=f"{line}{marker}", ms=4, color=color,
                            lw=1.4, label=m.replace("_noclamp", " (no clamp)"))
            ax.set_xlabel("final exact J")
            ax.set_ylabel(label)
            m0 = meta[world]
            ax.set_title(f"{world}: lr {m0['lr']:.3g}, {m0['seeds']} seeds × {m0['steps']} steps",
                         fontsize=9)
    axes[0, 0].legend(fontsize=7, ncol=2)
    save(fig, "fig14_fronts", note=f"{source}; N×G = 16×16, llm-clip (1×16 minibatches, Adam, "
                                   "lr calibrated on GRPO per world); ± 1 SE over seeds")


if __name__ == "__main__":
    main()
