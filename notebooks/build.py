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


def nb02_token_tree_dynamics() -> list:
    return [
        md("""
# 02 — Entropy dynamics on a token tree

A token tree is the smallest world with LLM structure: V tokens, sequences of length T, reward on
complete sequences, one softmax per prefix. `entropy_lab.sim` trains tabular policies on it with
the same algorithm code the transformer harness uses, and measures the exact entropy, reward,
pass@k and the first-order prediction of every step."""),
        code(SETUP + """
torch.set_num_threads(1)  # tiny tensors: one thread is fastest
from entropy_lab.sim import sweep

ALGORITHMS = ["grpo", "dapo", "gspo", "repo_r"]
SETTINGS = dict(problem="tree/calibrated", optimizer="sgd", lr=1.0,
                steps=12 if SMALL else 150, seeds=2 if SMALL else 8)"""),
        md("One sweep: every algorithm, several seeds batched inside each run; one tidy frame."),
        code("""
runs = sweep({"algorithm": ALGORITHMS}, **SETTINGS)
runs[["algorithm", "seed", "step", "entropy", "J", "pass@8", "dH_exact", "dH_pred"]].tail()"""),
        code("""
ax = pdyn.plot_trajectories(runs, y="entropy", hue="algorithm")
ax.legend(); ax.set_title("token-averaged entropy (mean ± s.e. over seeds)");"""),
        md("""
**Reading this plot.** On the calibrated tree the rewarded sequences are already the likely ones,
so Theorem 1 predicts falling entropy for every method; the curves show how fast each one
spends it. A flat curve is a method (or step size) that barely moves the policy."""),
        code("""
ax = pdyn.plot_phase(runs, x="entropy", y="J", hue="algorithm")
ax.legend(); ax.set_title("expected reward against entropy");"""),
        md("""
**Reading this plot.** Each path starts at the open circle (the initial policy) and ends at the
dot. Moving left means spending entropy, moving up means gaining reward: a method that preserves
entropy reaches the same height further right."""),
        code("""
steps = runs[runs["step"] > 0]
ax = pth.plot_pred_vs_exact(steps, pred="dH_pred", exact="dH_exact", hue="algorithm")
ax.legend(); ax.set_title("Theorem 1 along training: ∇H·Δz vs exact ΔH");"""),
        md("""
**Reading this plot.** Every training step of every seed: the first-order prediction ∇_z H·Δz
on the actual logit change against the exact change of the token-averaged entropy. Points on
y = x mean the steps are small enough for Theorem 1 to be the whole story."""),
        code("""
summary = metrics.final_summary(runs, by=("algorithm",), values=("J", "pass@8"), last=3)
corr = metrics.correlation(summary["cum_entropy"], summary["J"], n_boot=500)
ax = pdyn.plot_correlation(summary, x="cum_entropy", y="J", corr=corr)
ax.legend(fontsize=7);"""),
        md("""
**Reading this plot.** One point per run: the entropy spent over training (Σ_t H_t) against the
final reward, with Pearson's r and its bootstrap interval in the title. The paper's claim is a
positive relation; an interval that straddles 0 means these runs cannot tell."""),
    ]


