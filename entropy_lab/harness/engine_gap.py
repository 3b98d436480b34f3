"""The RMS per-token log-prob gap between a sampler engine and the trainer on the same tokens.

    gap = sqrt( Σ_{b,t} m_bt (ℓ_engine − ℓ_trainer)² / Σ_{b,t} m_bt )

over the real tokens of a batch (m = response mask: up to and including the first EOS), with
ℓ_engine from the sampler path under the engine's kernels (``engine.engine_logprobs``) and
ℓ_trainer from the trainer path (``policy.trainer_logprobs``), optionally itself run under a
reference engine's kernels (e.g. an fp32 LM head on the trainer side too). It is the quantity
of the published trainer–engine comparison (``entropy_lab/precision/calibration.py``,
``PUBLISHED_GAPS``). :func:`gap_table` measures it per precision mode × engine on one batch of
tokens per mode (sampled by the plain sampler, so every engine is scored on the same tokens).

    python -m entropy_lab.harness.engine_gap --seqs 1024        # the table in docs/precision.md
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from entropy_lab.harness.engine import EngineConfig, engine_kernels, engine_logprobs, get_engine
from entropy_lab.harness.model import PrecisionMode, get_mode
from entropy_lab.harness.policy import Rollout, sample, trainer_logprobs
from entropy_lab.precision.calibration import PUBLISHED_GAPS

DEFAULT_PAIRS = (
    ("trainer", "trainer"), ("attn-compute", "trainer"), ("attn-fp32", "trainer"),
    ("norm-compute", "trainer"), ("residual-compute", "trainer"), ("head-fp32", "trainer"),
    ("split-k2", "trainer"), ("split-k4", "trainer"), ("split-k8", "trainer"),
    ("bf16-engine", "trainer"), ("bf16-engine-fp32-head", "trainer"),
    ("bf16-engine-fp32-head", "head-fp32"),
)
"""(sampler engine, trainer-side kernels) rows of the default table."""


def gap_terms(model, batch: Rollout, mode: PrecisionMode, engine: EngineConfig | str,
              reference: EngineConfig | str = "trainer") -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sequence Σ_t m (ℓ_engine − ℓ_trainer)² and Σ_t m: float64 [B], [B]."""
    eng = engine_logprobs(model, batch.prompt_bp, batch.tokens_bt, mode, engine)
    with torch.no_grad(), engine_kernels(model, get_engine(reference)):
        trn, _ = trainer_logprobs(model, batch, mode)
    mask = batch.mask_bt.double()
    diff = (eng.double() - trn.double()) * mask
    return diff.pow(2).sum(1), mask.sum(1)


def measure_gap(model, batch: Rollout, mode: PrecisionMode, engine: EngineConfig | str,
                reference: EngineConfig | str = "trainer") -> float:
    """RMS per-token log-prob gap (nats) over the batch's real tokens (module docstring)."""
    sq_b, n_b = gap_terms(model, batch, mode, engine, reference)
    return math.sqrt(sq_b.sum().item() / n_b.sum().item())


def rms_with_se(sq_b: torch.Tensor, n_b: torch.Tensor) -> tuple[float, float]:
    """sqrt(Σ sq / Σ n) and its standard error, sequences as independent clusters (delta method
    on the ratio estimator of the mean square): [B], [B] -> (gap, se)."""
    seqs = sq_b.numel()
    msq = sq_b.sum().item() / n_b.sum().item()
    gap = math.sqrt(msq)
    resid = sq_b - msq * n_b
    se_msq = math.sqrt(resid.pow(2).sum().item() / max(seqs - 1, 1) / seqs) / n_b.mean().item()
    return gap, (se_msq / (2 * gap) if gap > 0 else 0.0)


def gap_stats(model, batch: Rollout, mode: PrecisionMode, engine: EngineConfig | str,
              reference: EngineConfig | str = "trainer") -> dict:
    """The gap with its standard error (:func:`rms_with_se`) and the token and sequence
    counts."""
    sq_b, n_b = gap_terms(model, batch, mode, engine, reference)
    gap, se = rms_with_se(sq_b, n_b)
    return {"gap": gap, "gap_se": se, "tokens": int(n_b.sum().item()), "seqs": sq_b.numel()}


