"""Figure 11 — the transformer + LoRA harness: token entropy and exact pass@1 / pass@k along RL
training, per algorithm (and precision).

Data: ``results/harness_gpu/trajectories.csv`` (written by ``benchmarks/gpu_harness.py`` on a
GPU) when it exists; otherwise a short CPU-tiny harness run made here (a 133k-parameter Llama,
one seed). The figure's note says which one it shows.

Reading: the same phenomena as the tabular figures on a real network: entropy falling as
pass@1 rises under GRPO/DAPO, and whether REPO-R holds entropy while still learning. CPU-tiny runs
are a few dozen steps of a tiny model — a smoke picture, not evidence.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
from _common import budget, require, require_finite, save, setup
from _runs import CACHE_ROOT, ROOT, cached

from entropy_lab.analysis.plots_dynamics import plot_trajectories

# ``$ENTROPY_LAB_HARNESS_RESULTS`` names another trajectories file (tests use it).
GPU_RESULTS = Path(os.environ.get("ENTROPY_LAB_HARNESS_RESULTS")
                   or ROOT / "results" / "harness_gpu" / "trajectories.csv")
CPU_ALGORITHMS = budget(("grpo", "dapo", "repo_r"), ("grpo", "repo_r"))
CPU_PRECISION = "fp32"
CPU_SETTINGS = budget(
    {"steps": 20},
    {"steps": 3, "pretrain_steps": 30, "pretrain_batch": 32, "prompts_per_step": 2,
     "group_size": 4, "pass_k": 2, "eval_seqs": 4, "lora_rank": 2},
)
PRETRAIN_CACHE = CACHE_ROOT / "harness"


def _cpu_runs() -> dict[str, pd.DataFrame]:
    from entropy_lab.harness import make_config, run_harness

    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for algo in CPU_ALGORITHMS:
            cfg = make_config("cpu-tiny", algo=algo, precision=CPU_PRECISION,
                              cache_dir=str(PRETRAIN_CACHE), **CPU_SETTINGS)
            df = run_harness(cfg, Path(tmp) / algo, overwrite=True)
            frames.append(df.assign(algo=algo, precision=CPU_PRECISION, pass_k=cfg.pass_k))
    return {"runs": pd.concat(frames, ignore_index=True)}


def load() -> tuple[pd.DataFrame, int, str]:
    """(per-step frame with a ``run`` column, k of pass@k, description of the source)."""
    if GPU_RESULTS.exists():
        runs = pd.read_csv(GPU_RESULTS)
        ks = sorted(int(c.split("@")[1]) for c in runs.columns
                    if c.startswith("exact/pass@") and c != "exact/pass@1")
        require(bool(ks), f"{GPU_RESULTS} has no exact/pass@k column")
        shown = GPU_RESULTS.relative_to(ROOT) if GPU_RESULTS.is_relative_to(ROOT) else GPU_RESULTS
        source = f"GPU results: {shown}"
        k = ks[-1]
    else:
        settings = {"algorithms": CPU_ALGORITHMS, "precision": CPU_PRECISION, **CPU_SETTINGS}
        runs = cached("harness_cpu_tiny", settings, _cpu_runs)["runs"]
        k = int(runs["pass_k"].iloc[0])
        source = (f"CPU-tiny harness run (no GPU results found), {CPU_PRECISION}, "
                  f"{CPU_SETTINGS['steps']} steps, 1 seed")
    one_precision = runs.groupby("algo")["precision"].nunique().max() == 1
    label = runs["algo"] if one_precision else runs["algo"] + " " + runs["precision"].astype(str)
    return runs.assign(run=label), k, source


def main() -> None:
    setup()
    torch.set_num_threads(1)
    runs, k, source = load()
    columns = ["entropy/token", "exact/pass@1", f"exact/pass@{k}"]
    require(all(c in runs.columns for c in columns), f"harness metrics lack one of {columns}")
    exact = runs.dropna(subset=columns[1:])
    require_finite("harness entropy", runs["entropy/token"])
    require_finite("harness exact pass@k", exact[columns[1:]])
    fig, (ax_h, ax_p) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    plot_trajectories(runs, y="entropy/token", hue="run", band="none", ax=ax_h)
    ax_h.set_ylabel("token entropy of the rollouts (nats)")
    ax_h.set_title("Harness: entropy along RL")
    ax_h.legend(fontsize=7)
    plot_trajectories(exact, y="exact/pass@1", hue="run", band="none", ax=ax_p,
                      label_prefix="pass@1 ")
    ax_p.set_prop_cycle(None)
    plot_trajectories(exact, y=f"exact/pass@{k}", hue="run", band="none", ax=ax_p,
                      label_prefix=f"pass@{k} ", linestyle="--")
    ax_p.set_ylabel(f"exact pass@1 (solid) and pass@{k} (dashed)")
    ax_p.set_title("Harness: exact pass@k along RL")
    ax_p.legend(fontsize=7, ncol=2)
    save(fig, "fig11_harness", note=source)


if __name__ == "__main__":
    main()
