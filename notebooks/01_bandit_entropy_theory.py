# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 — Theorem 1 on a bandit: how one policy-gradient step moves the entropy
#
# A softmax policy π = softmax(z) over K arms. One exact-gradient REINFORCE step with per-arm
# advantages A moves the logits by Δz = η·π·(A − E_π A) (vanilla) or η·(A − E_π A) (natural), and
# Theorem 1 predicts the entropy change to first order:
#
# - vanilla: ΔH ≈ −η·E_π[π·A·L], natural: ΔH ≈ −η·Cov_π(log π, A), with L = log π + H.
#
# Below, the closed forms are set beside the exact H(z + Δz) − H(z) on the three bandit presets
# (`calibrated`: the likely arms are the rewarded ones; `uncorrelated`; `anti`).

# %%
import numpy as np
import pandas as pd
import torch

from entropy_lab.analysis import plots_theory as pth
from entropy_lab.analysis.style import quick_mode, use_style

use_style()
SMALL = quick_mode()  # ENTROPY_LAB_QUICK=1: the small settings CI executes
from entropy_lab.analysis.tables import one_step_row, repo_row
from entropy_lab.problems import get_problem

INITS = ("calibrated", "uncorrelated", "anti")
LRS = np.logspace(-3, 0.5, 6 if SMALL else 24)

# %% [markdown]
# The three presets (K = 8 arms); per-arm advantages are the exact action values Q(a).

# %%
problems = {init: get_problem(f"bandit/{init}") for init in INITS}
logits = {init: p.init_logits(1)[:, 0] for init, p in problems.items()}              # [1, K]
advantages = {init: p.action_values(p.init_logits(1))[:, 0] for init, p in problems.items()}
pd.DataFrame({init: torch.softmax(z[0], -1).numpy().round(3) for init, z in logits.items()})


# %% [markdown]
# One row per (initialisation, geometry, step size): the closed form, the general form
# ∇H·Δz on the actual step, and the exact change.

# %%
steps = pd.DataFrame([{"init": i, **one_step_row(logits[i], advantages[i], float(lr), g)}
                      for i in INITS for g in ("vanilla", "natural") for lr in LRS])
steps["error"] = steps["dH_exact"] - steps["dH_closed"]
steps.head()

# %%
ax = pth.plot_pred_vs_exact(steps, pred="dH_closed", exact="dH_exact", hue="init")
ax.legend(); ax.set_title("closed-form prediction vs exact ΔH, one step");

# %% [markdown]
# **Reading this plot.** Each point is one step (both geometries, all step sizes). Points on the
# dashed y = x line are steps where the first-order formula is the exact answer; points leave it
# only for the largest steps, where the O(η²) term matters. Calibrated steps sit at ΔH < 0
# (entropy falls), anti-calibrated at ΔH > 0 (entropy rises), uncorrelated near 0 — the sign law.

# %%
conv = steps[steps["init"] != "uncorrelated"].assign(case=lambda d: d["init"] + "/" + d["geometry"])
ax = pth.plot_convergence(conv, eta="eta", error="error", hue="case")
ax.legend(); ax.set_title("first-order error vs step size");

# %% [markdown]
# **Reading this plot.** The error of the first-order prediction against the step size on log-log
# axes. Slope 2 (the dotted guides) is the O(η²) error Theorem 1 promises: halving the step
# quarters the error. The uncorrelated preset is left out because its first-order change is zero by
# construction, so its "error" is the whole second-order change (also slope 2).

# %% [markdown]
# ## Sign law at a small step
# The sign of the predicted change, and the covariance Cov_π(log π, A) that sets it.

# %%
small = steps[steps["eta"] == steps["eta"].min()]
small.pivot(index="init", columns="geometry", values="dH_exact")


# %% [markdown]
# ## REPO: the β that cancels the first-order change
# REPO replaces A by A − β·L. With β* = E_π[π·L·A]/E_π[π·L²] (vanilla) the first-order change is
# zero; the exact change that remains is second order.

# %%
pd.DataFrame([{"init": i, **repo_row(logits[i], advantages[i], lr=0.1)}
              for i in INITS])

# %% [markdown]
# **Reading this table.** β* is positive on the calibrated bandit (the entropy bonus needed to
# stop the fall), negative on the anti-calibrated one, and ~0 where nothing needs cancelling.
# With β*, the predicted change is 0 to rounding and the exact change is a small second-order
# remainder.
