"""The transformer policy's two paths to the same log-probs.

- Sampler path (:func:`sample`): incremental decoding with a KV cache, one token at a time, as an
  inference engine does; it records the log-prob of each sampled token and the exact token
  entropy H(π(·|prefix)) over the whole vocabulary at each generated position.
- Trainer path (:func:`trainer_logits`, :func:`trainer_logprobs`): one full forward over prompt +
  response, differentiable, as the trainer does.

Both run under the precision mode's autocast and log-softmax dtype. With ``sampler_path="full"``
the rollout's log-probs are recomputed by the trainer path, so at the start of a step the
sampler/trainer ratio is exactly 1 in any dtype; with the KV-cache path it differs from 1 by
whatever the two computations disagree on (mechanism (e), docs/precision.md, "Mechanisms (a)–(f)").

Responses have a fixed length T = L + 1; everything after the first EOS is PAD and masked out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from entropy_lab.algorithms.step import Batch
from entropy_lab.harness.engine import engine_kernels
from entropy_lab.harness.model import PrecisionMode
from entropy_lab.harness.tasks import EOS, PAD
from entropy_lab.theory import entropy


@dataclass
class Rollout:
    """One batch of sampled responses (B = N·G sequences, grouped prompt-major)."""

    prompt_bp: torch.Tensor
    """Prompt tokens [B, P]."""
    tokens_bt: torch.Tensor
    """Response tokens [B, T] (PAD after the first EOS)."""
    mask_bt: torch.Tensor
    """1.0 on response tokens up to and including the first EOS, float32 [B, T]."""
    old_logp_bt: torch.Tensor
    """Sampler-path log-prob of each token, float32 [B, T]."""
    entropy_bt: torch.Tensor
    """Exact token entropy of the sampler distribution at each position, float64 [B, T]."""


def response_mask(tokens_bt: torch.Tensor) -> torch.Tensor:
    """1.0 up to and including the first EOS: LongTensor [B, T] -> float32 [B, T]."""
    is_eos = (tokens_bt == EOS).to(torch.int64)
    before = torch.cumsum(is_eos, dim=1) - is_eos  # EOS tokens strictly before t
    return (before == 0).to(torch.float32)


@torch.no_grad()
def sample(model, prompt_bp: torch.Tensor, length: int, mode: PrecisionMode,
           generator: torch.Generator) -> Rollout:
    """Sampler path: decode ``length`` tokens with a KV cache at temperature 1.

    Args:
        prompt_bp: prompt tokens [B, P] on the model's device.
        generator: a generator on the model's device (the only randomness).
    """
    from transformers import DynamicCache

    device = prompt_bp.device
    cache = DynamicCache(config=model.config)
    ids = prompt_bp
    toks, logps, ents = [], [], []
    done_b = torch.zeros(prompt_bp.shape[0], dtype=torch.bool, device=device)
    for _ in range(length):
        with mode.autocast(device):
            logits_bv = model(input_ids=ids, cache=cache, use_cache=True).logits[:, -1]
        probs = torch.softmax(logits_bv.float(), dim=-1)
        nxt_b = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        nxt_b = torch.where(done_b, torch.full_like(nxt_b, PAD), nxt_b)
        toks.append(nxt_b)
        logps.append(mode.log_probs(logits_bv[:, None], nxt_b[:, None])[:, 0])
        ents.append(entropy(logits_bv.to(torch.float64)))
        done_b |= nxt_b == EOS
        ids = nxt_b[:, None]
    tokens_bt = torch.stack(toks, dim=1)
    mask_bt = response_mask(tokens_bt)
    return Rollout(prompt_bp, tokens_bt, mask_bt, torch.stack(logps, 1) * mask_bt,
                   torch.stack(ents, 1) * mask_bt.to(torch.float64))


def trainer_logits(model, prompt_bp: torch.Tensor, tokens_bt: torch.Tensor,
                   mode: PrecisionMode | None) -> torch.Tensor:
    """Trainer path: logits predicting each response token, [B, T, V] (compute dtype).

    One full forward over prompt + response[:-1]; ``mode=None`` runs in plain fp32.
    """
    ids = torch.cat([prompt_bp, tokens_bt[:, :-1]], dim=1)
    p = prompt_bp.shape[1]
    ctx = mode.autocast(ids.device) if mode is not None else torch.autocast(
        ids.device.type, enabled=False)
    with ctx:
        return model(input_ids=ids).logits[:, p - 1:]


def trainer_logprobs(model, rollout: Rollout, mode: PrecisionMode,
                     index: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Trainer-path log-probs of the rollout's tokens (rows ``index``, default all).

    Returns:
        (logp [B, T] float32 masked to 0 outside the response, logits [B, T, V] in the mode's
        log-prob dtype, for losses that need the full distribution).
    """
    prompt, tokens = rollout.prompt_bp, rollout.tokens_bt
    mask = rollout.mask_bt
    if index is not None:
        prompt, tokens, mask = prompt[index], tokens[index], mask[index]
    logits_btv = trainer_logits(model, prompt, tokens, mode)
    logp_bt = mode.log_probs(logits_btv, tokens) * mask
    return logp_bt, logits_btv.to(mode.logp_dtype)