def gap_table(model, prompt_bp: torch.Tensor, length: int, modes=("bf16", "fp16",
              "fp32_logprobs", "fp32"), pairs=DEFAULT_PAIRS, seed: int = 0, progress=None):
    """A DataFrame: one row per precision mode × (engine, reference) with the gap, its standard
    error, the engine's non-trainer options and the token count.

    Each mode's tokens are drawn once by the plain sampler (``policy.sample``, generator seeded
    ``seed``) from ``prompt_bp`` [B, P] and scored by every engine.
    """
    import pandas as pd

    rows = []
    for name in modes:
        mode = get_mode(name)
        gen = torch.Generator(device=prompt_bp.device).manual_seed(seed)
        batch = sample(model, prompt_bp, length, mode, gen)
        for engine, reference in pairs:
            eng = get_engine(engine)
            stats = gap_stats(model, batch, mode, eng, reference)
            rows.append({"precision": name, "engine": eng.name, "reference": reference,
                         "options": ", ".join(f"{k}={v}" for k, v in eng.options().items())
                         or "-", **stats})
            if progress:
                progress(rows[-1])
    return pd.DataFrame(rows)


def harness_prompts(cfg, seqs: int, generator: torch.Generator) -> torch.Tensor:
    """``seqs`` prompts split evenly over every registered task: LongTensor [seqs, P]."""
    from entropy_lab.harness import tasks as T

    names = T.TASKS.names()
    out = []
    for i, name in enumerate(names):
        task = T.make_task(name, cfg.answer_len, cfg.modulus)
        n = seqs // len(names) + (i < seqs % len(names))
        out.append(task.prompt_ids(task.sample_params(n, generator)))
    return torch.cat(out)


def to_markdown(df) -> str:
    """The table as markdown: one row per (engine, trainer kernels), one column per precision,
    each cell "gap ± standard error" in nats."""
    modes = list(dict.fromkeys(df.precision))
    lines = ["| sampler engine | trainer kernels | engine options | "
             + " | ".join(modes) + " |", "|---|---|---|" + "---|" * len(modes)]
    for (engine, reference), group in df.groupby(["engine", "reference"], sort=False):
        cells = {r.precision: f"{r.gap:.2e} ± {r.gap_se:.0e}" for r in group.itertuples()}
        lines.append(f"| `{engine}` | `{reference}` | {group.options.iloc[0]} | "
                     + " | ".join(cells.get(m, "") for m in modes) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    from entropy_lab.harness.config import make_config
    from entropy_lab.harness.model import resolve_device
    from entropy_lab.harness.pretrain import pretrained_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1, help="harness model-size dial")
    ap.add_argument("--seqs", type=int, default=1024, help="sequences per precision mode")
    ap.add_argument("--seed", type=int, default=0, help="model/pretraining and sampler seed")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--csv", default=None, help="also write the table here")
    args = ap.parse_args(argv)
    cfg = make_config("cpu-tiny", size=args.size, seed=args.seed, device=args.device)
    device = resolve_device(cfg.device)
    start = time.time()
    model, info = pretrained_model(cfg, device, progress=True)
    model.eval()
    prompts = harness_prompts(cfg, args.seqs, torch.Generator().manual_seed(args.seed)).to(device)
    df = gap_table(model, prompts, cfg.answer_len + 1, seed=args.seed,
                   progress=lambda r: print(f"{r['precision']:14s} {r['engine']:22s} "
                                            f"{r['reference']:10s} {r['gap']:.3e}", flush=True))
    print(f"\nmodel: size {cfg.size} ({sum(p.numel() for p in model.parameters())} parameters, "
          f"{info['path']}), {args.seqs} sequences per mode, {time.time() - start:.0f} s; "
          f"published gaps (Qwen2.5-0.5B): {PUBLISHED_GAPS}\n")
    print(to_markdown(df))
    if args.csv:
        df.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
