"""The README's "Add your own algorithm" code runs as written, and the algorithm it registers
trains in both worlds through the one RL step (the simulator; the harness when installed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from entropy_lab.algorithms.losses_common import LOSSES
from entropy_lab.algorithms.presets import PRESETS
from entropy_lab.sim import SimConfig, simulate

README = Path(__file__).resolve().parents[1] / "README.md"


def _section_code() -> list[str]:
    text = README.read_text()
    section = text.split("## Add your own algorithm", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.fixture
def registered():
    blocks = _section_code()
    assert len(blocks) == 2, "the section's two code blocks (a loss, an algorithm)"
    scope: dict = {}
    try:
        for code in blocks:
            exec(compile(code, str(README), "exec"), scope)
        yield scope
    finally:
        for registry, name in ((PRESETS, "soft_clip_rloo"), (LOSSES, "soft_clip")):
            if name in registry.names():
                registry.unregister(name)


def test_the_readme_algorithm_trains_in_the_simulator(registered):
    algo = registered["algo"]
    assert (algo.loss_name, algo.minibatches, algo.loss_hp["tau"]) == ("soft_clip", 8, 0.1)
    df = simulate("bandit/calibrated", "soft_clip_rloo",
                  SimConfig(steps=3, seeds=2, n_prompts=4, group_size=4, k=2),
                  torch.Generator().manual_seed(0))
    assert len(df) == 2 * 4 and df["entropy"].notna().all()
    assert (df.loc[df.step == 3, "entropy"].to_numpy()
            != df.loc[df.step == 0, "entropy"].to_numpy()).all()


def test_the_readme_algorithm_trains_in_the_harness(registered, tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from entropy_lab.harness import make_config, run_harness

    cfg = make_config("cpu-tiny", algo="soft_clip_rloo", pretrain_steps=20, pretrain_batch=16,
                      steps=1, prompts_per_step=2, group_size=4, pass_k=2, eval_seqs=4,
                      lora_rank=2, theorem1_every=0, exact_every=0, device="cpu",
                      cache_dir=str(tmp_path / "cache"))
    df = run_harness(cfg, tmp_path / "run")
    assert len(df) == 1 and "loss" in df