class TransformerPolicy:
    """The harness's :class:`~entropy_lab.algorithms.step.Policy`: a causal LM (+ LoRA) and its
    two paths, one prompt batch at a time (no replica dims).

    Args:
        model: the causal LM (its trainable parameters are the LoRA adapters).
        mode: the precision mode both paths run under.
        task: scores responses (``reward(params_b, tokens_bt)``) and builds prompts.
        device: where the model lives.
        sampler_path: ``"kv-cache"`` (the KV-cache sampler's log-probs) or ``"full"`` (replaced
            by the trainer path's, so the sampler/trainer ratio is 1 at the start of a step).
        engine: the sampler's kernels (``entropy_lab.harness.engine.ENGINES``; ``"trainer"``:
            the trainer's own).
    """

    ratio_dtype = None
    loss_dtype = None

    def __init__(self, model, mode: PrecisionMode, task, device, sampler_path: str = "kv-cache",
                 engine: str = "trainer"):
        self.model, self.mode, self.task, self.device = model, mode, task, device
        self.sampler_path, self.engine = sampler_path, engine

    def parameters(self) -> list[torch.Tensor]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def sample(self, prompts: torch.Tensor, group_size: int, generator: torch.Generator):
        """G responses to each of the N task parameters ``prompts`` ``[N]``; ``data`` is the
        :class:`Rollout`."""
        params_b = prompts.repeat_interleave(group_size)
        with engine_kernels(self.model, self.engine):
            rollout = sample(self.model, self.task.prompt_ids(params_b).to(self.device),
                             self.task.response_len, self.mode, generator)
        rewards_ng = self.task.reward(params_b, rollout.tokens_bt).view(-1, group_size)
        batch = self.batch(rollout, rewards_ng.to(self.device))
        if self.sampler_path == "full":  # the trainer's forward, computed once, stands for both
            rollout.old_logp_bt = batch.sampler_logp_bt = self.recompute_logprobs(batch)
        return batch

    @staticmethod
    def batch(rollout: Rollout, rewards_ng: torch.Tensor):
        """The step's :class:`~entropy_lab.algorithms.step.Batch` over a rollout."""
        return Batch(rewards_ng, rollout.mask_bt > 0, rollout.old_logp_bt, rollout.entropy_bt,
                     rollout)

    def trainer_logprobs(self, batch, idx, with_logits: bool = False):
        index = None if isinstance(idx, slice) else idx.to(self.device)
        return trainer_logprobs(self.model, batch.data, self.mode, index)

    def _recompute(self, batch):
        if "recompute" not in batch.cache:
            with torch.no_grad():
                batch.cache["recompute"] = trainer_logprobs(self.model, batch.data, self.mode)
        return batch.cache["recompute"]

    def recompute_logprobs(self, batch) -> torch.Tensor:
        return self._recompute(batch)[0]

    def centred_logprobs(self, batch) -> torch.Tensor:
        logp0_bt, logits0 = self._recompute(batch)
        h_bt = entropy(logits0.to(torch.promote_types(logits0.dtype, torch.float32)))
        return (logp0_bt + h_bt) * batch.data.mask_bt
