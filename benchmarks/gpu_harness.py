"""The harness at scale, in one call on a GPU: precision bias, entropy trajectories, throughput.

    python benchmarks/gpu_harness.py                 # GPU preset (needs CUDA), ~5-8 minutes
    python benchmarks/gpu_harness.py --tiny          # CPU-tiny settings, for testing the script

Three parts, each saved under ``--out`` (default ``results/harness_gpu``; with --tiny
``results/harness_gpu_tiny``) as soon as it is done, so a session out of time keeps what finished:

1. ``ratio_bias.csv`` — step 0 (pretrained policy, no update): for each precision mode, sample a
   batch with the sampler path (KV cache) and recompute the log-probs with the trainer path
   (full forward); r = exp(trainer − sampler) per token, binned by the sampler log-prob:
   E[r] − 1, fraction r ≠ 1, fraction outside the DAPO band [0.8, 1.28], token counts.
2. ``trajectories.csv`` — the harness metrics, step by step, for grpo, dapo, repo_r and adapo in
   bf16, and dapo in fp16 and fp32_logprobs (token entropy, pass@1, pass@k, exact pass@k, clip
   fractions, controller states, Theorem 1 predicted vs measured ΔH).
3. ``throughput.csv`` — generation and training tokens/s per precision at a fixed batch, and an
   MFU estimate: FLOPs/token = 2·P for generation and 4·P for LoRA training (forward 2·P plus the
   activation gradients 2·P; the frozen base has no weight gradients), P = parameters of the
   base model, against the device's dense peak for the compute dtype (``--peak-tflops``).

``summary.json`` holds the device, the settings and the headline numbers of each part.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from entropy_lab.harness import get_mode, make_config, make_task, run_harness
from entropy_lab.harness.metrics import RATIO_BAND
from entropy_lab.harness.model import resolve_device
from entropy_lab.harness.policy import sample, trainer_logits
from entropy_lab.harness.pretrain import pretrained_model

PRECISIONS = ("bf16", "fp16", "fp32", "fp32_logprobs")
RUNS = (("grpo", "bf16"), ("dapo", "bf16"), ("repo_r", "bf16"), ("adapo", "bf16"),
        ("dapo", "fp16"), ("dapo", "fp32_logprobs"))
LOGP_BINS = (-float("inf"), -8.0, -4.0, -2.0, -1.0, -0.5, -0.1, -0.01, 0.0)
# Dense tensor-core peaks (TFLOP/s) by device-name fragment: (bf16/fp16, fp32 without TF32).
PEAKS = {"H200": (989.0, 67.0), "H100": (989.0, 67.0), "A100": (312.0, 19.5)}

GPU = {"ratio_seqs": 8192, "steps": 60, "tput_seqs": 4096, "tput_reps": 5}
TINY = {"ratio_seqs": 64, "steps": 2, "tput_seqs": 32, "tput_reps": 1}


def settings(tiny: bool, cache: str | None) -> tuple[dict, dict]:
    budget = TINY if tiny else GPU
    base = {"device": "cpu" if tiny else "cuda", "cache_dir": cache}
    if tiny:
        base.update(pretrain_steps=30, pretrain_batch=32, prompts_per_step=2, group_size=4,
                    pass_k=2, eval_seqs=4, lora_rank=2)
    return budget, base


def ratio_bias_by_bin(model, cfg, device, n_seqs: int, gen_seed: int = 0) -> pd.DataFrame:
    """Step-0 sampler/trainer ratio statistics per precision and sampler log-prob bin."""
    rows = []
    for precision in PRECISIONS:
        mode = get_mode(precision)
        for task_name in ("digitsum", "palindrome"):
            task = make_task(task_name, cfg.answer_len, cfg.modulus)
            gen = torch.Generator(device).manual_seed(gen_seed)
            params = task.sample_params(n_seqs, torch.Generator().manual_seed(gen_seed))
            roll = sample(model, task.prompt_ids(params).to(device), task.response_len, mode, gen)
            with torch.no_grad():
                logits = trainer_logits(model, roll.prompt_bp, roll.tokens_bt, mode)
                logp = mode.log_probs(logits, roll.tokens_bt)
            on = roll.mask_bt > 0
            old = roll.old_logp_bt[on].double().cpu()
            r = torch.exp(logp[on].double().cpu() - old)
            bins = torch.bucketize(old, torch.tensor(LOGP_BINS[1:-1], dtype=torch.float64))
            for b in range(len(LOGP_BINS) - 1):
                sel = bins == b
                if not bool(sel.any()):
                    continue
                rb = r[sel]
                rows.append({
                    "precision": precision, "task": task_name,
                    "logp_lo": LOGP_BINS[b], "logp_hi": LOGP_BINS[b + 1],
                    "tokens": int(sel.sum()), "mean_r_minus_1": float(rb.mean() - 1),
                    "frac_r_ne_1": float((rb != 1).double().mean()),
                    "frac_out_band": float(((rb < RATIO_BAND[0]) | (rb > RATIO_BAND[1]))
                                           .double().mean()),
                    "max_abs_log_r": float(torch.log(rb).abs().max()),
                })
    return pd.DataFrame(rows)


def trajectories(budget: dict, base: dict, runs_dir: Path, deadline: float) -> pd.DataFrame:
    frames = []
    for algo, precision in RUNS:
        if time.perf_counter() > deadline:
            print(f"  budget spent: skipping {algo}/{precision}", file=sys.stderr)
            continue
        cfg = make_config(None if base["device"] == "cuda" else "cpu-tiny", algo=algo,
                          precision=precision, steps=budget["steps"], **base)
        t0 = time.perf_counter()
        df = run_harness(cfg, runs_dir / f"{algo}_{precision}", overwrite=True)
        df.insert(0, "algo", algo)
        df.insert(1, "precision", precision)
        df["run_wall_s"] = time.perf_counter() - t0
        frames.append(df)
        print(f"  {algo:7s} {precision:13s} H {df['entropy/token'].iloc[0]:.3f} -> "
              f"{df['entropy/token'].iloc[-1]:.3f}  pass@1 {df['pass@1'].iloc[-1]:.3f}  "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _peak(device: torch.device, dtype: torch.dtype, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for frag, (low, full) in PEAKS.items():
        if frag in name:
            return full if dtype == torch.float32 else low
    return None


def _train_step(model, roll, mode) -> None:
    logits = trainer_logits(model, roll.prompt_bp, roll.tokens_bt, mode)
    mode.log_probs(logits, roll.tokens_bt).sum().backward()


def _timed(fn, device, reps: int, *args) -> float:
    fn(*args)  # warm-up (kernels, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        fn(*args)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / reps


def throughput(model, cfg, device, n_seqs: int, reps: int, peak: float | None) -> pd.DataFrame:
    """Generation and LoRA-style training (base frozen) tokens/s per precision, with MFU."""
    from peft import LoraConfig, get_peft_model

    n_params = sum(p.numel() for p in model.parameters())
    lora = get_peft_model(model, LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha,
                                            target_modules=list(cfg.lora_targets)))
    task = make_task("digitsum", cfg.answer_len, cfg.modulus)
    prompts = task.prompt_ids(task.sample_params(n_seqs, torch.Generator().manual_seed(1)))
    prompts = prompts.to(device)
    rows = []
    for precision in PRECISIONS:
        mode = get_mode(precision)
        gen = torch.Generator(device).manual_seed(0)
        roll = sample(lora, prompts, task.response_len, mode, gen)
        gen_s = _timed(sample, device, reps, lora, prompts, task.response_len, mode, gen)
        train_s = _timed(_train_step, device, reps, lora, roll, mode)
        lora.zero_grad(set_to_none=True)
        gen_tokens = n_seqs * task.response_len
        train_tokens = n_seqs * (prompts.shape[1] + task.response_len - 1)
        pk = _peak(device, mode.compute_dtype, peak)
        rows.append({
            "precision": precision, "seqs": n_seqs, "params": n_params,
            "gen_tok_s": gen_tokens / gen_s, "train_tok_s": train_tokens / train_s,
            "gen_mfu": None if pk is None else 2 * n_params * gen_tokens / gen_s / (pk * 1e12),
            "train_mfu": None if pk is None else 4 * n_params * train_tokens / train_s
            / (pk * 1e12),
            "peak_tflops": pk,
        })
    lora.unload()
    return pd.DataFrame(rows)


def run(tiny: bool = False, out: str | Path | None = None, cache: str | None = None,
        budget_s: float = 420.0, peak_tflops: float | None = None,
        steps: int | None = None) -> dict:
    """Run the three parts; return the summary dict (also written to ``out/summary.json``)."""
    budget, base = settings(tiny, cache)
    if steps:
        budget = {**budget, "steps": steps}
    if not tiny and not torch.cuda.is_available():
        raise SystemExit("gpu_harness.py needs CUDA; use --tiny to test it on the CPU")
    out = Path(out or ("results/harness_gpu_tiny" if tiny else "results/harness_gpu"))
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    deadline = start + budget_s
    device = resolve_device(base["device"])
    cfg = make_config(None if not tiny else "cpu-tiny", **base)
    summary = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "torch": torch.__version__, "tiny": tiny, "config": cfg.to_dict(),
               "budget": budget}

    def save():
        summary["wall_s"] = time.perf_counter() - start
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))

    model, info = pretrained_model(cfg, device, progress=not tiny)
    model.requires_grad_(False)
    summary["pretrain"] = {k: v for k, v in info.items() if k != "settings"}
    print(f"pretrained ({time.perf_counter() - start:.0f} s)", file=sys.stderr)

    bias = ratio_bias_by_bin(model, cfg, device, budget["ratio_seqs"])
    bias.to_csv(out / "ratio_bias.csv", index=False)
    overall = bias.assign(w=bias["tokens"] * bias["mean_r_minus_1"]).groupby("precision")
    summary["ratio_bias_mean_r_minus_1"] = (overall["w"].sum() / overall["tokens"].sum()).to_dict()
    save()
    print(f"ratio bias done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)

    tput = throughput(model, cfg, device, budget["tput_seqs"], budget["tput_reps"], peak_tflops)
    tput.to_csv(out / "throughput.csv", index=False)
    summary["throughput"] = tput.to_dict(orient="records")
    save()
    print(f"throughput done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)

    with tempfile.TemporaryDirectory() as runs_dir:
        traj = trajectories(budget, base, Path(runs_dir), deadline)
    traj.to_csv(out / "trajectories.csv", index=False)
    if len(traj):
        k = cfg.pass_k
        last = traj.groupby(["algo", "precision"]).agg(
            H_first=("entropy/token", "first"), H_last=("entropy/token", "last"),
            pass1_last=("pass@1", "last"), passk_last=(f"pass@{k}", "last"),
            steps=("step", "count")).reset_index()
        summary["trajectories"] = last.to_dict(orient="records")
    save()
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="CPU-tiny settings (tests the script)")
    p.add_argument("--out", default=None, help="results folder")
    p.add_argument("--cache-dir", default=None, help="pretrained-checkpoint cache")
    p.add_argument("--budget-s", type=float, default=420.0,
                   help="no new trajectory run starts after this many seconds")
    p.add_argument("--steps", type=int, default=None, help="RL steps per trajectory run")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="device peak for the MFU estimate (default: from the device name)")
    args = p.parse_args(argv)
    if args.tiny:
        torch.set_num_threads(1)
    summary = run(args.tiny, args.out, args.cache_dir, args.budget_s, args.peak_tflops,
                  args.steps)
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
