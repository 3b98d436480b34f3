"""The policy network: a random-init Llama decoder sized by one dial, or a local checkpoint.

Also the precision modes. The compute dtype is chosen in one place: the master weights stay
float32 and the forward runs under ``torch.autocast(dtype)``, so bf16/fp16 runs see the same
rounding as bf16/fp16 weights while the Theorem 1 evaluation and adapter merging stay in fp32.

    mode            forward (autocast)   log-softmax   loss scaling
    fp32            float32              float32       no
    bf16            bfloat16             bfloat16      no
    fp16            float16              float16       yes (GradScaler)
    fp32_logprobs   bfloat16             float32       no    (the fix: upcast logits first)

The names are the simulator's end-to-end pipeline names (either spelling, ``fp32-logprobs`` too;
the correspondence is in ``entropy_lab.precision``); :func:`get_mode` resolves them.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from entropy_lab.precision.pipelines import precision_name
from entropy_lab.registry import Registry
from entropy_lab.validation import InputError

PRECISION_MODES: Registry = Registry("precision")
VOCAB_FILE = "entropy_lab_vocab.json"


@dataclass(frozen=True)
class PrecisionMode:
    """Where rounding happens in the harness (see the module docstring)."""

    name: str
    compute_dtype: torch.dtype
    logp_dtype: torch.dtype
    loss_scaling: bool

    def autocast(self, device: torch.device):
        """The forward-pass context: autocast to the compute dtype (nothing for fp32 or fp64)."""
        if self.compute_dtype in (torch.float32, torch.float64):
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.compute_dtype)

    def log_probs(self, logits_btv: torch.Tensor, tokens_bt: torch.Tensor) -> torch.Tensor:
        """log π(token) = log_softmax(logits in ``logp_dtype``)[token]: [B, T, V], [B, T] ->
        float32 [B, T] (float64 for a float64 mode; the values carry the rounding of
        ``logp_dtype``)."""
        logp_btv = torch.log_softmax(logits_btv.to(self.logp_dtype), dim=-1)
        out = torch.promote_types(self.logp_dtype, torch.float32)
        return logp_btv.gather(-1, tokens_bt.unsqueeze(-1)).squeeze(-1).to(out)


for _mode in (
    PrecisionMode("fp32", torch.float32, torch.float32, False),
    PrecisionMode("bf16", torch.bfloat16, torch.bfloat16, False),
    PrecisionMode("fp16", torch.float16, torch.float16, True),
    PrecisionMode("fp32_logprobs", torch.bfloat16, torch.float32, False),
):
    PRECISION_MODES.register(_mode.name, _mode)


def get_mode(name: str) -> PrecisionMode:
    """The harness precision mode ``name`` (``fp32-logprobs`` and ``fp32_logprobs`` alike)."""
    return PRECISION_MODES.get(precision_name(name))


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda if available else cpu; an unavailable cuda is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device={name!r} is not allowed: CUDA is not available here; use cpu")
    return torch.device(name)


def _probe(mode: PrecisionMode, device: torch.device) -> None:
    x = torch.randn(4, 8, device=device)
    w = torch.randn(8, 8, device=device)
    with mode.autocast(device):
        y = x @ w
    torch.log_softmax(y.to(mode.logp_dtype), dim=-1).sum().item()


def check_precision_supported(mode: PrecisionMode, device: torch.device) -> None:
    """Raise a clear :class:`InputError` when ``device`` cannot run ``mode``."""
    if (device.type == "cuda" and mode.compute_dtype == torch.bfloat16
            and not torch.cuda.is_bf16_supported()):
        raise InputError(f"precision={mode.name!r} is not allowed on this GPU (no bfloat16 "
                         "support, compute capability < 8.0): use fp16 or fp32")
    try:
        _probe(mode, device)
    except (RuntimeError, TypeError, NotImplementedError) as exc:
        dtype = str(mode.compute_dtype).removeprefix("torch.")
        raise InputError(f"precision={mode.name!r} is not allowed on device {device}: "
                         f"{dtype} operations fail there ({exc}); use fp32") from None


def llama_config(size: int, vocab_size: int, max_len: int):
    """The dial: hidden 64·size, 2·size layers, 2·size heads of width 32, MLP 4·hidden."""
    from transformers import LlamaConfig

    hidden = 64 * size
    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=4 * hidden,
        num_hidden_layers=2 * size, num_attention_heads=2 * size, num_key_value_heads=2 * size,
        max_position_embeddings=max_len, tie_word_embeddings=False, attention_dropout=0.0,
        pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )


def build_model(size: int, vocab: list[str], max_len: int, generator: torch.Generator):
    """A random-init Llama causal LM (float32) for the task vocabulary.

    Weights are drawn with ``generator`` (re-initialised from it, never from the global RNG).
    """
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(llama_config(size, len(vocab), max_len))
    model = model.to_empty(device="cpu").to(torch.float32)
    std = model.config.initializer_range
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float32) * std)
    # Rotary buffers were created on meta; rebuild them on CPU.
    model.model.rotary_emb = type(model.model.rotary_emb)(config=model.config)
    return model


def save_vocab(path: Path, vocab: list[str]) -> None:
    (path / VOCAB_FILE).write_text(json.dumps(vocab))


def load_model(path: str | Path, vocab: list[str]):
    """A local causal-LM checkpoint, checked against the task vocabulary (float32, CPU).

    A checkpoint written by the harness carries its vocabulary, which must equal the task's;
    another checkpoint is used with token ids 0..V−1 as the task symbols, so its vocabulary
    must hold at least V ids.

    Raises:
        InputError: missing path, not a causal LM, or a vocabulary mismatch.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(path)
    if not path.exists():
        raise InputError(f"model path {str(path)!r} does not exist: expected a local Hugging "
                         "Face causal-LM checkpoint folder (config.json + weights)")
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"model path {str(path)!r} is not a Hugging Face checkpoint "
                         f"(no readable config.json): {exc}") from None
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model_type = getattr(config, "model_type", None)
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise InputError(f"model path {str(path)!r} holds a {type(config).__name__} "
                         f"(model_type={model_type!r}), not a causal language model: expected "
                         "one that AutoModelForCausalLM can load (llama, qwen2, gpt2, ...)")
    saved = path / VOCAB_FILE
    if saved.exists() and json.loads(saved.read_text()) != vocab:
        raise InputError(f"vocabulary mismatch: {saved} lists {json.loads(saved.read_text())}, "
                         f"the tasks use {vocab}")
    vocab_size = getattr(config, "vocab_size", None)
    if vocab_size is None or vocab_size < len(vocab):
        raise InputError(f"vocabulary mismatch: the checkpoint has vocab_size={vocab_size}, "
                         f"the tasks need at least {len(vocab)} token ids")
    try:
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise InputError(f"model path {str(path)!r} could not be loaded as a causal LM: "
                         f"{str(exc).splitlines()[0]}") from None


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA OOM, or the CPU allocator failing."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)


def out_of_memory_error(size: int, batch: int) -> InputError:
    return InputError(f"out of memory with size={size} and {batch} sequences per step: "
                      "lower --size (the model-size dial) or --prompts/--group")
