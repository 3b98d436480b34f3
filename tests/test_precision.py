"""Precision pipelines: exact identities, bf16 spacing facts, rounding models vs Monte Carlo,
streamed measurement vs a naive reference, and the bad-input table."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest
import torch

from entropy_lab.precision import (
    LogitSource,
    PathSpec,
    PrecisionPipeline,
    TableSource,
    get_pipeline,
    measure_ratio_bias,
    out_of_range,
    pipeline_names,
    spacing,
)
from entropy_lab.precision.drift import implied_entropy_drift, predicted_by_bin
from entropy_lab.precision.measure import (
    LOGP_EDGES,
    SUMS,
    TokenRatios,
    bin_sums,
    block_generator,
    block_ratios,
    block_sizes,
    summarise,
)
from entropy_lab.precision.predict import correlated_bias, jensen_bias, one_sided_bias

F64, BF16, FP16, FP32 = torch.float64, torch.bfloat16, torch.float16, torch.float32


def _rows(k=50, n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return LogitSource(vocab=k, kind="zipf")(n, g), g


# ---------------------------------------------------------------- exact tier


@pytest.mark.parametrize("dtype", [FP32, F64])
def test_identical_paths_give_ratio_exactly_one(dtype):
    path = PathSpec(logits=dtype, compute=dtype, output=dtype)
    pipe = PrecisionPipeline("same", "identical paths", path, path, diff=dtype, exp=dtype)
    z, g = _rows()
    actions = torch.multinomial(torch.softmax(z, -1), 8, replacement=True, generator=g)
    assert torch.equal(pipe.ratios(z, actions, g), torch.ones(64, 8, dtype=F64))


def test_fp64_named_pipeline_is_exact():
    z, g = _rows()
    a = torch.randint(50, (64,), generator=g)
    pipe = get_pipeline("fp64")
    exact = torch.log_softmax(z, -1).gather(-1, a[:, None]).squeeze(-1)
    assert torch.equal(pipe.sampler_logprobs(z, a), exact)
    assert torch.equal(pipe.trainer_logprobs(z, a), exact)


def test_bf16_spacing_facts():
    fi = torch.finfo(BF16)
    assert fi.eps == 2.0**-7  # 8 significant bits
    one = torch.tensor(1.0, dtype=F64)
    assert spacing(one, BF16).item() == fi.eps  # above 1
    assert spacing(one - 1e-6, BF16).item() == fi.eps / 2  # below 1: half the spacing
    # real casts: just above 1 the grid step is 2^-7, just below it is 2^-8
    assert (one + 0.51 * fi.eps).to(BF16).item() == 1 + fi.eps
    assert (one + 0.49 * fi.eps).to(BF16).item() == 1.0
    assert (one - 0.51 * fi.eps / 2).to(BF16).item() == 1 - fi.eps / 2
    assert torch.finfo(FP16).eps == 2.0**-10


@pytest.mark.parametrize("dtype", [BF16, FP16, FP32])
def test_spacing_matches_nextafter(dtype):
    x = torch.tensor([1.0, 0.75, -9.3, 1e-3, -0.02, 3.0, -17.5], dtype=F64).to(dtype)
    away = torch.nextafter(x, torch.sign(x) * math.inf).to(F64) - x.to(F64)
    assert torch.equal(spacing(x.to(F64), dtype), away.abs())


def test_out_of_range_reports_indices():
    z = torch.zeros(3, 4, dtype=F64)
    z[1, 2], z[2, 0] = 7e4, -1e5
    assert out_of_range(z, FP16).tolist() == [[1, 2], [2, 0]]
    assert len(out_of_range(z, BF16)) == 0


@pytest.mark.parametrize("name", pipeline_names())
def test_trainer_logprobs_differentiable_and_float64(name):
    pipe = get_pipeline(name)
    z, g = _rows(k=20, n=6)
    z.requires_grad_(True)
    a = torch.randint(20, (6,), generator=g)
    logp = pipe.trainer_logprobs(z, a, g)
    old = pipe.sampler_logprobs(z, a, g)
    assert logp.dtype == old.dtype == F64 and logp.shape == (6,)
    assert not old.requires_grad
    logp.sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    assert pipe.ratio_dtype in (BF16, FP16, FP32, F64)


# ---------------------------------------------------------------- statistical tier


def _mc_rounding(n, lo, hi, shift, seed):
    g = torch.Generator().manual_seed(seed)
    x = lo + (hi - lo) * torch.rand(n, generator=g, dtype=F64)
    y = x + shift(g, n)
    q = lambda v: v.to(BF16).to(F64)  # noqa: E731
    return x, y, q


def _within(measured, predicted, k=4.0):
    se = measured.std() / math.sqrt(len(measured))
    gap = abs(measured.mean() - predicted.mean())
    assert gap <= k * se, (measured.mean(), predicted.mean(), se)


def test_jensen_independent_rounding_vs_monte_carlo():
    # log-probs in [−8, −4) (bf16 spacing 2^-5), two sides far apart: roundings independent
    x, y, q = _mc_rounding(200_000, -8.0, -4.0,
                           lambda g, n: -0.5 * torch.rand(n, generator=g, dtype=F64), 1)
    y = y.clamp(-7.999, -4.001)
    measured = torch.exp((q(y) - q(x)) - (y - x)) - 1
    predicted = jensen_bias(spacing(x, BF16))
    assert predicted.mean() == pytest.approx((2.0**-5) ** 2 / 12, rel=0.01)
    _within(measured, predicted)
    assert measured.mean() > 0  # upward


def test_one_sided_and_correlated_rounding_vs_monte_carlo():
    x, y, q = _mc_rounding(200_000, -8.0, -4.0,
                           lambda g, n: 1e-3 * torch.randn(n, generator=g, dtype=F64), 2)
    y = y.clamp(-7.999, -4.001)
    s = spacing(x, BF16)
    _within(torch.exp(q(x) - x) - 1, one_sided_bias(s))
    _within(torch.exp((q(y) - q(x)) - (y - x)) - 1, correlated_bias(y - x, s))


@pytest.mark.parametrize("name", ["f_fsdp2_cast", "d_bf16_logits", "e_bf16_network"])
def test_prediction_vs_measurement_small_vocab(name):
    src = LogitSource(vocab=64, kind="zipf", alpha=1.0, jitter=3.0)
    res = measure_ratio_bias(name, src, 20_000, seed=3, tokens_per_row=4,
                             sampling="exact_pi_diagnostic")  # the models predict E[r | y]
    m, by = res.summary.iloc[0], res.by_bin
    pr = predicted_by_bin(name, src, 20_000, seed=3, tokens_per_row=4)
    pred_all = (pr["predicted_bias"] * by["n"]).sum() / by["n"].sum()
    assert abs(m.measured_bias - pred_all) <= 4 * m.bias_se + 1e-5


# ---------------------------------------------------------------- streamed == reference


def _naive(pipe, src, n_tokens, tokens_per_row, block_rows, eps_low=0.2, eps_high=0.28):
    frames = []
    for block, n_rows in enumerate(block_sizes(n_tokens, tokens_per_row, block_rows)):
        tok = block_ratios(pipe, src, n_rows, block_generator(0, block), None, tokens_per_row)
        frames.append(pd.DataFrame({"logp": tok.logp.reshape(-1).numpy(),
                                    "r": tok.ratio.reshape(-1).numpy()}))
    df = pd.concat(frames)
    df["bin"] = pd.cut(df["logp"], LOGP_EDGES, right=True, labels=False)
    return df.groupby("bin").agg(
        n=("r", "size"), bias=("r", lambda r: (r - 1).mean()),
        up=("r", lambda r: (r > 1 + eps_high).mean()), lo=("r", lambda r: (r < 1 - eps_low).mean()),
        ne=("r", lambda r: (r != 1).mean()))


def test_streamed_measurement_equals_naive_reference():
    src = LogitSource(vocab=200, kind="peaked")
    got = measure_ratio_bias("bf16", src, 1500, seed=0, block_rows=37, tokens_per_row=3).by_bin
    ref = _naive("bf16", src, 1500, 3, 37)
    got = got.iloc[ref.index.astype(int)]
    assert got["n"].tolist() == ref["n"].tolist()
    for a, b in (("measured_bias", "bias"), ("frac_upper", "up"), ("frac_lower", "lo"),
                 ("frac_ne1", "ne")):
        assert got[a].to_numpy() == pytest.approx(ref[b].to_numpy(), rel=1e-9, abs=1e-15)


def test_chunked_sums_equal_unchunked():
    src = LogitSource(vocab=300, kind="zipf")
    tok = block_ratios("e_bf16_network", src, 40, block_generator(0, 0), None, 5)
    whole = bin_sums(tok)
    halves = [TokenRatios(*(getattr(tok, f.name)[s] for f in dataclasses.fields(tok)))
              for s in (slice(0, 17), slice(17, 40))]
    assert torch.allclose(bin_sums(halves[0]) + bin_sums(halves[1]), whole, rtol=1e-12, atol=0)
    assert summarise(whole, "x").by_bin["n"].sum() == 200


def test_drift_is_zero_for_unbiased_weights_and_signed_otherwise():
    z, _ = _rows(k=30, n=16)
    ones = pd.DataFrame({"w_pos": [1.0] * 12, "w_neg": [1.0] * 12})
    d = implied_entropy_drift(ones, z)
    assert d["drift"] == 0.0 and d["dH_exact"] < 0  # calibrated advantage: entropy falls
    # positive advantages up-weighted -> the calibrated step is stronger -> more entropy loss
    heavier = pd.DataFrame({"w_pos": [1.1] * 12, "w_neg": [1.0] * 12})
    assert implied_entropy_drift(heavier, z)["drift"] < 0


def test_table_source_draws_rows_of_the_table():
    table = torch.randn(2, 3, 5, dtype=F64)
    rows = TableSource(table)(10, torch.Generator().manual_seed(0))
    flat = table.reshape(-1, 5)
    assert all(any(torch.equal(r, f) for f in flat) for r in rows)


# ---------------------------------------------------------------- bad input


def _fp16_overflow():
    z = torch.zeros(2, 4, dtype=F64)
    z[1, 3] = 1e5
    get_pipeline("fp16").sampler_logprobs(z, torch.zeros(2, dtype=torch.long))


def _pipe(**kw):
    return lambda: PathSpec(**kw)


BAD = [
    ("unknown pipeline", lambda: get_pipeline("bf17"), "choose one of: 'a_bf16_logprobs'"),
    ("unknown dtype", _pipe(logits="bf8"), "'bf16', 'fp16', 'fp32', 'fp64'"),
    ("non-float dtype", _pipe(output=torch.int32), "one of 'bf16'"),
    ("unknown kernel", _pipe(kernel="fast"), "choose one of"),
    ("negative noise", _pipe(noise_scale=-1.0), "noise_scale"),
    ("fp16 overflow", _fp16_overflow,
     "1 of 8 entries beyond the fp16 range ±65504 at indices (1, 3)"),
    ("empty logits", lambda: get_pipeline("bf16").sampler_logprobs(
        torch.zeros(0, 4, dtype=F64), torch.zeros(0, dtype=torch.long)), "non-empty"),
    ("actions shape", lambda: get_pipeline("bf16").trainer_logprobs(
        torch.zeros(3, 4, dtype=F64), torch.zeros(2, dtype=torch.long)), "shape mismatch"),
    ("actions dtype", lambda: get_pipeline("bf16").trainer_logprobs(
        torch.zeros(3, 4, dtype=F64), torch.zeros(3)), "torch.long"),
    ("actions range", lambda: get_pipeline("bf16").trainer_logprobs(
        torch.zeros(3, 4, dtype=F64), torch.full((3,), 4)), "token ids in [0, 3]"),
    ("ratio shapes", lambda: get_pipeline("bf16").ratio(
        torch.zeros(3, dtype=F64), torch.zeros(4, dtype=F64)), "shape mismatch"),
    ("trainer logits shape", lambda: get_pipeline("bf16").ratios(
        torch.zeros(3, 4, dtype=F64), torch.zeros(3, 1, dtype=torch.long),
        trainer_logits=torch.zeros(3, 5, dtype=F64)), "shape mismatch"),
    ("nan logits", lambda: get_pipeline("bf16").sampler_logprobs(
        torch.full((2, 3), math.nan, dtype=F64), torch.zeros(2, dtype=torch.long)), "non-finite"),
    ("zero tokens", lambda: measure_ratio_bias("bf16", LogitSource(vocab=10), 0), "n_tokens"),
    ("bad source kind", lambda: LogitSource(kind="flat"), "kind"),
    ("empty table", lambda: TableSource(torch.zeros(0, 3, dtype=F64)), "non-empty"),
    ("bad summary shape", lambda: summarise(torch.zeros(2, len(SUMS)), "x"), "expected"),
]


@pytest.mark.parametrize("case, call, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input(case, call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)


# ---------------------------------------------------------------- smoke: the simulator hook


@pytest.mark.parametrize("name", ["bf16", "fp32_logprobs"])
def test_simulator_runs_with_named_pipeline(name):
    from entropy_lab.sim import simulate

    df = simulate("bandit/calibrated", "dapo", steps=2, seeds=2, precision=name,
                  generator=torch.Generator().manual_seed(0))
    assert df.attrs["precision"] == name
    assert df["entropy"].notna().all() and len(df) == 6
