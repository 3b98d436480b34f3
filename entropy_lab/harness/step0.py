"""Step-0 diagnostics of the transformer harness: the importance ratio before any update.

At θ_old, before an optimizer step, a PPO-style ratio r = exp(ℓ_θ − old) differs from 1 only
through the sampler/trainer mismatch. On one batch sampled by a sampler engine
(:mod:`entropy_lab.harness.engine`; the engine draws each token from its own distribution and
reports ℓ_s from that pass), per precision mode × engine × old-log-prob convention
(:mod:`entropy_lab.algorithms.conventions`):

    ℓ_t   = the trainer path's log-prob at θ_old (the update's own forward, first minibatch)
    old   = ℓ_s (rollout / bypass), ℓ_t (recompute, same layout: r = 1 exactly), or the trainer
            recomputed in another reduction order (recompute/reordered: every linear layer as
            2 K-chunk GEMMs, ``split-k2`` kernels; real arithmetic, no noise)
    w     = the convention's weight (TIS min(ρ, 2), IcePop 1[0.5 ≤ ρ ≤ 5], ρ = exp(old − ℓ_s))

and reports, binned by ℓ_t (:data:`~entropy_lab.precision.measure.LOGP_EDGES`): E[r] − 1 with a
standard error that treats sequences as independent clusters, the RMS gap ℓ_t − ℓ_s, the fraction
of tokens with r ≠ 1, out of the band [1 − ε_l, 1 + ε_h] by side, and the clip fraction by side
before any update (A > 0 and r > 1 + ε_h; A < 0 and r < 1 − ε_l, A the GRPO advantage of the
batch's rewards): the "ratio ≠ 1 and non-zero clip fraction on-policy" of RL frameworks. The
sums and their tidy frames are :func:`entropy_lab.precision.measure.bin_sums` /
:func:`~entropy_lab.precision.measure.summarise`, the ones the tabular measurement uses.

    python -m entropy_lab.harness.step0 --seqs 512      # the table in docs/precision.md
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from entropy_lab.algorithms import get_preset
from entropy_lab.algorithms.advantages import broadcast_advantages
from entropy_lab.algorithms.conventions import get_convention
from entropy_lab.harness.engine import engine_kernels
from entropy_lab.harness.model import get_mode
from entropy_lab.harness.policy import TransformerPolicy, trainer_logprobs
from entropy_lab.precision.measure import LOGP_EDGES, TokenRatios, bin_sums, summarise

F64 = torch.float64
CONVENTIONS = ("rollout", "recompute", "recompute/reordered", "recompute+tis", "recompute+icepop")
REORDERED_KERNELS = "split-k2"
"""The trainer kernels of the reordered recompute: another reduction order of every GEMM."""


def step0_passes(model, mode, task, prompts: torch.Tensor, group_size: int, engine: str,
                 generator: torch.Generator, device) -> dict:
    """One engine-sampled batch and the trainer's log-probs of it: ``sampler``, ``trainer``,
    ``reordered`` (float64 ``[B, T]``), ``mask`` (bool) and ``adv`` (GRPO advantages ``[B, T]``)."""
    policy = TransformerPolicy(model, mode, task, device, engine=engine)
    batch = policy.sample(prompts, group_size, generator)
    rollout = batch.data
    with torch.no_grad():
        trainer, _ = trainer_logprobs(model, rollout, mode)
        with engine_kernels(model, REORDERED_KERNELS):
            reordered, _ = trainer_logprobs(model, rollout, mode)
    mask = batch.mask_bt
    adv = get_preset("grpo").advantages(batch.rewards_ng.to(F64))
    adv = broadcast_advantages(adv, mask.reshape(*batch.rewards_ng.shape, -1)).reshape(mask.shape)
    return {"sampler": batch.sampler_logp_bt.to(F64), "trainer": trainer.to(F64),
            "reordered": reordered.to(F64), "mask": mask, "adv": adv}


def convention_tokens(passes: dict, convention: str) -> TokenRatios:
    """The ratios ``[B, T]`` of the passes under ``convention`` (a name of :data:`CONVENTIONS`);
    the ratio is formed in float32, as the harness's losses form it."""
    name, _, layout = convention.partition("/")
    conv = get_convention(name)
    s, t = passes["sampler"], passes["trainer"]
    recompute = None
    if conv.recomputes:
        recompute = passes["reordered"] if layout == "reordered" else t
    old = conv.old_logp(s, recompute)
    ratio = torch.exp(t.float() - old.float()).to(F64)
    return TokenRatios(t, ratio, torch.ones_like(ratio), conv.is_weight(s, recompute),
                       conv.corrected(s, recompute), t - s)


def clip_fractions(tok: TokenRatios, adv: torch.Tensor, mask: torch.Tensor,
                   eps_low: float, eps_high: float) -> dict:
    """Clip fraction by side before any update over the real tokens: ``clip_high`` (A > 0 and
    r > 1 + ε_h) and ``clip_low`` (A < 0 and r < 1 − ε_l)."""
    n = mask.sum().clamp(min=1).to(F64)
    high = (adv > 0) & (tok.ratio > 1 + eps_high) & mask
    low = (adv < 0) & (tok.ratio < 1 - eps_low) & mask
    return {"clip_high": (high.sum() / n).item(), "clip_low": (low.sum() / n).item()}


