"""Pretraining (SFT) of the random-init model on the skewed, calibrated teacher of every task.

The model learns, for all registered tasks at once (so either can be trained by RL later), the
teacher distribution of :func:`tasks.teacher_sample`: free digits drawn from a peaked preference,
constrained digits correct with probability 1 − error_rate. The result has pass@1 well below
pass@k and entropy to lose. Loss: token-mean cross-entropy on the response tokens (digits + EOS).

Checkpoints are cached under ``<cache_dir>/pretrain/<hash>`` where the hash covers every setting
that changes the weights (vocabulary, size, task sizes, teacher, SFT budget, seed); a cached
checkpoint is loaded instead of retrained.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from entropy_lab.harness import tasks as T
from entropy_lab.harness.config import HarnessConfig
from entropy_lab.harness.model import build_model, save_vocab

PRETRAIN_KEYS = ("size", "answer_len", "modulus", "pretrain_steps", "pretrain_batch",
                 "pretrain_lr", "skew", "error_rate", "seed")


def default_cache_dir() -> Path:
    """``$ENTROPY_LAB_CACHE/harness``, else ``<checkout>/cache/harness``, else ``./cache/harness``.

    ``ENTROPY_LAB_CACHE`` is the cache root for everything (figures use ``<root>/figures``), as in
    ``docs/architecture.md``, "Environment variables".
    """
    env = os.environ.get("ENTROPY_LAB_CACHE")
    if env:
        return Path(env) / "harness"
    try:
        from entropy_lab.project import project_root

        return project_root() / "cache" / "harness"
    except FileNotFoundError:
        return Path.cwd() / "cache" / "harness"


def max_len(cfg: HarnessConfig) -> int:
    return T.PROMPT_LEN + cfg.answer_len + 1


def sft_batch(cfg: HarnessConfig, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """One SFT batch mixing every task equally: (prompt [B, P], response [B, L+1])."""
    names = T.TASKS.names()
    per = -(-cfg.pretrain_batch // len(names))
    prompts, responses = [], []
    for name in names:
        task = T.make_task(name, cfg.answer_len, cfg.modulus)
        params = task.sample_params(per, generator)
        prompts.append(task.prompt_ids(params))
        responses.append(T.teacher_sample(task, params, cfg.skew, cfg.error_rate, generator))
    return torch.cat(prompts)[: cfg.pretrain_batch], torch.cat(responses)[: cfg.pretrain_batch]


def sft_loss(model, prompt_bp: torch.Tensor, response_bt: torch.Tensor) -> torch.Tensor:
    """Token-mean cross-entropy of the response tokens given the prompt (fp32)."""
    ids = torch.cat([prompt_bp, response_bt[:, :-1]], dim=1)
    logits_btv = model(input_ids=ids).logits[:, prompt_bp.shape[1] - 1:]
    return torch.nn.functional.cross_entropy(logits_btv.reshape(-1, logits_btv.shape[-1]),
                                             response_bt.reshape(-1))


def pretrain(cfg: HarnessConfig, device: torch.device, progress: bool = False):
    """Train the random-init model on the teacher (fp32, Adam, linear warm-up then cosine).

    Returns:
        (model on ``device``, dict of SFT statistics: first and last loss, steps).
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    model = build_model(cfg.size, T.vocabulary(), max_len(cfg), gen).to(device)
    if cfg.pretrain_steps == 0:
        return model, {"sft/steps": 0}
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.pretrain_lr, weight_decay=0.0)
    warm = max(1, cfg.pretrain_steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (
        1 + torch.cos(torch.tensor(torch.pi * s / cfg.pretrain_steps)).item()))
    losses = []
    from tqdm.auto import tqdm

    for _ in tqdm(range(cfg.pretrain_steps), desc="pretrain", disable=not progress,
                  leave=False):
        prompt, resp = (x.to(device) for x in sft_batch(cfg, gen))
        loss = sft_loss(model, prompt, resp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    tail = losses[-max(1, len(losses) // 10):]
    return model, {"sft/steps": cfg.pretrain_steps, "sft/loss_first": losses[0],
                   "sft/loss_last": sum(tail) / len(tail)}


def pretrained_model(cfg: HarnessConfig, device: torch.device, cache_dir: Path | None = None,
                     progress: bool = False):
    """The pretrained model for ``cfg``, from the cache when present (trained and saved if not).

    Returns:
        (model on ``device``, info dict with ``path`` and whether it came from the cache).
    """
    from transformers import AutoModelForCausalLM

    cache_dir = Path(cache_dir or cfg.cache_dir or default_cache_dir())
    path = cache_dir / "pretrain" / cfg.digest(PRETRAIN_KEYS)
    if (path / "sft.json").exists():
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)
        return model, {**json.loads((path / "sft.json").read_text()), "path": str(path),
                       "cached": True}
    model, stats = pretrain(cfg, device, progress=progress)
    tmp = path.with_name(path.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    save_vocab(tmp, T.vocabulary())
    sub = {k: cfg.to_dict()[k] for k in PRETRAIN_KEYS}
    (tmp / "sft.json").write_text(json.dumps({**stats, "settings": sub}, indent=1))
    if path.exists():  # another process finished first; keep its copy
        return model, {**stats, "path": str(path), "cached": False}
    tmp.rename(path)
    return model, {**stats, "path": str(path), "cached": False}
