"""Faithful sampling in the simulator: the rollout's tokens come from the sampler path's own
distribution π_s and carry its log π_s from the same pass; the exact-π draw runs only under its
diagnostic name; the ratio diagnostics by sampler log-prob bin and at the first minibatch.

References are independent of the code under test: π_s of a deterministic bf16-logit path is
softmax(z rounded to bfloat16) in float64, written out here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from entropy_lab.algorithms import get_preset
from entropy_lab.algorithms.step import binned_metrics
from entropy_lab.precision.pipelines import PathSpec, PrecisionPipeline
from entropy_lab.problems import Bandit, get_problem
from entropy_lab.sim import SimConfig, run
from entropy_lab.validation import InputError

# Logits near 100: bf16's spacing there is 0.5, so π_s is far from π (a test with power).
Z_K = torch.tensor([100.1, 100.3, 100.6, 100.2, 99.9, 100.45, 100.05, 99.7], dtype=torch.float64)
BF16_LOGITS = PrecisionPipeline("bf16_logits_only", "sampler logits rounded to bf16",
                                sampler=PathSpec(logits=torch.bfloat16), trainer=PathSpec())
BOTH_BF16 = PrecisionPipeline("both_bf16", "both paths round logits to bf16, one kernel",
                              sampler=PathSpec(logits=torch.bfloat16),
                              trainer=PathSpec(logits=torch.bfloat16))


def _pi_s(z: torch.Tensor) -> torch.Tensor:
    return torch.softmax(z.to(torch.bfloat16).to(torch.float64), -1)


def test_faithful_token_frequencies_follow_the_sampler_distribution_not_pi():
    """Chi-square, fixed seed, 40,000 draws, 7 degrees of freedom: against π_s p > 1e-3;
    against the exact π (the diagnostic's law) p < 1e-12."""
    bandit = Bandit(torch.zeros(8, dtype=torch.float64), init_logits=Z_K)
    z = bandit.init_logits(1)
    rollout = bandit.sample(z, 1, 40_000, torch.Generator().manual_seed(3),
                            sampler=BF16_LOGITS.sample_tokens)
    counts = np.bincount(rollout.actions.reshape(-1).numpy(), minlength=8)
    n = counts.sum()
    pi_s, pi = _pi_s(Z_K).numpy(), torch.softmax(Z_K, -1).numpy()
    assert np.abs(pi_s - pi).max() > 0.03  # the two laws really differ
    assert stats.chisquare(counts, n * pi_s).pvalue > 1e-3
    assert stats.chisquare(counts, n * pi).pvalue < 1e-12


@pytest.mark.parametrize("pid", ["bandit64/calibrated", "cbandit/calibrated", "tree/calibrated",
                                 "prompts-tree/calibrated", "mdp/calibrated",
                                 "prompts-many/calibrated"])
def test_every_problem_reports_the_drawing_pass_log_probs(pid):
    """Rollout.sampler_logp is log π_s of the taken token (bf16-rounded logits, float64
    log-softmax, written out here) on real steps and 0 on padding."""
    problem = get_problem(pid)
    z = problem.init_logits(2, torch.Generator().manual_seed(0)) * 7.0  # peaked: rounding shows
    r = problem.sample(z, 2, 4, torch.Generator().manual_seed(1), sampler=BF16_LOGITS.sample_tokens)
    assert r.sampler_logp.shape == r.actions.shape
    b = z.shape[0]
    rows = z.gather(1, r.states.reshape(b, -1, 1).expand(-1, -1, z.shape[-1]))
    table = torch.log_softmax(rows.to(torch.bfloat16).to(torch.float64), -1)
    want = table.gather(-1, r.actions.reshape(b, -1, 1)).reshape(r.actions.shape)
    real = r.mask > 0
    assert torch.equal(r.sampler_logp[real], want[real])
    assert (r.sampler_logp[~real] == 0).all()


def test_without_a_sampler_the_draw_is_unchanged():
    """No sampler: the same tokens as before the hook, bitwise (and no sampler log-probs)."""
    problem = get_problem("tree/calibrated")
    z = problem.init_logits(3, torch.Generator().manual_seed(0))
    a = problem.sample(z, 2, 4, torch.Generator().manual_seed(5))
    pi = torch.softmax(z, -1)
    gen = torch.Generator().manual_seed(5)
    # the draw by hand: inverse CDF by search, one uniform per token, level by level
    code = torch.zeros(3, 8, dtype=torch.int64)
    for t in range(problem.horizon):
        state = problem.offsets[t] + code
        rows = pi.gather(1, state[..., None].expand(-1, -1, problem.vocab_size))
        cdf = rows.cumsum(-1)
        u = torch.rand(rows.shape[:-1] + (1,), generator=gen, dtype=torch.float64)
        tok = torch.searchsorted(cdf, u * cdf[..., -1:]).squeeze(-1).clamp_max(rows.shape[-1] - 1)
        assert torch.equal(a.actions.reshape(3, 8, -1)[..., t], tok)
        code = code * problem.vocab_size + tok
    assert a.sampler_logp is None


def test_simulator_defaults_to_faithful_and_names_the_diagnostic():
    """The default is faithful; the exact-π run is the labelled diagnostic and draws other
    tokens (different entropy trajectories, same first row)."""
    assert SimConfig().sampling == "faithful"
    cfg = SimConfig(steps=3, seeds=2, precision="bf16")
    f = run("bandit64/calibrated", "grpo", cfg, torch.Generator().manual_seed(0)).frame
    d = run("bandit64/calibrated", "grpo", cfg.replace(sampling="exact_pi_diagnostic"),
            torch.Generator().manual_seed(0)).frame
    assert f.attrs["config"]["sampling"] == "faithful"
    assert d.attrs["config"]["sampling"] == "exact_pi_diagnostic"
    assert np.array_equal(f[f.step == 0]["entropy"], d[d.step == 0]["entropy"])
    assert not np.array_equal(f["entropy"], d["entropy"])


def test_exact_pipeline_is_identical_under_both_samplings():
    """π_s = π for the exact pipeline: both names give the same frame bitwise."""
    cfg = SimConfig(steps=3, seeds=2)
    a = run("tree/calibrated", "dapo", cfg, torch.Generator().manual_seed(0)).frame
    b = run("tree/calibrated", "dapo", cfg.replace(sampling="exact_pi_diagnostic"),
            torch.Generator().manual_seed(0)).frame
    num = a.select_dtypes("number").columns
    assert np.array_equal(a[num].to_numpy(), b[num].to_numpy(), equal_nan=True)
    assert not any("|" in c or c.startswith("first/") for c in a.columns)  # no diagnostics


def test_identical_paths_give_ratio_one_at_the_first_minibatch():
    """Sampler and trainer the same deterministic bf16-logit path, faithful draw, 2 minibatches:
    every ratio of the first minibatch is exactly 1 (no clip), in each bin; later minibatches
    move."""
    cfg = SimConfig(steps=2, seeds=2, lr=0.5)
    f = run("bandit64/calibrated", "dapo", cfg, torch.Generator().manual_seed(0),
            pipeline=BOTH_BF16, minibatches=2).frame
    rows = f[f.step > 0]
    for col in ("first/ratio/mean", "first/ratio/mean|head"):
        assert (rows[col] == 1.0).all(), col
    for col in ("first/clip/frac", "first/clip/frac_low|head", "first/clip/frac_high|head"):
        assert (rows[col] == 0.0).all(), col
    assert (rows["ratio/mean"] != 1.0).any()


def test_binned_metrics_on_a_hand_made_case():
    """Two tokens in the tail bin with ratios e^{0.5} and e^{-0.1}, two in the head with e^{0}
    and e^{0.4}; ε = 0.2 / 0.28: the tail's mean ratio, the head's clip fractions, and NaN for a
    replica whose bin is empty."""
    algo = get_preset("dapo")
    f64 = torch.float64
    old = torch.tensor([[[-6.0, -7.0, -1.0, -2.0]], [[-1.0, -1.0, -1.0, -1.0]]], dtype=f64)
    d = torch.tensor([[[0.5, -0.1, 0.0, 0.4]], [[0.0, 0.0, 0.0, 0.0]]], dtype=f64)
    logp = old + d
    adv = torch.tensor([[[1.0, -1.0, 1.0, 1.0]], [[1.0, 1.0, 1.0, 1.0]]], dtype=torch.float64)
    mask = torch.ones(2, 1, 4, dtype=torch.bool)
    tail = old < -5
    state = algo.init_state(torch.ones(2, dtype=torch.float64))
    out = binned_metrics(algo, state, logp, old, adv, mask, {"tail": tail, "head": ~tail},
                         None, None)
    want = (math.exp(-6.0 + 0.5 + 6.0) + math.exp(-7.0 - 0.1 + 7.0)) / 2
    assert math.isclose(out["ratio/mean|tail"][0], want, rel_tol=1e-12)
    assert math.isnan(out["ratio/mean|tail"][1])  # replica 1 has no tail token
    # head of replica 0: r = 1 (inside) and e^{0.4} = 1.49 > 1.28 with A > 0: one upper clip of 2
    assert out["clip/frac_high|head"][0] == 0.5
    assert out["clip/frac_low|head"][0] == 0.0
    # tail of replica 0: e^{0.5} > 1.28 with A > 0 is clipped; e^{-0.1} = 0.905 > 0.8 is not
    assert out["clip/frac_high|tail"][0] == 0.5
    assert out["clip/frac_low|tail"][0] == 0.0


def test_bad_sampling_names_the_field():
    with pytest.raises(InputError, match="sampling"):
        SimConfig(sampling="engine")