def step0_diagnostics(model, mode_name: str, task, prompts: torch.Tensor, group_size: int,
                      engine: str, *, conventions=CONVENTIONS, eps_low: float = 0.2,
                      eps_high: float = 0.28, seed: int = 0, device="cpu"):
    """(by_bin, summary) DataFrames for one precision mode × engine, one block per convention
    (module docstring), all conventions over the same tokens."""
    mode = get_mode(mode_name)
    gen = torch.Generator(device=device).manual_seed(seed)
    passes = step0_passes(model, mode, task, prompts, group_size, engine, gen, device)
    by_bin, summary = [], []
    for conv in conventions:
        tok = convention_tokens(passes, conv)
        total = bin_sums(tok, LOGP_EDGES, eps_low, eps_high, mask=passes["mask"])
        res = summarise(total, mode_name, LOGP_EDGES, convention=conv)
        extra = clip_fractions(tok, passes["adv"], passes["mask"], eps_low, eps_high)
        for frame in (res.by_bin, res.summary):
            frame.insert(1, "engine", engine)
        by_bin.append(res.by_bin)
        summary.append(res.summary.assign(**extra, seqs=int(passes["mask"].shape[0])))
    return pd.concat(by_bin, ignore_index=True), pd.concat(summary, ignore_index=True)


SUMMARY_COLUMNS = ("pipeline", "engine", "convention", "n", "gap_rms", "measured_bias", "bias_se",
                   "frac_ne1", "frac_upper", "frac_lower", "clip_high", "clip_low",
                   "frac_corrected")


def to_markdown(summary: pd.DataFrame, tail: pd.DataFrame | None = None) -> str:
    """The summary as a markdown table (one row per precision × engine × convention); with
    ``tail`` (the by-bin rows pooled over ℓ_t < −5 per row key) an extra E[r] − 1 column."""
    head = ("| precision | engine | convention | tokens | RMS gap | E[r] − 1 ± SE | "
            + ("E[r] − 1, ℓ < −5 ± SE | " if tail is not None else "")
            + "r ≠ 1 | out above / below | clip high / low |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in summary.itertuples():
        cells = [r.pipeline, f"`{r.engine}`", r.convention, f"{r.n}", f"{r.gap_rms:.4f}",
                 f"{r.measured_bias:+.1e} ± {r.bias_se:.0e}"]
        if tail is not None:
            t = tail[(tail.pipeline == r.pipeline) & (tail.engine == r.engine)
                     & (tail.convention == r.convention)]
            cells.append(f"{t.measured_bias.iloc[0]:+.1e} ± {t.bias_se.iloc[0]:.0e} "
                         f"(n {int(t.n.iloc[0])})" if len(t) and t.n.iloc[0] > 0 else "—")
        cells += [f"{100 * r.frac_ne1:.1f}%", f"{100 * r.frac_upper:.2f}% / "
                  f"{100 * r.frac_lower:.2f}%", f"{100 * r.clip_high:.2f}% / "
                  f"{100 * r.clip_low:.2f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pooled_tail(by_bin: pd.DataFrame, below: float = -5.0) -> pd.DataFrame:
    """E[r] − 1 and its SE pooled over the bins with ℓ_t < ``below``, per (precision, engine,
    convention): the bins' token counts weight the means; the SEs combine as independent."""
    rows = []
    keys = ["pipeline", "engine", "convention"]
    for key, g in by_bin[by_bin.logp_hi <= below].groupby(keys, sort=False):
        g = g[g.n > 0]
        n = g.n.sum()
        mean = (g.measured_bias * g.n).sum() / n if n else float("nan")
        se = ((g.bias_se * g.n) ** 2).sum() ** 0.5 / n if n else float("nan")
        rows.append(dict(zip(keys, key, strict=True), n=int(n), measured_bias=mean, bias_se=se))
    return pd.DataFrame(rows, columns=[*keys, "n", "measured_bias", "bias_se"])


def main(argv=None) -> None:
    from entropy_lab.harness.config import make_config
    from entropy_lab.harness.model import resolve_device
    from entropy_lab.harness.pretrain import pretrained_model
    from entropy_lab.harness.tasks import make_task

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1, help="harness model-size dial")
    ap.add_argument("--seqs", type=int, default=512, help="prompts per precision × engine")
    ap.add_argument("--group-size", type=int, default=4)
    ap.add_argument("--modes", nargs="+", default=["bf16", "fp16", "fp32_logprobs", "fp32"])
    ap.add_argument("--engines", nargs="+", default=["trainer", "bf16-engine"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--csv", default=None, help="also write the summary here")
    args = ap.parse_args(argv)
    cfg = make_config("cpu-tiny", size=args.size, seed=args.seed, device=args.device)
    device = resolve_device(cfg.device)
    model, info = pretrained_model(cfg, device, progress=True)
    model.eval()
    task = make_task(cfg.task, cfg.answer_len, cfg.modulus)
    prompts = task.sample_params(args.seqs, torch.Generator().manual_seed(args.seed)).to(device)
    t0 = time.perf_counter()
    by_bin, summary = [], []
    for mode in args.modes:
        for engine in args.engines:
            b, s = step0_diagnostics(model, mode, task, prompts, args.group_size, engine,
                                     seed=args.seed, device=device)
            by_bin.append(b)
            summary.append(s)
            print(f"{mode} × {engine}: {time.perf_counter() - t0:.0f} s", flush=True)
    by_bin, summary = pd.concat(by_bin), pd.concat(summary, ignore_index=True)
    print(f"\nmodel: size {cfg.size} ({sum(p.numel() for p in model.parameters())} parameters, "
          f"{info['path']}), task {cfg.task}, {args.seqs} prompts × G = {args.group_size}, "
          f"{time.perf_counter() - t0:.0f} s\n")
    print(to_markdown(summary, pooled_tail(by_bin)))
    if args.csv:
        summary.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
