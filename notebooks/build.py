"""Write the notebooks from the cell lists below (``python notebooks/build.py [NAME ...]``).

The notebooks are generated so they can be reviewed as code: edit the cells here, rebuild, and
commit both. They are stored without outputs; ``tests/test_notebooks.py`` executes every one with
``ENTROPY_LAB_QUICK=1`` (small settings) and checks that the stored files match this builder.
Each notebook is thin: one call per cell, each plot followed by a "Reading this plot" cell.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from entropy_lab.analysis import metrics
from entropy_lab.analysis import plots_dynamics as pdyn
from entropy_lab.analysis import plots_theory as pth
from entropy_lab.analysis.style import quick_mode, use_style

use_style()
SMALL = quick_mode()  # ENTROPY_LAB_QUICK=1: the small settings CI executes"""


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


def nb01_bandit_entropy_theory() -> list:
    return [
        md("""
# 01 — Theorem 1 on a bandit: how one policy-gradient step moves the entropy

A softmax policy π = softmax(z) over K arms. One exact-gradient REINFORCE step with per-arm
advantages A moves the logits by Δz = η·π·(A − E_π A) (vanilla) or η·(A − E_π A) (natural), and
Theorem 1 predicts the entropy change to first order:

- vanilla: ΔH ≈ −η·E_π[π·A·L], natural: ΔH ≈ −η·Cov_π(log π, A), with L = log π + H.

Below, the closed forms are set beside the exact H(z + Δz) − H(z) on the three bandit presets
(`calibrated`: the likely arms are the rewarded ones; `uncorrelated`; `anti`)."""),
        code(SETUP + """
from entropy_lab import theory
from entropy_lab.problems import get_problem

INITS = ("calibrated", "uncorrelated", "anti")
LRS = np.logspace(-3, 0.5, 6 if SMALL else 24)"""),
        md("The three presets (K = 8 arms); per-arm advantages are the exact action values Q(a)."),
        code("""
problems = {init: get_problem(f"bandit/{init}") for init in INITS}
logits = {init: p.init_logits(1)[:, 0] for init, p in problems.items()}              # [1, K]
advantages = {init: p.action_values(p.init_logits(1))[:, 0] for init, p in problems.items()}
pd.DataFrame({init: torch.softmax(z[0], -1).numpy().round(3) for init, z in logits.items()})"""),
        md("""
One row per (initialisation, geometry, step size): the closed form, the general form
∇H·Δz on the actual step, and the exact change."""),
        code("""
def one_step(init, geometry, lr):
    z, a = logits[init], advantages[init]
    dz = theory.pg_logit_step(z, a, lr, geometry)
    return {"init": init, "geometry": geometry, "eta": lr,
            "dH_closed": theory.predicted_entropy_change(z, a, lr, geometry).item(),
            "dH_general": theory.first_order_entropy_change(z, dz).item(),
            "dH_exact": theory.exact_entropy_change(z, dz).item()}

steps = pd.DataFrame([one_step(i, g, float(lr)) for i in INITS
                      for g in ("vanilla", "natural") for lr in LRS])
steps["error"] = steps["dH_exact"] - steps["dH_closed"]
steps.head()"""),
        code("""
ax = pth.plot_pred_vs_exact(steps, pred="dH_closed", exact="dH_exact", hue="init")
ax.legend(); ax.set_title("closed-form prediction vs exact ΔH, one step");"""),
        md("""
**Reading this plot.** Each point is one step (both geometries, all step sizes). Points on the
dashed y = x line are steps where the first-order formula is the exact answer; points leave it
only for the largest steps, where the O(η²) term matters. Calibrated steps sit at ΔH < 0
(entropy falls), anti-calibrated at ΔH > 0 (entropy rises), uncorrelated near 0 — the sign law."""),
        code("""
conv = steps[steps["init"] != "uncorrelated"].assign(case=lambda d: d["init"] + "/" + d["geometry"])
ax = pth.plot_convergence(conv, eta="eta", error="error", hue="case")
ax.legend(); ax.set_title("first-order error vs step size");"""),
        md("""
**Reading this plot.** The error of the first-order prediction against the step size on log-log
axes. Slope 2 (the dotted guides) is the O(η²) error Theorem 1 promises: halving the step
quarters the error. The uncorrelated preset is left out because its first-order change is zero by
construction, so its "error" is the whole second-order change (also slope 2)."""),
        md("""
## Sign law at a small step
The sign of the predicted change, and the covariance Cov_π(log π, A) that sets it."""),
        code("""
small = steps[steps["eta"] == steps["eta"].min()]
small.pivot(index="init", columns="geometry", values="dH_exact")"""),
        md("""
## REPO: the β that cancels the first-order change
REPO replaces A by A − β·L. With β* = E_π[π·L·A]/E_π[π·L²] (vanilla) the first-order change is
zero; the exact change that remains is second order."""),
        code("""
def repo_row(init, lr=0.1):
    z, a = logits[init], advantages[init]
    beta = theory.repo_beta_star(z, a, "vanilla")
    shaped = a - beta[..., None] * theory.centered_logprob(z)
    dz = theory.pg_logit_step(z, shaped, lr, "vanilla")
    return {"init": init, "beta_star": beta.item(),
            "dH_closed_plain": theory.predicted_entropy_change(z, a, lr, "vanilla").item(),
            "dH_closed_repo": theory.predicted_entropy_change(z, shaped, lr, "vanilla").item(),
            "dH_exact_repo": theory.exact_entropy_change(z, dz).item()}

pd.DataFrame([repo_row(i) for i in INITS])"""),
        md("""
**Reading this table.** β* is positive on the calibrated bandit (the entropy bonus needed to
stop the fall), negative on the anti-calibrated one, and ~0 where nothing needs cancelling.
With β*, the predicted change is 0 to rounding and the exact change is a small second-order
remainder."""),
    ]


NOTEBOOKS = {
    "01_bandit_entropy_theory": nb01_bandit_entropy_theory,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (unexecuted)."""
    nb = new_notebook(cells=NOTEBOOKS[name]())
    for i, cell in enumerate(nb.cells):  # fixed ids: rebuilding gives a byte-identical file
        cell.id = f"c{i:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write(name: str, folder: Path = HERE) -> Path:
    path = folder / f"{name}.ipynb"
    nbformat.write(build(name), path)
    return path


def main(argv: list[str]) -> int:
    names = argv or list(NOTEBOOKS)
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        print(f"unknown notebook(s) {unknown}; choose from {list(NOTEBOOKS)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"wrote {write(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
