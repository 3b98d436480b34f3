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
# # 02 — Entropy dynamics on a token tree
#
# A token tree is the smallest world with LLM structure: V tokens, sequences of length T, reward on
# complete sequences, one softmax per prefix. `entropy_lab.sim` trains tabular policies on it with
# the same algorithm code the transformer harness uses, and measures the exact entropy, reward,
# pass@k and the first-order prediction of every step.

# %%
import torch

from entropy_lab.analysis import metrics
from entropy_lab.analysis import plots_dynamics as pdyn
from entropy_lab.analysis import plots_theory as pth
from entropy_lab.analysis.style import quick_mode, use_style

use_style()
SMALL = quick_mode()  # ENTROPY_LAB_QUICK=1: the small settings CI executes
torch.set_num_threads(1)  # tiny tensors: one thread is fastest
from entropy_lab.sim import sweep

ALGORITHMS = ["grpo", "dapo", "gspo", "repo_r"]
SETTINGS = dict(problem="tree/calibrated", optimizer="sgd", lr=1.0,
                steps=12 if SMALL else 150, seeds=2 if SMALL else 8)

# %% [markdown]
# One sweep: every algorithm, several seeds batched inside each run; one tidy frame.

# %%
runs = sweep({"algorithm": ALGORITHMS}, **SETTINGS)
runs[["algorithm", "seed", "step", "entropy", "J", "pass@8", "dH_exact", "dH_pred"]].tail()

# %%
ax = pdyn.plot_trajectories(runs, y="entropy", hue="algorithm")
ax.legend(); ax.set_title("token-averaged entropy (mean ± s.e. over seeds)");

# %% [markdown]
# **Reading this plot.** On the calibrated tree the rewarded sequences are already the likely ones,
# so Theorem 1 predicts falling entropy for every method; the curves show how fast each one
# spends it. A flat curve is a method (or step size) that barely moves the policy.

# %%
ax = pdyn.plot_phase(runs, x="entropy", y="J", hue="algorithm")
ax.legend(); ax.set_title("expected reward against entropy");

# %% [markdown]
# **Reading this plot.** Each path starts at the open circle (the initial policy) and ends at the
# dot. Moving left means spending entropy, moving up means gaining reward: a method that preserves
# entropy reaches the same height further right.

# %%
steps = runs[runs["step"] > 0]
ax = pth.plot_pred_vs_exact(steps, pred="dH_pred", exact="dH_exact", hue="algorithm")
ax.legend(); ax.set_title("Theorem 1 along training: ∇H·Δz vs exact ΔH");

# %% [markdown]
# **Reading this plot.** Every training step of every seed: the first-order prediction ∇_z H·Δz
# on the actual logit change against the exact change of the token-averaged entropy. Points on
# y = x mean the steps are small enough for Theorem 1 to be the whole story.

# %%
summary = metrics.final_summary(runs, by=("algorithm",), values=("J", "pass@8"), last=3)
corr = metrics.correlation(summary["cum_entropy"], summary["J"], n_boot=500)
ax = pdyn.plot_correlation(summary, x="cum_entropy", y="J", corr=corr)
ax.legend(fontsize=7);

# %% [markdown]
# **Reading this plot.** One point per run: the entropy spent over training (Σ_t H_t) against the
# final reward, with Pearson's r and its bootstrap interval in the title. The paper's claim is a
# positive relation; an interval that straddles 0 means these runs cannot tell.
