"""The harness RL loop: LoRA on a causal LM, any preset of ``entropy_lab.algorithms``.

One step (docs/algorithms.md, "The one RL step"): the harness samples and scores a batch through
its policy adapter and hands it to the step all worlds share; nothing of the algorithm is written
here.

    prompts  = task.sample_params(N)                          # N prompts, each repeated G times
    batch    = TransformerPolicy.sample(prompts, G)           # KV-cache sampler, rewards
    row      = ratio statistics of the trainer's recompute against the sampler's log-probs
    rl_iteration(policy, algo, state, batch, update)          # entropy_lab.algorithms.step

What stays here: prompt sampling, the fp16 loss scaling (``update``), the Theorem 1 probe, exact
pass@k, timing and checkpoints.

The base weights are frozen (peft LoRA); the Theorem 1 probe and the exact pass@k are measured
around the update on fixed data. A second phase on another task starts from the phase-1 policy
with its adapter merged into the base weights and a fresh adapter on top.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from entropy_lab.algorithms import get_preset
from entropy_lab.algorithms.step import logp_bins, rl_iteration, rollout_entropy
from entropy_lab.harness import metrics as M
from entropy_lab.harness import tasks as T
from entropy_lab.harness.config import HarnessConfig
from entropy_lab.harness.model import (
    check_precision_supported,
    get_mode,
    is_out_of_memory,
    load_model,
    out_of_memory_error,
    resolve_device,
)
from entropy_lab.harness.policy import Rollout, TransformerPolicy, sample
from entropy_lab.harness.pretrain import pretrained_model
from entropy_lab.harness.runio import RunDir
from entropy_lab.harness.theorem1 import Theorem1Probe
from entropy_lab.validation import InputError


def make_algorithm(cfg: HarnessConfig):
    """The preset ``cfg.algo`` with ``cfg.algo_overrides`` applied."""
    return get_preset(cfg.algo, **dict(cfg.algo_overrides))


def base_model(cfg: HarnessConfig, device: torch.device, progress: bool = False):
    """The frozen base: ``cfg.model_path`` if given, else the cached pretrained model."""
    if cfg.model_path:
        return load_model(cfg.model_path, T.vocabulary()).to(device), {"path": cfg.model_path}
    return pretrained_model(cfg, device, progress=progress)


def add_adapter(model, cfg: HarnessConfig, generator: torch.Generator):
    """Wrap ``model`` with fresh LoRA adapters (A ~ U(±1/sqrt(fan_in)) from ``generator``,
    B = 0, as peft's default init but without the global RNG); base weights frozen."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha,
                      target_modules=list(cfg.lora_targets), lora_dropout=0.0, bias="none")
    try:
        peft_model = get_peft_model(model, lora)
    except ValueError as exc:
        raise InputError(f"lora_targets={cfg.lora_targets!r} is not allowed for this model: "
                         f"{str(exc).splitlines()[0]}") from None
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_A" in name:
                bound = p.shape[1] ** -0.5
                u = torch.rand(p.shape, generator=generator, dtype=torch.float32)
                p.copy_((2 * u - 1) * bound)
            elif "lora_B" in name:
                p.zero_()
    return peft_model


