"""Step-0 diagnostics of the harness (entropy_lab/harness/step0.py) on a tiny random model,
against direct computations from the same passes; and the masked running sums they use."""

import math

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from entropy_lab.harness import tasks as T  # noqa: E402
from entropy_lab.harness.model import build_model, get_mode  # noqa: E402
from entropy_lab.harness.step0 import (  # noqa: E402
    clip_fractions,
    convention_tokens,
    pooled_tail,
    step0_diagnostics,
    step0_passes,
    to_markdown,
)
from entropy_lab.precision.measure import SUMS, TokenRatios, bin_sums  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
TASK = T.make_task("digitsum", 3, 5)


@pytest.fixture(scope="module")
def model():
    net = build_model(1, T.vocabulary(), T.PROMPT_LEN + TASK.response_len,
                      torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.lm_head.weight.mul_(10.0)  # logits of order 1, as a trained model's
    return net.eval()


def _prompts(n=16):
    return TASK.sample_params(n, torch.Generator().manual_seed(1))


def test_summary_matches_a_direct_computation(model):
    """bf16 with the bf16 engine, bypass: E[r] − 1, the RMS gap and r ≠ 1 over the real tokens,
    recomputed here from the passes; recompute in the same layout gives r = 1 exactly; the
    reordered recompute (another GEMM order) does not."""
    _, summary = step0_diagnostics(model, "bf16", TASK, _prompts(), 4, "bf16-engine", seed=3)
    passes = step0_passes(model, get_mode("bf16"), TASK, _prompts(), 4, "bf16-engine",
                          torch.Generator().manual_seed(3), "cpu")
    m = passes["mask"]
    r = torch.exp(passes["trainer"].float() - passes["sampler"].float()).double()[m]
    row = summary[summary.convention == "rollout"].iloc[0]
    assert row.n == int(m.sum())
    assert math.isclose(row.measured_bias, (r - 1).mean().item(), rel_tol=1e-9, abs_tol=1e-15)
    gap = ((passes["trainer"] - passes["sampler"])[m] ** 2).mean().sqrt().item()
    assert math.isclose(row.gap_rms, gap, rel_tol=1e-9)
    assert gap > 1e-4  # the engine really differs in bf16
    assert math.isclose(row.frac_ne1, (r != 1).double().mean().item(), rel_tol=1e-12)
    same = summary[summary.convention == "recompute"].iloc[0]
    assert same.measured_bias == 0 and same.frac_ne1 == 0 and same.bias_se == 0
    assert summary[summary.convention == "recompute/reordered"].iloc[0].frac_ne1 > 0
    table = to_markdown(summary, pooled_tail(_by_bin(model)))
    assert table.count("\n") == len(summary) + 1 and "recompute+icepop" in table


def _by_bin(model):
    return step0_diagnostics(model, "bf16", TASK, _prompts(8), 4, "bf16-engine", seed=3)[0]


def test_clip_fractions_hand_made():
    """A > 0 with r = 1.5 > 1.28 clips high; A < 0 with r = 0.7 < 0.8 clips low; the padded
    token (r = 2, A > 0) does not count; 2 real tokens of 4 are in band."""
    ratio = torch.tensor([[1.5, 0.7, 1.0, 2.0, 0.9]], dtype=torch.float64)
    tok = TokenRatios(ratio.log(), ratio, torch.ones_like(ratio), torch.ones_like(ratio),
                      torch.zeros_like(ratio, dtype=torch.bool), torch.zeros_like(ratio))
    adv = torch.tensor([[1.0, -1.0, 1.0, 1.0, -1.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False, True]])
    assert clip_fractions(tok, adv, mask, 0.2, 0.28) == {"clip_high": 0.25, "clip_low": 0.25}


def test_masked_bin_sums_equal_the_sums_of_the_real_tokens():
    """The token-level sums (not the per-row cluster sums) with a mask equal those of the real
    tokens alone."""
    g = torch.Generator().manual_seed(0)
    logp = -torch.rand(6, 5, generator=g, dtype=torch.float64) * 12
    ratio = 1 + 0.3 * torch.randn(6, 5, generator=g, dtype=torch.float64)
    ones = torch.ones_like(ratio)
    mask = torch.rand(6, 5, generator=g) > 0.4
    tok = TokenRatios(logp, ratio, ones, ones, torch.zeros_like(mask), logp * 0.01)
    real = TokenRatios(*(x[mask][:, None] for x in (logp, ratio, ones, ones,
                                                      torch.zeros_like(mask), logp * 0.01)))
    k = SUMS.index("sum_S2")
    torch.testing.assert_close(bin_sums(tok, mask=mask)[:, :k], bin_sums(real)[:, :k],
                               rtol=1e-12, atol=1e-12)
    assert bin_sums(tok, mask=mask)[:, 0].sum() == mask.sum()


def test_convention_tokens_rejects_an_unknown_convention(model):
    passes = {"sampler": torch.zeros(1, 2, dtype=torch.float64),
              "trainer": torch.zeros(1, 2, dtype=torch.float64),
              "reordered": torch.zeros(1, 2, dtype=torch.float64)}
    from entropy_lab.validation import InputError
    with pytest.raises(InputError, match="convention"):
        convention_tokens(passes, "bypass")
