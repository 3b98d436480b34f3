"""The optional compiled path (SimConfig.compile): validated as a switch, its formulas equal to the
eager snapshot's, and (slow: torch.compile takes tens of seconds) its frames within 1e-12 of the
eager path's."""

import numpy as np
import pytest
import torch

from entropy_lab.problems import get_problem
from entropy_lab.sim import SimConfig, simulate
from entropy_lab.sim.compiled import exact_tables, update_sums
from entropy_lab.sim.record import snapshot, update_row
from entropy_lab.validation import InputError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("bad", ["yes", 1, None, 0.0])
def test_compile_switch_takes_only_a_bool(bad):
    with pytest.raises(InputError, match="compile=.*True or False"):
        SimConfig(compile=bad)
    assert SimConfig().compile is False and SimConfig(compile=True).compile is True


@pytest.mark.parametrize("pid", ["bandit64/calibrated", "cbandit/anti"])
def test_the_compiled_formulas_are_the_eager_snapshots(pid):
    """The uncompiled functions of sim.compiled give the eager snapshot's numbers (so compiling
    them changes only the rounding order)."""
    prob = get_problem(pid)
    gen = torch.Generator().manual_seed(1)
    z = prob.init_logits(5) + torch.randn(5, prob.num_states, prob.num_actions, generator=gen,
                                          dtype=torch.float64)
    dz = 0.1 * torch.randn(z.shape, generator=gen, dtype=torch.float64)
    before, after = snapshot(prob, z, 4), snapshot(prob, z + dz, 4)
    logp, pc, grad, h_bs, h_b, seq_b, w_bs = exact_tables(z, prob.visits(z))
    for got, want in [(logp, torch.log_softmax(z, -1)), (pc, before.p_centred),
                      (grad, before.grad_entropy), (h_bs, before.state_entropy),
                      (h_b, before.entropy), (seq_b, before.entropy_seq), (w_bs, before.weights)]:
        torch.testing.assert_close(got, want, rtol=1e-14, atol=1e-16)
    row = update_row(before, after, dz)
    dh_pred, dh_state = update_sums(before.grad_entropy, before.p_centred, before.weights, dz)
    torch.testing.assert_close(dh_pred, row["dH_pred"], rtol=1e-13, atol=1e-17)
    torch.testing.assert_close(dh_state, row["dH_pred_state"], rtol=1e-13, atol=1e-17)


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
