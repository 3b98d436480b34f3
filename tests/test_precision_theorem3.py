"""Theorem 3 in its precise form: faithful sampling, the old-log-prob conventions, the calibrated
mismatch model. Exact identities in float64, rounding models and selection vs Monte Carlo
(tolerance from the standard error), faithful token frequencies vs π_s (chi-square), bad input."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch

from entropy_lab.algorithms.conventions import convention_names, get_convention
from entropy_lab.precision import LogitSource, get_pipeline
from entropy_lab.precision.calibration import calibrate, default_gap, measured_gap
from entropy_lab.precision.measure import block_generator, block_ratios, measure_conventions
from entropy_lab.precision.predict import spacing
from entropy_lab.precision.sampling import faithful, get_sampling, sampler_distribution
from entropy_lab.precision.theorem3 import (
    chi_square,
    diagnostic_leading_order,
    icepop_population_mean,
    normalisation_ratio,
    population_ratio_mean,
    rounding_population_bias,
    selection_log_mean,
    tis_population_mean,
)
from entropy_lab.registry import UnknownNameError
from entropy_lab.validation import InputError

F64, BF16, FP16 = torch.float64, torch.bfloat16, torch.float16


def _rows(n=16, k=500, seed=0, jitter=2.0):
    g = torch.Generator().manual_seed(seed)
    z = -1.1 * torch.log1p(torch.arange(k, dtype=F64)) + jitter * torch.randn(n, k, generator=g,
                                                                              dtype=F64)
    return z, g


# ---------------------------------------------------------------- exact (float64)


def test_bypass_with_faithful_sampling_is_exactly_one_in_population():
    z, g = _rows()
    logp_t = torch.log_softmax(z + 0.3 * torch.randn(z.shape, generator=g, dtype=F64), -1)
    logp_s = torch.log_softmax(z + 0.3 * torch.randn(z.shape, generator=g, dtype=F64), -1)
    assert torch.allclose(population_ratio_mean(logp_t, logp_s), torch.ones(16, dtype=F64),
                          rtol=0, atol=1e-12)
    # through a pipeline's own sampler pass: π_s from its log-probs, ℓ_s reported from the pass
    pipe = get_pipeline("e_bf16_network")
    s_all = pipe.sampler.all_logprobs(z, g)
    t_all = pipe.trainer.all_logprobs(z, g)
    q = sampler_distribution(s_all)
    total = (q * torch.exp(t_all - s_all)).sum(-1)
    assert torch.allclose(total, torch.ones(16, dtype=F64), rtol=0, atol=1e-12)


def test_bypass_with_unnormalised_stored_log_probs_is_the_ratio_of_normalisers():
    z, g = _rows()
    lam_s = torch.log_softmax(z, -1) + 0.01 * torch.randn(16, 1, generator=g, dtype=F64)
    lam_t = torch.log_softmax(z + 0.2 * torch.randn(z.shape, generator=g, dtype=F64), -1) - 0.003
    assert torch.allclose(population_ratio_mean(lam_t, lam_s), normalisation_ratio(lam_s, lam_t),
                          rtol=1e-12, atol=0)
    # the bf16 pipeline: its unfused sampler kernel stores log-probs that do not normalise
    pipe = get_pipeline("bf16")
    src = LogitSource(vocab=2000, kind="peaked")
    zz = src(64, g)
    ratio = normalisation_ratio(pipe.sampler.all_logprobs(zz, g), pipe.trainer.all_logprobs(zz, g))
    assert (ratio != 1).any()


def test_exact_pi_diagnostic_is_one_plus_chi_square_and_its_leading_order():
    z, g = _rows()
    xi = torch.randn(z.shape, generator=g, dtype=F64)
    logp_pi = torch.log_softmax(z, -1)
    rel_err = []
    for c in (0.04, 0.02, 0.01):
        logp_q = torch.log_softmax(z + c * xi, -1)
        excess = population_ratio_mean(logp_pi, logp_q, logp_draw=logp_pi) - 1
        assert torch.allclose(excess, chi_square(logp_pi, logp_q), rtol=1e-9, atol=0)
        assert (excess > 0).all()
        lead = diagnostic_leading_order(logp_pi, logp_pi, logp_q)
        rel_err.append(((excess - lead).abs() / excess).max().item())
    # the remainder is O(c³) against an O(c²) excess: its relative size halves with c at least
    assert rel_err[1] < rel_err[0] / 1.5 and rel_err[2] < rel_err[1] / 1.5
    assert rel_err[2] < 0.05


def test_tis_and_icepop_population_identities():
    z, g = _rows()
    logp_s = torch.log_softmax(z, -1)
    logp_old = torch.log_softmax(z + 0.8 * torch.randn(z.shape, generator=g, dtype=F64), -1)
    mean, identity = tis_population_mean(logp_old, logp_s, 2.0)
    assert torch.allclose(mean, identity, rtol=0, atol=1e-12) and (mean < 1).all()
    kept, identity = icepop_population_mean(logp_old, logp_s, (0.5, 5.0))
    assert torch.allclose(kept, identity, rtol=0, atol=1e-12) and (kept < 1).all()
    big, _ = tis_population_mean(logp_old, logp_s, 1e9)  # no truncation: back to (i)
    assert torch.allclose(big, torch.ones_like(big), rtol=0, atol=1e-12)


# ---------------------------------------------------------------- conventions, hand-made


def test_conventions_on_hand_made_log_probs():
    sampler = torch.log(torch.tensor([0.5, 0.1, 0.01], dtype=F64))
    recompute = torch.log(torch.tensor([0.5, 0.3, 0.001], dtype=F64))  # ρ = 1, 3, 0.1
    assert torch.equal(get_convention("rollout").old_logp(sampler, None), sampler)
    assert torch.equal(get_convention("recompute").old_logp(sampler, recompute), recompute)
    tis = get_convention("recompute+tis")
    assert torch.allclose(tis.is_weight(sampler, recompute),
                          torch.tensor([1.0, 2.0, 0.1], dtype=F64))
    assert tis.corrected(sampler, recompute).tolist() == [False, True, False]
    ice = get_convention("recompute+icepop")
    assert ice.is_weight(sampler, recompute).tolist() == [1.0, 1.0, 0.0]
    assert ice.corrected(sampler, recompute).tolist() == [False, False, True]
    assert get_convention("rollout").is_weight(sampler, None).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("pipeline", ["bf16", "e_bf16_network", "e_bf16_matmul_order"])
def test_recompute_in_the_same_layout_gives_r_exactly_one(pipeline):
    src = LogitSource(vocab=300, kind="peaked")
    tok = block_ratios(pipeline, src, 32, block_generator(0, 0), None, 4, convention="recompute")
    assert torch.equal(tok.ratio, torch.ones_like(tok.ratio))
    bypass = block_ratios(pipeline, src, 32, block_generator(0, 0), None, 4)
    assert (bypass.ratio != 1).any()  # the sampler mismatch is there, the recompute ignores it


@pytest.mark.parametrize("pipeline", ["bf16", "e_bf16_matmul_order"])
def test_recompute_in_another_reduction_order_does_not(pipeline):
    src = LogitSource(vocab=300, kind="peaked")
    conv = get_convention("recompute", layout="reordered")
    tok = block_ratios(pipeline, src, 32, block_generator(0, 0), None, 4, convention=conv)
    assert (tok.ratio != 1).any()
    assert (tok.ratio - 1).abs().max() < 0.1  # a reduction-order difference, not a mismatch


def test_measure_conventions_share_tokens_and_label_results():
    src = LogitSource(vocab=200, kind="peaked")
    convs = ["rollout", "recompute", get_convention("recompute", layout="reordered"),
             "recompute+tis"]
    res = measure_conventions("bf16", src, 256, convs, tokens_per_row=4)
    assert [r.summary["convention"].iloc[0] for r in res] == [
        "rollout", "recompute", "recompute/reordered", "recompute+tis"]
    assert all(r.summary["sampling"].iloc[0] == "faithful" for r in res)
    assert res[1].summary["measured_bias"].iloc[0] == 0.0
    assert all(r.summary["gap_rms"].iloc[0] == res[0].summary["gap_rms"].iloc[0] for r in res)


# ---------------------------------------------------------------- statistical (fixed seed)


@pytest.mark.parametrize("dtype", [BF16, FP16])
@pytest.mark.parametrize("sides", ["one_sided", "independent"])
def test_rounding_jensen_term_vs_monte_carlo(dtype, sides):
    """(ii): E_q[r] − 1 with stored log-probs rounded by real casts, over random contexts, against
    Σ p·[Π sinh(s/2)/(s/2) − 1]. The first-order part Σ p·c (mean 0) is tested apart; the
    second-order part Σ p·(e^c − 1 − c) against the model within 4 SE."""
    z, g = _rows(n=3000, k=256, seed=1, jitter=3.0)
    logp_t = torch.log_softmax(z, -1)
    logp_s = torch.log_softmax(z + 0.5 * torch.randn(z.shape, generator=g, dtype=F64), -1)
    q = lambda x: x.to(dtype).to(F64)  # noqa: E731
    t_hat = q(logp_t)
    s_hat = q(logp_s) if sides == "independent" else logp_s
    p = logp_t.exp()
    c = (t_hat - logp_t) - (s_hat - logp_s)
    assert torch.allclose(population_ratio_mean(t_hat, s_hat, logp_draw=logp_s) - 1,
                          (p * torch.expm1(c)).sum(-1), rtol=1e-9, atol=1e-15)
    second = (p * (torch.expm1(c) - c)).sum(-1)
    first = (p * c).sum(-1)
    model = rounding_population_bias(
        logp_t, spacing(logp_s, dtype) if sides == "independent" else None,
        spacing(logp_t, dtype))
    n = z.shape[0]
    diff = second - model
    assert abs(diff.mean().item()) <= 4 * diff.std().item() / math.sqrt(n)
    assert abs(first.mean().item()) <= 4 * first.std().item() / math.sqrt(n)
    assert model.mean() > 0 and second.mean() > 0


def test_selection_bias_leading_order_vs_monte_carlo():
    """(vi): a noisy sampler, an exact trainer: E[q(y)]/π(y) over the noise against
    exp(m + V_y/2); tolerance 4 SE plus the O(v²) remainder (max V²)."""
    g = torch.Generator().manual_seed(5)
    z = -1.1 * torch.log1p(torch.arange(40, dtype=F64)) + torch.randn(40, generator=g, dtype=F64)
    z = z - z.mean()
    var = (0.02 * z) ** 2
    pi = torch.softmax(z, -1)
    ratios = []
    for _ in range(10):
        noise = var.sqrt() * torch.randn(20_000, 40, generator=g, dtype=F64)
        ratios.append(torch.softmax(z + noise, -1) / pi)
    ratios = torch.cat(ratios)
    mc = ratios.mean(0)
    se = ratios.std(0) / math.sqrt(ratios.shape[0])
    pred = torch.exp(selection_log_mean(z, var))
    remainder = (var.max() * 2) ** 2
    assert ((mc - pred).abs() <= 4 * se + remainder).all()
    resolved = (mc - 1).abs() > 4 * se
    assert resolved.sum() >= 10  # the effect is there, and its sign per token is predicted
    assert torch.equal(torch.sign(mc - 1)[resolved], torch.sign(pred - 1)[resolved])


def test_faithful_token_frequencies_match_the_sampler_distribution():
    """Chi-square of 200,000 faithful draws from one row against π_s (accepted) and against the
    exact π (rejected: the sampler's noise, c = 20, moves π_s visibly)."""
    g = torch.Generator().manual_seed(11)
    z = -0.8 * torch.log1p(torch.arange(20, dtype=F64)) + torch.randn(1, 20, generator=g,
                                                                      dtype=F64)
    pipe = get_pipeline("bf16")
    noisy = type(pipe.sampler)(**{**pipe.sampler.__dict__, "noise_scale": 20.0})
    s_all = noisy.all_logprobs(z, g)
    actions, _ = faithful(z, lambda: s_all, 200_000, g)
    counts = torch.bincount(actions[0], minlength=20).to(F64)
    pi_s = sampler_distribution(s_all)[0]
    pi = torch.softmax(z, -1)[0]
    assert scipy.stats.chisquare(counts.numpy(), (pi_s * 200_000).numpy()).pvalue > 1e-3
    assert scipy.stats.chisquare(counts.numpy(), (pi * 200_000).numpy()).pvalue < 1e-6


def test_diagnostic_sampling_reproduces_the_exact_pi_stream():
    """The diagnostic keeps the earlier random stream: tokens from π, then the sampler pass."""
    src = LogitSource(vocab=100, kind="zipf")
    tok = block_ratios("fp32", src, 8, block_generator(0, 0), None, 3,
                       sampling="exact_pi_diagnostic")
    g = block_generator(0, 0)
    z = src(8, g)
    actions = torch.multinomial(torch.softmax(z, -1), 3, replacement=True, generator=g)
    assert torch.equal(tok.logp, torch.log_softmax(z, -1).gather(-1, actions))


# ---------------------------------------------------------------- calibration


def test_calibration_hits_its_target_and_scales_with_it():
    src = LogitSource(vocab=2000, kind="peaked")
    small = calibrate("e_bf16_network", src, 0.01, rows=128)
    big = calibrate("e_bf16_network", src, 0.04, rows=128)
    assert measured_gap(small, src, rows=128) == pytest.approx(0.01, rel=0.05)
    assert measured_gap(big, src, rows=128) == pytest.approx(0.04, rel=0.05)
    assert big.sampler.noise_scale == pytest.approx(4 * small.sampler.noise_scale, rel=0.05)
    assert big.name == "e_bf16_network@gap=0.04"
    assert default_gap("fp32") == 0.0022 and default_gap("e_bf16_network") == 0.031
    assert default_gap("bf16") == 0.040  # bf16 head (logits) on the paths


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(("call", "needle"), [
    (lambda: get_convention("bogus"), "recompute+icepop"),
    (lambda: get_convention("recompute+tis", tis_cap=0.0), "tis_cap"),
    (lambda: get_convention("recompute+tis", tis_cap=-1.0), "tis_cap"),
    (lambda: get_convention("recompute+icepop", icepop_band=(1.2, 5.0)), "icepop_band"),
    (lambda: get_convention("rollout", weight="tis"), "weight"),
    (lambda: get_convention("recompute", layout="sideways"), "layout"),
    (lambda: calibrate("bf16", LogitSource(vocab=50), -0.01), "gap"),
    (lambda: calibrate("a_bf16_logprobs", LogitSource(vocab=50)), "network noise"),
    (lambda: get_sampling("from_pi"), "exact_pi_diagnostic"),
    (lambda: tis_population_mean(torch.zeros(1, 3), torch.zeros(1, 3), 0.0), "cap"),
    (lambda: measure_conventions("bf16", LogitSource(vocab=20), 10, []), "conventions"),
])
def test_bad_input_names_the_argument(call, needle):
    with pytest.raises((InputError, UnknownNameError)) as err:
        call()
    assert needle in str(err.value)


def test_convention_registry_names():
    assert convention_names() == ["recompute", "recompute+icepop", "recompute+tis", "rollout"]
