"""`entropy-lab harness`: pretrain (cached) a small causal LM, then RL with LoRA and any preset.

    entropy-lab harness --task digitsum --algo repo_r --precision bf16 --steps 20
    entropy-lab harness --algo dapo --precision fp16 --steps 200 --model PATH --out runs/x
    entropy-lab harness ... --resume          # continue the run in --out from its checkpoint

CPU-tiny preset by default; the GPU preset when CUDA is present (``--preset`` overrides). Every
:class:`~entropy_lab.harness.config.HarnessConfig` field is a flag (``--lora-rank 4``), its
docstring, unit and defaults (both presets) in ``--help``.
"""

from __future__ import annotations

from pathlib import Path

from entropy_lab.commands._sets import add_set_argument, parse_sets

SHOWN = ("step", "entropy/token", "reward/mean", "pass@1", "ratio0/mean", "clip/frac_low",
         "clip/frac_high", "thm1/dH_pred", "thm1/dH_measured")


# Spellings kept from before the flags were generated from HarnessConfig.
ALIASES = {"model_path": ["--model"], "prompts_per_step": ["--prompts"], "group_size": ["--group"]}


def add_arguments(p) -> None:
    from entropy_lab.commands._config_args import add_config_arguments
    from entropy_lab.harness.config import PRESETS, HarnessConfig

    gpu = PRESETS.get("gpu")
    add_config_arguments(
        p.add_argument_group("run settings (HarnessConfig fields; defaults of the cpu-tiny "
                             "preset)"),
        HarnessConfig, skip=("algo_overrides",), aliases=ALIASES,
        extra_default=lambda name: f"gpu preset: {gpu[name]}" if name in gpu else None)
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default runs/harness/<task>_<algo>_<precision>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.add_argument("--preset", default=None, choices=PRESETS.names(),
                   help="settings preset (default: gpu with CUDA, else cpu-tiny)")
    add_set_argument(p, "algorithm overrides, e.g. eps_high=0.3 minibatches=1")
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
    from entropy_lab.commands._config_args import config_overrides
    from entropy_lab.harness.config import HarnessConfig

    overrides = config_overrides(args, HarnessConfig, skip=("algo_overrides",))
    sets = tuple(parse_sets(args.set).items())
    cfg = make_config(args.preset, **overrides, algo_overrides=sets or None)
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
