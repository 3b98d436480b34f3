"""Transformer + LoRA RL harness: the algorithms of ``entropy_lab.algorithms`` on a real small
causal LM, in bf16, fp16 and fp32 (docs/worlds.md, "Harness").

    from entropy_lab.harness import make_config, run_harness
    df = run_harness(make_config(algo="repo_r", precision="bf16", steps=20), out="runs/h1")

Modules: ``tasks`` (synthetic verifiable tasks, one shared vocabulary), ``model`` (random-init
Llama sized by one dial, local checkpoints, precision modes), ``pretrain`` (SFT to a skewed,
calibrated teacher; cached), ``policy`` (sampler path with KV cache, trainer path), ``engine``
(the sampler path with an inference engine's kernels), ``engine_gap`` (the engine–trainer
log-prob gap), ``train`` (the RL loop), ``theorem1`` (predicted vs measured ΔH at scale),
``metrics``, ``runio`` (config, metrics, checkpoints, resume), ``config`` (frozen config and
presets).
"""

from entropy_lab.harness.config import PRESETS, HarnessConfig, default_preset, make_config
from entropy_lab.harness.model import PRECISION_MODES, PrecisionMode, get_mode
from entropy_lab.harness.tasks import TASKS, Task, make_task, vocabulary
from entropy_lab.harness.train import run_harness

__all__ = [
    "PRECISION_MODES",
    "get_mode",
    "PRESETS",
    "TASKS",
    "HarnessConfig",
    "PrecisionMode",
    "Task",
    "default_preset",
    "make_config",
    "make_task",
    "run_harness",
    "vocabulary",
]