def trainable(model) -> list[tuple[str, torch.Tensor]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


@dataclass
class Session:
    """The mutable state of one RL phase (everything a checkpoint holds)."""

    model: object
    task: T.Task
    algo: object
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    gen_cpu: torch.Generator
    gen_dev: torch.Generator
    eval_batch: Rollout
    phase: int
    step: int = 0
    algo_state: object = None
    init_entropy: float | None = None
    correct_sizes: dict = field(default_factory=dict)

    def state_dict(self) -> dict:
        return {"phase": self.phase, "step": self.step, "init_entropy": self.init_entropy,
                "adapter": {n: p.detach().cpu() for n, p in trainable(self.model)},
                "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                "algo_state": None if self.algo_state is None else self.algo_state.state_dict(),
                "gen_cpu": self.gen_cpu.get_state(), "gen_dev": self.gen_dev.get_state(),
                "eval_batch": {k: v.cpu() for k, v in vars(self.eval_batch).items()}}

    def load_state_dict(self, d: dict) -> None:
        params = dict(trainable(self.model))
        with torch.no_grad():
            for n, v in d["adapter"].items():
                params[n].copy_(v)
        self.optimizer.load_state_dict(d["optimizer"])
        self.scaler.load_state_dict(d["scaler"])
        self.gen_cpu.set_state(d["gen_cpu"])
        self.gen_dev.set_state(d["gen_dev"])
        device = next(iter(params.values())).device
        self.eval_batch = Rollout(**{k: v.to(device) for k, v in d["eval_batch"].items()})
        self.step, self.init_entropy = d["step"], d["init_entropy"]
        if d["algo_state"] is not None:
            self.algo_state = self.algo.init_state(torch.tensor(self.init_entropy,
                                                                dtype=torch.float32))
            self.algo_state.load_state_dict(d["algo_state"])


def new_session(base, cfg: HarnessConfig, phase: int, task_name: str, algo,
                device: torch.device) -> Session:
    """Fresh adapter, optimizer and generators for one phase; the Theorem 1 batch is drawn
    from the phase's initial policy."""
    seed = cfg.seed + 1000 * phase
    model = add_adapter(base, cfg, torch.Generator().manual_seed(seed))
    task = T.make_task(task_name, cfg.answer_len, cfg.modulus)
    params = [p for _, p in trainable(model)]
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    mode = get_mode(cfg.precision)
    scaler = torch.amp.GradScaler(device.type, enabled=mode.loss_scaling)
    gen_eval = torch.Generator(device).manual_seed(seed + 7)
    eval_params = task.sample_params(cfg.eval_seqs, torch.Generator().manual_seed(seed + 7))
    eval_batch = sample(model, task.prompt_ids(eval_params).to(device), task.response_len,
                        get_mode("fp32"), gen_eval)
    sizes = {p: task.correct_set(p).shape[0] for p in range(task.num_prompts)}
    return Session(model, task, algo, optimizer, scaler, torch.Generator().manual_seed(seed),
                   torch.Generator(device).manual_seed(seed + 1), eval_batch, phase,
                   correct_sizes=sizes)


def _sync(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def rl_step(s: Session, cfg: HarnessConfig, device: torch.device) -> dict:
    """One RL iteration through :func:`~entropy_lab.algorithms.step.rl_iteration`; returns the
    metrics row (see the README for each key)."""
    mode = get_mode(cfg.precision)
    n, g = cfg.prompts_per_step, cfg.group_size
    policy = TransformerPolicy(s.model, mode, s.task, device, cfg.sampler_path, cfg.engine)
    params_n = s.task.sample_params(n, s.gen_cpu)
    t0 = _sync(device)
    batch = policy.sample(params_n, g, s.gen_dev)
    t1 = _sync(device)
    rollout = batch.data
    n_tokens = float(rollout.mask_bt.sum())
    token_entropy = float(rollout_entropy(batch))
    if s.algo_state is None:
        s.init_entropy = token_entropy
    logp0_bt = policy.recompute_logprobs(batch)
    row = {"phase": s.phase, "task": s.task.name, "step": s.step,
           "entropy/token": token_entropy,
           **M.success_metrics(batch.rewards_ng, cfg.pass_k),
           "coverage": M.coverage(s.task, params_n, rollout.tokens_bt, batch.rewards_ng,
                                  s.correct_sizes),
           **M.ratio_stats(logp0_bt, rollout.old_logp_bt, rollout.mask_bt)}
    probe = None
    if cfg.theorem1_every and s.step % cfg.theorem1_every == 0:
        probe = Theorem1Probe(s.model, s.eval_batch, policy.parameters())
        probe.before()
    t2 = _sync(device)
    res = rl_iteration(policy, s.algo, s.algo_state, batch, _scaled_update(s),
                       generator=s.gen_cpu, old_logp=cfg.old_logp,
                       token_bins=logp_bins(batch.sampler_logp_bt))
    s.algo_state = res.state
    t3 = _sync(device)
    row.update({k: float(v) for k, v in res.metrics.items()})
    if probe is not None:
        row.update(probe.after())
    if cfg.exact_every and s.step % cfg.exact_every == 0:
        row.update(M.exact_success(s.model, s.task, sorted({cfg.pass_k, *M.EXACT_KS}), device))
    row.update({f"ctrl/{k}": v for k, v in s.algo_state.values().items()})
    row.update({"speed/gen_tok_s": n_tokens / max(t1 - t0, 1e-9),
                "speed/train_tok_s": s.algo.epochs * n_tokens / max(t3 - t2, 1e-9),
                "time/gen_s": t1 - t0, "time/train_s": t3 - t2})
    if mode.loss_scaling:
        row["fp16/loss_scale"] = s.scaler.get_scale()
    s.step += 1
    return row


def _scaled_update(s: Session):
    """``loss -> None``: zero, (fp16-scaled) backward, optimizer step through the GradScaler."""

    def update(loss: torch.Tensor) -> None:
        s.optimizer.zero_grad(set_to_none=True)
        s.scaler.scale(loss).backward()
        s.scaler.step(s.optimizer)
        s.scaler.update()

    return update


def _phases(cfg: HarnessConfig) -> list[tuple[int, str, int]]:
    phases = [(1, cfg.task, cfg.steps)]
    if cfg.phase2_task is not None:
        phases.append((2, cfg.phase2_task, cfg.phase2_steps))
    return phases


def run_harness(cfg: HarnessConfig, out: str | Path, resume: bool = False,
                overwrite: bool = False, progress: bool = False,
                algorithm=None) -> pd.DataFrame:
    """Pretrain (cached) and run the RL phase(s) of ``cfg``, writing everything to ``out``.

    Args:
        algorithm: an ``entropy_lab.algorithms.Algorithm`` to use instead of the preset
            ``cfg.algo`` (e.g. one whose loss is a user-registered function).
    Returns:
        The metrics, one row per finished step (also in ``out/metrics.jsonl``).
    Raises:
        InputError: bad settings, an unusable model or precision, or out of memory (the
            message names the size dial).
    """
    try:
        return _run(cfg, RunDir(out), resume, overwrite, progress, algorithm)
    except (RuntimeError, torch.OutOfMemoryError) as exc:
        if is_out_of_memory(exc):
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise out_of_memory_error(cfg.size, cfg.prompts_per_step * cfg.group_size) from None
        raise


def _run(cfg, run_dir: RunDir, resume, overwrite, progress, algorithm) -> pd.DataFrame:
    from tqdm.auto import tqdm

    device = resolve_device(cfg.device)
    check_precision_supported(get_mode(cfg.precision), device)
    algo = algorithm if algorithm is not None else make_algorithm(cfg)
    run_dir.start(cfg, resume=resume, overwrite=overwrite)
    ckpt = run_dir.load_checkpoint() if resume else None
    at = (ckpt["phase"], ckpt["step"]) if ckpt else (1, 0)
    run_dir.truncate_metrics(lambda r: (r["phase"], r["step"]) < at)
    model, info = base_model(cfg, device, progress=progress)
    for p in model.parameters():
        p.requires_grad_(False)
    phases = _phases(cfg)
    for phase, task_name, steps in phases:
        s = new_session(model, cfg, phase, task_name, algo, device)
        if phase < at[0]:
            s.load_state_dict(run_dir.load_tensor_dict("phase1_adapter.pt"))
        elif ckpt is not None and phase == at[0]:
            s.load_state_dict(ckpt)
        bar = tqdm(total=steps, initial=s.step, desc=f"{task_name} {cfg.algo} {cfg.precision}",
                   disable=not progress)
        while s.step < steps:
            row = rl_step(s, cfg, device)
            run_dir.append_metrics(row)
            if s.step % cfg.checkpoint_every == 0 or s.step == steps:
                run_dir.save_checkpoint(s.state_dict())
            bar.update(1)
            bar.set_postfix(H=f"{row['entropy/token']:.3f}", R=f"{row['reward/mean']:.2f}")
        bar.close()
        if phase < len(phases):
            if phase >= at[0]:
                run_dir.save_tensor_dict("phase1_adapter.pt", s.state_dict())
            model = s.model.merge_and_unload()
            for p in model.parameters():
                p.requires_grad_(False)
    rows = run_dir.read_metrics()
    run_dir.write_summary({"base": info.get("path"), "steps": len(rows),
                           **{f"final/{k}": v for k, v in (rows[-1] if rows else {}).items()
                              if isinstance(v, (int, float))}})
    return pd.DataFrame(rows)
