"""The harness configuration: one frozen dataclass, two presets (CPU-tiny and GPU).

Every field is validated in ``__post_init__`` with an error naming the field, the value and the
allowed range. The config is saved (as JSON) beside the results of every run, and a resumed run
must present the same config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from entropy_lab.algorithms.conventions import TRAINING_CONVENTIONS as OLD_LOGP
from entropy_lab.precision.pipelines import precision_name
from entropy_lab.registry import Registry
from entropy_lab.validation import InputError, check_field_choices, check_number, choice_field, fail

PRESETS: Registry = Registry("harness preset")
SAMPLER_PATHS = ("kv-cache", "full")


# The registry-backed choices, read when needed (a registry may grow after this import).
def task_names() -> list[str]:
    """The registered tasks (``entropy_lab/harness/tasks.py``)."""
    from entropy_lab.harness.tasks import TASKS

    return TASKS.names()


def algo_names() -> list[str]:
    """The algorithm presets (``entropy_lab.algorithms.preset_names()``)."""
    from entropy_lab.algorithms import preset_names

    return preset_names()


def engine_names() -> list[str]:
    """The sampler engines (``entropy_lab/harness/engine.py``)."""
    from entropy_lab.harness.engine import ENGINES

    return ENGINES.names()


def precision_names() -> list[str]:
    """The precision modes (``entropy_lab/harness/model.py``), named as the simulator's
    pipelines."""
    from entropy_lab.harness.model import PRECISION_MODES

    return PRECISION_MODES.names()


@dataclass(frozen=True)
class HarnessConfig:
    """One harness run (pretraining + RL, optionally a second RL phase on another task)."""

    task: str = choice_field("digitsum", task_names)
    """Task trained in RL phase 1 (``docs/worlds.md``, "Harness")."""
    algo: str = choice_field("grpo", algo_names)
    """Algorithm preset (``docs/algorithms.md``, "Presets")."""
    algo_overrides: tuple[tuple[str, object], ...] = ()
    """Extra ``get_preset`` overrides as (key, value) pairs, e.g. (("eps_high", 0.3),)."""
    precision: str = choice_field("fp32", precision_names, precision_name)
    """Where the policy rounds: bf16 or fp16 end to end (fp16 with loss scaling), fp32, or
    fp32_logprobs (bf16 forward, fp32 log-softmax; fp32-logprobs accepted): the simulator's
    pipeline names (``docs/precision.md``, "Pipelines")."""
    steps: int = 4
    """RL steps in phase 1."""
    phase2_task: str | None = choice_field(None, task_names)
    """If set, a second RL phase on this task starts from the phase-1 policy (adapter merged)."""
    phase2_steps: int = 0
    """RL steps in phase 2."""
    size: int = 1
    """The model-size dial: hidden 64·size, 2·size layers, 2·size heads (random-init Llama)."""
    model_path: str | None = None
    """A local causal-LM checkpoint to use instead of the pretrained random-init model."""
    answer_len: int = 3
    """Answer digits L of every task."""
    modulus: int = 5
    """Modulus m of ``digitsum``."""
    prompts_per_step: int = 4
    """N prompts per RL step."""
    group_size: int = 8
    """G samples per prompt (GRPO group)."""
    lr: float = 2e-3
    """Adam learning rate of the LoRA parameters."""
    lora_rank: int = 8
    """Rank r of every LoRA adapter (trainable parameters per adapted matrix: r·(d_in + d_out))."""
    lora_alpha: float = 16.0
    """LoRA scale numerator: the adapter's update is multiplied by lora_alpha / lora_rank."""
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj",
                                     "gate_proj", "up_proj", "down_proj")
    """Module names that receive LoRA adapters (base weights stay frozen)."""
    pretrain_steps: int = 300
    """SFT steps on the teacher distribution (0: use the random init as is)."""
    pretrain_batch: int = 128
    """Sequences per pretraining (SFT) step."""
    pretrain_lr: float = 3e-3
    """Adam learning rate of the full model during pretraining."""
    skew: float = 0.5
    """Teacher digit preference p(d) ∝ exp(−skew·rank(d)): larger = more peaked."""
    error_rate: float = 0.4
    """Teacher error rate at each constrained answer position."""
    sampler_path: str = choice_field("kv-cache", SAMPLER_PATHS)
    """kv-cache: incremental sampler log-probs; full: recompute them with the trainer forward."""
    engine: str = choice_field("trainer", engine_names)
    """Kernels of the sampler (KV-cache) path, ``entropy_lab.harness.engine.ENGINES``: trainer
    (the trainer's own kernels) or an engine in real arithmetic, e.g. bf16-engine (bf16
    attention, norm and residual stream, split-K 4); the trainer path is unchanged."""
    old_logp: str = choice_field("rollout", OLD_LOGP)
    """Old-log-prob convention of the ratio: rollout (the sampler's log-probs) or recompute (the
    trainer forward at θ_old; tis / icepop then weight by the sampler/trainer mismatch)."""
    pass_k: int = 4
    """k of the logged unbiased pass@k (k <= group_size)."""
    eval_seqs: int = 16
    """Sequences in the fixed Theorem 1 evaluation batch (their prefixes are evaluated)."""
    theorem1_every: int = 1
    """Measure predicted vs measured ΔH every this many steps (0: never)."""
    exact_every: int = 1
    """Exact pass@1/pass@k by enumerating the correct set every this many steps (0: never)."""
    checkpoint_every: int = 1
    """Write the resumable checkpoint every this many RL steps (a kill loses at most these)."""
    seed: int = 0
    """Seed of the model init and pretraining data, and (offset per RL phase) of the adapters,
    the sampler, the evaluation batch and the minibatch schedule."""
    device: str = dataclasses.field(default="auto", metadata={"metavar": "{auto,cpu,cuda,cuda:N}"})
    """The torch device: auto = cuda when available, else cpu; cuda:N = the N-th GPU."""
    cache_dir: str | None = None
    """Folder of the cached pretrained checkpoints; None: ``$ENTROPY_LAB_CACHE/harness``, else
    ``<checkout or cwd>/cache/harness``."""

    def __post_init__(self):
        check_field_choices(self)  # task algo precision phase2_task sampler_path engine old_logp
        for name in ("steps", "phase2_steps", "pretrain_steps", "theorem1_every", "exact_every",
                     "seed"):
            check_number(name, getattr(self, name), lo=0, integer=True)
        for name in ("size", "answer_len", "prompts_per_step", "group_size", "lora_rank",
                     "pretrain_batch", "eval_seqs", "checkpoint_every"):
            check_number(name, getattr(self, name), lo=1, integer=True)
        check_number("answer_len", self.answer_len, hi=6, integer=True)
        check_number("modulus", self.modulus, lo=2, hi=10, integer=True)
        check_number("pass_k", self.pass_k, lo=1, hi=self.group_size, integer=True)
        for name in ("lr", "pretrain_lr", "lora_alpha"):
            check_number(name, getattr(self, name), lo=0, lo_open=True)
        check_number("skew", self.skew, lo=0)
        check_number("error_rate", self.error_rate, lo=0, hi=1)
        if not self.lora_targets or not all(isinstance(t, str) for t in self.lora_targets):
            raise fail("lora_targets", self.lora_targets, "a non-empty tuple of module names")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise fail("device", self.device, "'auto', 'cpu', 'cuda' or 'cuda:N'")
        if self.phase2_task is not None and self.phase2_task == self.task:
            raise fail("phase2_task", self.phase2_task, f"a task other than task={self.task!r}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["algo_overrides"] = [list(kv) for kv in self.algo_overrides]
        d["lora_targets"] = list(self.lora_targets)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> HarnessConfig:
        d = dict(d)
        d["algo_overrides"] = tuple(tuple(kv) for kv in d.get("algo_overrides", ()))
        d["lora_targets"] = tuple(d.get("lora_targets", cls.lora_targets))
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise InputError(f"unknown harness config keys {unknown}")
        return cls(**d)

    def digest(self, keys: tuple[str, ...]) -> str:
        """A short hash of the chosen fields (used to key cached checkpoints)."""
        sub = {k: self.to_dict()[k] for k in keys}
        return hashlib.sha256(json.dumps(sub, sort_keys=True).encode()).hexdigest()[:16]


PRESETS.register("cpu-tiny", {})
PRESETS.register("gpu", {
    "size": 6, "answer_len": 5, "prompts_per_step": 64, "group_size": 16, "lr": 1e-3,
    "lora_rank": 16, "lora_alpha": 32.0, "pretrain_steps": 1500, "pretrain_batch": 512,
    "pretrain_lr": 1e-3, "pass_k": 8, "eval_seqs": 64, "theorem1_every": 5, "exact_every": 5,
    "checkpoint_every": 10,
})


def default_preset() -> str:
    """``gpu`` when CUDA is available, else ``cpu-tiny``."""
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu-tiny"


def make_config(preset: str | None = None, **overrides) -> HarnessConfig:
    """A config from a preset (default: :func:`default_preset`) with field overrides.

    Raises:
        InputError: an unknown field, or a field outside its range.
    """
    preset = preset or default_preset()
    values = dict(PRESETS.get(preset))
    known = {f.name for f in dataclasses.fields(HarnessConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(f"unknown harness settings {unknown}; choose from {sorted(known)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return HarnessConfig(**values)
