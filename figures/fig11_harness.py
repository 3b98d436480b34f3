"""Figure 11 — the transformer + LoRA harness: token entropy and exact pass@1 / pass@k along RL
training, per algorithm, and the sequential task A → B runs.

Data, the first that exists: ``results/harness_gpu/trajectories.csv`` (``benchmarks/gpu_harness.py``
on a GPU); the committed CPU study ``results/harness_study/`` (``entropy-lab harness-study``: 200
steps × 3 seeds per run, fp32 shown here, bands ± 1 SE over seeds; figure 13 shows its
precisions); else a short CPU-tiny run made here (one seed, a smoke picture). The figure's note
says which one it shows.

Reading: entropy falling as pass@1 rises under GRPO/DAPO, whether REPO-R holds entropy while still
learning, and (right, study only) how fast each phase-1 policy learns task B against GRPO from the
pretrained base.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
from _common import budget, require, require_finite, rolling, save, setup
from _runs import CACHE_ROOT, HARNESS_STUDY, ROOT, cached

from entropy_lab.analysis.plots_dynamics import plot_trajectories

# ``$ENTROPY_LAB_HARNESS_RESULTS`` names another trajectories file (tests use it).
GPU_RESULTS = Path(os.environ.get("ENTROPY_LAB_HARNESS_RESULTS")
                   or ROOT / "results" / "harness_gpu" / "trajectories.csv")
STUDY_PRECISION = "fp32"
WINDOW = 5  # the study's entropy curves: rolling mean over this many steps (a per-batch estimate)
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


def load() -> tuple[pd.DataFrame, int, str, pd.DataFrame | None]:
    """(per-step frame with a ``run`` column, k of pass@k, description of the source, the
    sequential and fresh runs on a common step axis or None)."""
    sequential = None
    if GPU_RESULTS.exists():
        runs = pd.read_csv(GPU_RESULTS)
        shown = GPU_RESULTS.relative_to(ROOT) if GPU_RESULTS.is_relative_to(ROOT) else GPU_RESULTS
        source = f"GPU results: {shown}"
    elif (HARNESS_STUDY / "study.csv.gz").exists():
        from entropy_lab.harness.study import describe, read_study

        df, meta = read_study(HARNESS_STUDY)
        runs = df[(df["kind"] == "grid") & (df["precision"] == STUDY_PRECISION)]
        sequential = _sequential(df, int(meta["settings"]["steps"]))
        shown = (HARNESS_STUDY.relative_to(ROOT) if HARNESS_STUDY.is_relative_to(ROOT)
                 else HARNESS_STUDY)
        source = (f"CPU study {shown}: {describe(meta)}; {STUDY_PRECISION} shown; bands ± 1 SE "
                  f"over seeds; entropy: rolling mean over {WINDOW} steps")
    else:
        settings = {"algorithms": CPU_ALGORITHMS, "precision": CPU_PRECISION, **CPU_SETTINGS}
        runs = cached("harness_cpu_tiny", settings, _cpu_runs)["runs"]
        source = (f"CPU-tiny harness run (no study or GPU results found), {CPU_PRECISION}, "
                  f"{CPU_SETTINGS['steps']} steps, 1 seed")
    ks = sorted(int(c.split("@")[1]) for c in runs.columns
                if c.startswith("exact/pass@") and c != "exact/pass@1")
    require(bool(ks), f"the harness data ({source}) have no exact/pass@k column")
    one_precision = runs.groupby("algo")["precision"].nunique().max() == 1
    label = runs["algo"] if one_precision else runs["algo"] + " " + runs["precision"].astype(str)
    return runs.assign(run=label), ks[-1], source, sequential


def _sequential(df: pd.DataFrame, steps: int) -> pd.DataFrame:
    """The sequential runs on one axis (phase 2 at ``steps + step``) and the fresh task-B runs
    shifted to start at the switch."""
    seq = df[df["kind"] == "sequential"]
    seq = seq.assign(t=seq["step"] + (seq["phase"] - 1) * steps, run="after A: " + seq["algo"])
    fresh = df[df["kind"] == "fresh"]
    fresh = fresh.assign(t=fresh["step"] + steps, run="fresh on B: " + fresh["algo"])
    return pd.concat([seq, fresh], ignore_index=True)


def main() -> None:
    setup()
    torch.set_num_threads(1)
    runs, k, source, sequential = load()
    columns = ["entropy/token", "exact/pass@1", f"exact/pass@{k}"]
    require(all(c in runs.columns for c in columns), f"harness metrics lack one of {columns}")
    exact = runs.dropna(subset=columns[1:])
    require_finite("harness entropy", runs["entropy/token"])
    require_finite("harness exact pass@k", exact[columns[1:]])
    seeded = "seed" in runs.columns and runs.groupby("run")["seed"].nunique().min() > 1
    band = "sem" if seeded else "none"
    panels = 3 if sequential is not None and len(sequential) else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.6 * panels, 4.2))
    ax_h, ax_p = axes[0], axes[1]
    shown = rolling(runs, WINDOW, "entropy/token") if sequential is not None else runs
    plot_trajectories(shown, y="entropy/token", hue="run", band=band, ax=ax_h)
    ax_h.set_ylabel("token entropy of the rollouts (nats)")
    ax_h.set_title("Harness: entropy along RL")
    ax_h.legend(fontsize=7)
    plot_trajectories(exact, y="exact/pass@1", hue="run", band=band, ax=ax_p,
                      label_prefix="pass@1 ")
    ax_p.set_prop_cycle(None)
    plot_trajectories(exact, y=f"exact/pass@{k}", hue="run", band=band, ax=ax_p,
                      label_prefix=f"pass@{k} ", linestyle="--")
    ax_p.set_ylabel(f"exact pass@1 (solid) and pass@{k} (dashed)")
    ax_p.set_title("Harness: exact pass@k along RL")
    ax_p.legend(fontsize=7, ncol=2)
    if panels == 3:
        ax_s = axes[2]
        seq = sequential.dropna(subset=["exact/pass@1"])
        for name, sub in seq.groupby("run"):
            plot_trajectories(sub.assign(algo=name.split(": ")[1]), y="exact/pass@1", x="t",
                              hue="algo", band="sem", ax=ax_s, label_prefix=name.split(": ")[0]
                              + ": ", linestyle="--" if name.startswith("fresh") else "-")
        switch = int(seq.loc[seq["phase"] == 2, "t"].min())
        ax_s.axvline(switch, color="#888888", lw=0.8)
        ax_s.set_xlabel("step (task A, then task B)")
        ax_s.set_ylabel("exact pass@1 on the current task")
        ax_s.set_title("Harness: task A → task B (fp32)")
        ax_s.legend(fontsize=7)
    save(fig, "fig11_harness", note=source)


if __name__ == "__main__":
    main()
