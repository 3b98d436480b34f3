"""`entropy-lab harness`: pretrain (cached) a small causal LM, then RL with LoRA and any preset.

    entropy-lab harness --task digitsum --algo repo_r --precision bf16 --steps 20
    entropy-lab harness --algo dapo --precision fp16 --steps 200 --model PATH --out runs/x
    entropy-lab harness ... --resume          # continue the run in --out from its checkpoint

CPU-tiny preset by default; the GPU preset when CUDA is present (``--preset`` overrides).
"""

from __future__ import annotations

from pathlib import Path

from entropy_lab.commands._sets import add_set_argument, parse_sets

SHOWN = ("step", "entropy/token", "reward/mean", "pass@1", "ratio0/mean", "clip/frac_low",
         "clip/frac_high", "thm1/dH_pred", "thm1/dH_measured")


def add_arguments(p) -> None:
    from entropy_lab.harness.config import PRECISIONS, PRESETS, SAMPLER_PATHS
    from entropy_lab.harness.tasks import TASKS

    p.add_argument("--task", default="digitsum", choices=TASKS.names())
    p.add_argument("--algo", default="grpo", help="algorithm preset (entropy_lab.algorithms)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS)
    p.add_argument("--steps", type=int, default=None, help="RL steps (phase 1)")
    p.add_argument("--model", default=None, metavar="PATH",
                   help="local Hugging Face causal-LM checkpoint instead of the pretrained one")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default runs/harness/<task>_<algo>_<precision>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.add_argument("--preset", default=None, choices=PRESETS.names(),
                   help="settings preset (default: gpu with CUDA, else cpu-tiny)")
    p.add_argument("--size", type=int, default=None, help="model-size dial (hidden 64*size)")
    p.add_argument("--prompts", type=int, default=None, help="prompts per step (N)")
    p.add_argument("--group", type=int, default=None, help="samples per prompt (G)")
    p.add_argument("--lr", type=float, default=None, help="LoRA learning rate")
    p.add_argument("--lora-rank", type=int, default=None)
    p.add_argument("--lora-alpha", type=float, default=None)
    p.add_argument("--lora-targets", nargs="+", default=None, metavar="MODULE")
    p.add_argument("--sampler-path", default=None, choices=SAMPLER_PATHS)
    p.add_argument("--phase2-task", default=None, choices=TASKS.names(),
                   help="then train this task from the phase-1 policy (adapter merged)")
    p.add_argument("--phase2-steps", type=int, default=None)
    add_set_argument(p, "algorithm overrides, e.g. eps_high=0.3 minibatches=1")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N")
    p.add_argument("--cache-dir", default=None, help="pretrained-checkpoint cache folder")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads (1 is fastest for the tiny model on a shared machine)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--metrics-style", default="native", choices=("native", "verl", "trl"),
                   help="also write metrics_<style>.csv in the run folder with verl's / TRL's "
                        "metric names (docs/algorithms.md, \"Metric names\")")


def run(args) -> int:
    import torch

    from entropy_lab.harness import make_config, run_harness

    torch.set_num_threads(args.threads)
    lora_targets = tuple(args.lora_targets) if args.lora_targets else None
    cfg = make_config(
        args.preset, task=args.task, algo=args.algo, precision=args.precision, steps=args.steps,
        model_path=args.model, size=args.size, prompts_per_step=args.prompts,
        group_size=args.group, lr=args.lr, lora_rank=args.lora_rank, lora_alpha=args.lora_alpha,
        lora_targets=lora_targets, sampler_path=args.sampler_path, phase2_task=args.phase2_task,
        phase2_steps=args.phase2_steps, algo_overrides=tuple(parse_sets(args.set).items()) or None,
        seed=args.seed, device=args.device, cache_dir=args.cache_dir,
    )
    out = Path(args.out or Path("runs") / "harness" / f"{cfg.task}_{cfg.algo}_{cfg.precision}")
    df = run_harness(cfg, out, resume=args.resume, overwrite=args.overwrite,
                     progress=not args.no_progress)
    cols = [c for c in (*SHOWN, f"pass@{cfg.pass_k}") if c in df.columns]
    print(df[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if args.metrics_style != "native":
        from entropy_lab.analysis.metric_names import rename_metrics

        rename_metrics(df, args.metrics_style).to_csv(out / f"metrics_{args.metrics_style}.csv",
                                                      index=False)
    print(f"run folder: {out} (config.json, metrics.jsonl, checkpoint.pt, summary.json)")
    return 0