def nb03_precision() -> list:
    return [
        md("""
# 03 — Precision: does bf16 bias the importance ratio?

Theorem 3 (as summarised) says bf16 log-probs bias r = π_θ/π_old upward. `entropy_lab.precision`
defines pipelines that round at one place each (mechanisms a–f) or run end to end in a dtype, and
measures E[r] − 1 by the token's log-prob beside a rounding model's prediction."""),
        code(SETUP + """
torch.set_num_threads(1)
from entropy_lab.precision import LogitSource, measure_ratio_bias, pipeline_names
from entropy_lab.precision.drift import predicted_by_bin
from entropy_lab.sim import sweep

PIPELINES = ["bf16", "fp16", "fp32"]
SOURCE = LogitSource(vocab=4096 if SMALL else 32_000, kind="peaked")
TOKENS = 512 if SMALL else 8192
pipeline_names()"""),
        md("Measured and predicted bias per log-prob bin, on the same sampled tokens."),
        code("""
def bias_by_bin(name):
    res = measure_ratio_bias(name, SOURCE, TOKENS, seed=8, tokens_per_row=64)
    pred = predicted_by_bin(name, SOURCE, TOKENS, seed=8, tokens_per_row=64)
    by = res.by_bin.assign(predicted=pred["predicted_bias"].to_numpy())
    lo = by["logp_lo"].where(np.isfinite(by["logp_lo"]), by["logp_hi"] - 5.0)
    return by.assign(logp_bin=(lo + by["logp_hi"]) / 2, measured=by["measured_bias"])

bins = pd.concat([bias_by_bin(n) for n in PIPELINES], ignore_index=True)
bins = bins[bins["n"] >= 16]
bins[["pipeline", "logp_lo", "logp_hi", "n", "measured", "bias_se", "predicted", "frac_out"]]"""),
        code("""
ax = pth.plot_ratio_bias(bins, se="bias_se", hue="pipeline", symlog=False)
ax.legend(fontsize=7); ax.set_title("E[r] − 1 by log-prob bin");"""),
        md("""
**Reading this plot.** Markers are measured means with their standard errors, dashed lines the
rounding model. An upward bias that grows towards low log-probs (left) is the paper's mechanism;
fp16 and fp32 are the controls and should sit at 0. Error bars that cross 0 mean this many
tokens cannot resolve the sign."""),
        md("## Does it change training? DAPO on the token tree, by precision"),
        code("""
runs = sweep({"precision": ["bf16", "fp32"]}, problem="tree/calibrated", algorithm="dapo",
             optimizer="sgd", lr=1.0, steps=10 if SMALL else 150, seeds=2 if SMALL else 8)
ax = pdyn.plot_trajectories(runs, y="entropy", hue="precision")
ax.legend(); ax.set_title("DAPO entropy, bf16 vs fp32 pipelines");"""),
        md("""
**Reading this plot.** If bf16's ratio bias acted like extra entropy-lowering clipping, the bf16
curve would fall faster than fp32. Overlapping bands mean the tabular emulation of the rounding
does not change training at this scale."""),
    ]


def nb04_harness() -> list:
    return [
        md("""
# 04 — The transformer + LoRA harness

The same algorithms on a real causal LM: a random-init Llama pretrained (SFT) to a skewed,
calibrated teacher on a synthetic verifiable task, then trained with RL through LoRA adapters.
CPU-tiny here (a 133k-parameter model, a handful of steps); `entropy-lab harness` and
`benchmarks/gpu_harness.py` run the larger GPU preset."""),
        code(SETUP + """
torch.set_num_threads(1)
import tempfile
from pathlib import Path

from entropy_lab.harness import make_config, run_harness

TINY = dict(pretrain_steps=30, pretrain_batch=32, prompts_per_step=2, group_size=4, pass_k=2,
            eval_seqs=4, lora_rank=2)
SETTINGS = dict(steps=3, **TINY) if SMALL else dict(steps=25)
OUT = Path(tempfile.mkdtemp())"""),
        md("Two short runs, GRPO and REPO-R, in fp32; the metrics are one row per RL step."),
        code("""
runs = pd.concat([run_harness(make_config("cpu-tiny", algo=a, precision="fp32", **SETTINGS),
                              OUT / a, overwrite=True).assign(algo=a)
                  for a in ("grpo", "repo_r")], ignore_index=True)
runs.filter(regex="^(algo|step|entropy/token|exact/pass|thm1/dH)").tail()"""),
        code("""
ax = pdyn.plot_trajectories(runs, y="entropy/token", hue="algo", band="none")
ax.legend(); ax.set_title("rollout token entropy");"""),
        md("""
**Reading this plot.** The mean token entropy of each step's rollouts. With one seed and a few
steps of a tiny model this is a smoke picture: it shows the pipeline end to end, not evidence
for or against collapse."""),
        code("""
steps = runs[runs["step"] > 0].dropna(subset=["thm1/dH_pred", "thm1/dH_measured"])
ax = pth.plot_pred_vs_exact(steps, pred="thm1/dH_pred", exact="thm1/dH_measured", hue="algo")
ax.legend(); ax.set_title("Theorem 1 at scale: ∇_θH·Δθ vs measured ΔH");"""),
        md("""
**Reading this plot.** Theorem 1 on the network: the first-order change ∇_θ H·Δθ of the entropy
on a fixed set of evaluation prefixes against the measured change after the update. LoRA steps
are not infinitesimal and Adam moves many parameters at once, so points scatter around y = x
rather than sitting on it."""),
    ]


NOTEBOOKS = {
    "01_bandit_entropy_theory": nb01_bandit_entropy_theory,
    "02_token_tree_dynamics": nb02_token_tree_dynamics,
    "03_precision": nb03_precision,
    "04_harness": nb04_harness,
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
