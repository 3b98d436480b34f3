"""The optional compiled path (SimConfig.compile): validated as a switch, and (slow:
torch.compile takes tens of seconds) its frames within 1e-12 of the eager path's. It compiles
the eager snapshot's own formulas (entropy_lab/sim/formulas.py, tests/test_sim_formulas.py)."""

import numpy as np
import pytest
import torch

from entropy_lab.sim import SimConfig, simulate
from entropy_lab.validation import InputError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("bad", ["yes", 1, None, 0.0])
def test_compile_switch_takes_only_a_bool(bad):
    with pytest.raises(InputError, match="compile=.*True or False"):
        SimConfig(compile=bad)
    assert SimConfig().compile is False and SimConfig(compile=True).compile is True


@pytest.mark.slow
@pytest.mark.parametrize("pid, algo, kw", [
    ("bandit64/calibrated", "grpo", {"n_prompts": 1, "group_size": 16}),
    ("cbandit/uncorrelated", "repo_r", {"optimizer": "adam"}),
    ("tree/calibrated", "grpo", {}),  # moving visits: the eager path, bitwise
])
def test_compiled_frames_are_within_1e12_of_eager(pid, algo, kw):
    cfg = SimConfig(steps=6, seeds=4, lr=0.1, k=8, **kw)
    eager = simulate(pid, algo, cfg, torch.Generator().manual_seed(2))
    fused = simulate(pid, algo, cfg.replace(compile=True), torch.Generator().manual_seed(2))
    assert list(eager.columns) == list(fused.columns)
    for col in eager.columns:
        if eager[col].dtype != np.float64:
            assert eager[col].equals(fused[col]), col
            continue
        x, y = eager[col].to_numpy(), fused[col].to_numpy()
        ok = (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= 1e-12 * (1 + np.abs(x)))
        assert ok.all(), col


@pytest.mark.slow
def test_compiled_path_keeps_on_policy_ratios_exactly_one():
    """One on-policy minibatch: the sampler's log-probs come from the snapshot's kept log π,
    which is torch.log_softmax (the trainer's formula) on the compiled path too."""
    cfg = SimConfig(steps=3, seeds=4, lr=0.1, k=8, n_prompts=1, group_size=16, compile=True)
    df = simulate("bandit64/calibrated", "grpo", cfg, torch.Generator().manual_seed(2),
                  minibatches=1)
    trained = df[df.step > 0]
    assert (trained["ratio/min"] == 1.0).all() and (trained["ratio/max"] == 1.0).all()
