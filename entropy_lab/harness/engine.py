"""Sampler engines: the sampler path run with kernels other than the trainer's, in real arithmetic.

An inference engine and a trainer compute the same network with different kernels, so the
sampler's log-probs differ from the trainer's on the same tokens (mechanism (e),
docs/precision.md, "Harness sampler engines"). An :class:`EngineConfig` names, for the sampler
path only, where each op runs and in which order its sums are taken; nothing random is added.
"compute" means the dtype the forward runs at: the autocast dtype of the precision mode
(``entropy_lab/harness/model.py``; bf16 in ``bf16`` and ``fp32_logprobs``, fp16 in ``fp16``),
else the weights' dtype (fp32 in ``fp32``).

    option      "trainer" (the trainer's kernel)           engine alternative
    attention   the model's own (sdpa; bf16 P·V under      "compute": scores, softmax, P and P·V
                autocast, fp32 accumulation)               all in the compute dtype (eager);
                                                           "fp32": all in fp32 (eager)
    norm        RMSNorm statistics in fp32, fp32 weight    "compute": x, x², mean, rsqrt, weight
                                                           and product in the compute dtype
    residual    fp32 residual stream (fp32 embeddings      "compute": embeddings and every
                plus compute-dtype branch outputs)         decoder layer's output rounded to it
    head        LM head at the compute dtype (autocast)    "fp32": LM head in fp32, autocast off
    split_k     1: each x·Wᵀ one GEMM                      k > 1: x·Wᵀ as k K-chunk GEMMs summed
                                                           in the output dtype, in order (every
                                                           nn.Linear, LoRA adapters included)

    with engine_kernels(model, "bf16-engine"):     # the existing sampler, engine kernels
        rollout = sample(model, prompt_bp, length, mode, generator)
    rollout = engine_sample(model, prompt_bp, length, mode, "bf16-engine", generator)  # same

With every option at "trainer" (:data:`ENGINES` ``"trainer"``) the kernels are the model's own
and the sampler's log-probs equal the trainer path's bitwise on a CPU
(``tests/test_harness_engine.py``). On a GPU the same code runs the GPU's kernels.

This module imports ``policy`` only inside its functions, so ``policy`` may import
:func:`engine_kernels` at the top to run its sampler under a configured engine.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields

import torch

from entropy_lab.harness.model import PrecisionMode
from entropy_lab.registry import Registry
from entropy_lab.validation import check_choice, check_number, fail

ENGINES: Registry = Registry("sampler engine")
ATTENTION_KERNEL = "entropy-lab-engine"
_CHOICES = {"attention": ("trainer", "compute", "fp32"), "norm": ("trainer", "compute"),
            "residual": ("trainer", "compute"), "head": ("trainer", "fp32")}


@dataclass(frozen=True)
class EngineConfig:
    """Which kernels the sampler path runs (see the module docstring's table)."""

    name: str = "custom"
    attention: str = "trainer"
    """trainer | compute | fp32: attention softmax and its P·V product."""
    norm: str = "trainer"
    """trainer | compute: RMSNorm."""
    residual: str = "trainer"
    """trainer | compute: dtype of the residual stream."""
    head: str = "trainer"
    """trainer | fp32: the LM head (logits)."""
    split_k: int = 1
    """K-chunks of every linear layer's GEMM, summed in the output dtype (1: one GEMM)."""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise fail("name", self.name, "a non-empty string")
        for field, choices in _CHOICES.items():
            check_choice(field, getattr(self, field), choices)
        check_number("split_k", self.split_k, lo=1, hi=64, integer=True)

    @property
    def is_trainer(self) -> bool:
        """Every option at the trainer's setting."""
        return all(getattr(self, f.name) == f.default for f in fields(self) if f.name != "name")

    def options(self) -> dict:
        """The non-trainer options, e.g. {"attention": "compute", "split_k": 4}."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "name" and getattr(self, f.name) != f.default}


def get_engine(engine: EngineConfig | str) -> EngineConfig:
    """An :class:`EngineConfig` from itself or its registered name."""
    if isinstance(engine, EngineConfig):
        return engine
    return ENGINES.get(engine)


for _engine in (
    EngineConfig("trainer"),
    EngineConfig("attn-compute", attention="compute"),
    EngineConfig("attn-fp32", attention="fp32"),
    EngineConfig("norm-compute", norm="compute"),
    EngineConfig("residual-compute", residual="compute"),
    EngineConfig("head-fp32", head="fp32"),
    EngineConfig("split-k2", split_k=2),
    EngineConfig("split-k4", split_k=4),
    EngineConfig("split-k8", split_k=8),
    EngineConfig("bf16-engine", attention="compute", norm="compute", residual="compute",
                 split_k=4),
    EngineConfig("bf16-engine-fp32-head", attention="compute", norm="compute",
                 residual="compute", head="fp32", split_k=4),
):
    ENGINES.register(_engine.name, _engine)

DEFAULT_ENGINE = "bf16-engine"
"""The default engine for bf16 runs (docs/precision.md, "Harness sampler engines", gives its
measured gap beside the published ones)."""


# ---------------------------------------------------------------- kernels

def _compute_dtype(device: torch.device, fallback: torch.dtype) -> torch.dtype:
    """The dtype the forward runs at: the autocast dtype if autocast is on, else ``fallback``."""
    if torch.is_autocast_enabled(device.type):
        return torch.get_autocast_dtype(device.type)
    return fallback


def _linear(module: torch.nn.Linear, x: torch.Tensor, split_k: int, fp32: bool) -> torch.Tensor:
    """x·Wᵀ (+ b) as ``split_k`` K-chunk products accumulated in order in the output dtype.

    ``fp32``: autocast off, fp32 operands (the fp32 LM head). Shapes: [..., K] -> [..., N].
    """
    ctx = torch.autocast(x.device.type, enabled=False) if fp32 else contextlib.nullcontext()
    with ctx:
        w = module.weight.float() if fp32 else module.weight
        x = x.float() if fp32 else x
        chunks = min(split_k, x.shape[-1])
        if chunks == 1:
            out = torch.nn.functional.linear(x, w)
        else:
            xs = torch.tensor_split(x, chunks, dim=-1)
            ws = torch.tensor_split(w, chunks, dim=-1)
            out = torch.nn.functional.linear(xs[0], ws[0])
            for xc, wc in zip(xs[1:], ws[1:]):
                out = out + torch.nn.functional.linear(xc, wc)
        if module.bias is not None:
            out = out + (module.bias.float() if fp32 else module.bias).to(out.dtype)
        return out


def _rms_norm_compute(module, x: torch.Tensor) -> torch.Tensor:
    """RMSNorm entirely in the compute dtype: [..., D] -> [..., D]."""
    dtype = _compute_dtype(x.device, module.weight.dtype)
    x = x.to(dtype)
    variance = (x * x).mean(-1, keepdim=True)
    eps = torch.tensor(module.variance_epsilon, dtype=dtype, device=x.device)
    return module.weight.to(dtype) * (x * torch.rsqrt(variance + eps))


def _engine_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                      **kwargs):
    """Eager attention at the module's engine dtype (registered with transformers'
    ``AttentionInterface``): q, k, v [B, H, Tq, D] / [B, Hkv, Tk, D] -> ([B, Tq, H, D], P)."""
    from transformers.models.llama.modeling_llama import repeat_kv

    setting = module._entropy_lab_attention
    if setting == "fp32":
        dtype, ctx = torch.float32, torch.autocast(query.device.type, enabled=False)
    else:
        dtype, ctx = _compute_dtype(query.device, value.dtype), contextlib.nullcontext()
    with ctx:
        groups = getattr(module, "num_key_value_groups", 1)
        q = query.to(dtype)
        k = repeat_kv(key, groups).to(dtype)
        v = repeat_kv(value, groups).to(dtype)
        scale = scaling if scaling is not None else q.shape[-1] ** -0.5
        scores = torch.matmul(q, k.transpose(2, 3)).to(dtype) * scale
        tq, tk = q.shape[2], k.shape[2]
        if attention_mask is None:
            pos_q = torch.arange(tk - tq, tk, device=q.device)[:, None]
            allowed = pos_q >= torch.arange(tk, device=q.device)[None, :]
            scores = scores.masked_fill(~allowed, float("-inf"))
        elif attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask[..., :tk], float("-inf"))
        else:
            scores = scores + attention_mask[..., :tk].to(dtype)
        probs = torch.softmax(scores, dim=-1).to(dtype)
        out = torch.matmul(probs, v).to(dtype)
    return out.transpose(1, 2).contiguous(), probs


def _register_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(ATTENTION_KERNEL, _engine_attention)


@contextlib.contextmanager
def engine_kernels(model, engine: EngineConfig | str):
    """Run ``model``'s forward with ``engine``'s kernels inside the block (restored on exit).

    Works for a transformers Llama causal LM and its peft wrapper. Use it around the sampler
    path only; the trainer path stays the model's own forward. The patches are per module
    (instance ``forward``, forward hooks, the config's attention implementation), so other
    models are unaffected.
    """
    engine = get_engine(engine)
    undo: list = []
    try:
        _install(model, engine, undo)
        yield engine
    finally:
        for fn in reversed(undo):
            fn()


def _set_forward(module, fn, undo: list) -> None:
    had = "forward" in module.__dict__
    old = module.__dict__.get("forward")

    def restore():
        if had:
            module.forward = old
        else:
            del module.forward

    module.forward = fn
    undo.append(restore)


def _install(model, engine: EngineConfig, undo: list) -> None:
    head = model.get_output_embeddings()
    config = model.config
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            fp32 = module is head and engine.head == "fp32"
            if engine.split_k > 1 or fp32:
                _set_forward(module, lambda x, m=module, f=fp32: _linear(m, x, engine.split_k, f),
                             undo)
        elif type(module).__name__.endswith("RMSNorm") and engine.norm == "compute":
            _set_forward(module, lambda x, m=module: _rms_norm_compute(m, x), undo)
        elif type(module).__name__.endswith("Attention") and engine.attention != "trainer":
            module._entropy_lab_attention = engine.attention
            undo.append(lambda m=module: delattr(m, "_entropy_lab_attention"))
        elif type(module).__name__.endswith("DecoderLayer") and engine.residual == "compute":
            _round_output(module, undo)
    if engine.residual == "compute":
        _round_output(model.get_input_embeddings(), undo)
    if engine.attention != "trainer":
        _register_attention()
        old = config._attn_implementation
        config._attn_implementation = ATTENTION_KERNEL
        undo.append(lambda: setattr(config, "_attn_implementation", old))


def _round_output(module, undo: list) -> None:
    """A forward hook rounding the module's output (or its first element) to the compute dtype."""

    def hook(mod, args, out):
        first = out[0] if isinstance(out, tuple) else out
        rounded = first.to(_compute_dtype(first.device, first.dtype))
        return (rounded, *out[1:]) if isinstance(out, tuple) else rounded

    undo.append(module.register_forward_hook(hook).remove)


# ---------------------------------------------------------------- the sampler with an engine

def engine_sample(model, prompt_bp: torch.Tensor, length: int, mode: PrecisionMode,
                  engine: EngineConfig | str, generator: torch.Generator):
    """``policy.sample`` (KV-cache decoding, temperature 1) under ``engine``'s kernels.

    Args:
        prompt_bp: prompt tokens [B, P] on the model's device.
        generator: a generator on the model's device (the only randomness).

    Returns:
        a ``policy.Rollout`` whose ``old_logp_bt`` are the engine's log-probs.
    """
    from entropy_lab.harness.policy import sample

    with engine_kernels(model, engine):
        return sample(model, prompt_bp, length, mode, generator)


@torch.no_grad()
def engine_logprobs(model, prompt_bp: torch.Tensor, tokens_bt: torch.Tensor,
                    mode: PrecisionMode, engine: EngineConfig | str) -> torch.Tensor:
    """Sampler-path log-probs of given tokens: the KV-cache decode of ``policy.sample`` fed
    ``tokens_bt`` instead of drawing, under ``engine``'s kernels.

    Returns:
        float32 [B, T], 0 after the first EOS (``response_mask``).
    """
    from transformers import DynamicCache

    from entropy_lab.harness.policy import response_mask

    device = prompt_bp.device
    logps = []
    with engine_kernels(model, engine):
        cache = DynamicCache(config=model.config)
        ids = prompt_bp
        for t in range(tokens_bt.shape[1]):
            with mode.autocast(device):
                logits_bv = model(input_ids=ids, cache=cache, use_cache=True).logits[:, -1]
            logps.append(mode.log_probs(logits_bv[:, None], tokens_bt[:, t:t + 1])[:, 0])
            ids = tokens_bt[:, t:t + 1]
    return torch.stack(logps, dim=1) * response_mask(tokens_bt)
