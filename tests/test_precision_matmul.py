"""The bf16 unembedding matmul emulation of mechanism (e): exact construction, identical orders
give r = 1, rounding bounds against a float64 reference, the disagreement's size against a
rounding-error model, and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from entropy_lab.precision import (
    PathSpec,
    PrecisionPipeline,
    get_pipeline,
    measure_ratio_bias,
    spacing,
)
from entropy_lab.precision.matmul import LogitMatmul, MatmulSource, logit_disagreement

F64, BF16 = torch.float64, torch.bfloat16
U = 2.0**-8  # unit roundoff of bf16 (round to nearest): |fl(x) − x| ≤ u·|x|


@pytest.fixture(scope="module")
def rows():
    """16 rows z = h₀·W at vocab 4000, with the float64 inputs of the matmul."""
    m = LogitMatmul("split_d")
    z = MatmulSource(vocab=4000, matmul=m)(16, torch.Generator().manual_seed(3))
    w, _ = m.weights(4000)
    return z, m.hidden(z).to(F64), w.to(F64)


def _partials(h64, w64, chunks=8):
    return [hc @ wc for hc, wc in zip(h64.tensor_split(chunks, -1), w64.tensor_split(chunks, 0),
                                      strict=True)]


# ---------------------------------------------------------------- exact tier


def test_hidden_state_recovers_the_source_exactly(rows):
    z, h64, w64 = rows
    assert torch.equal(h64 @ w64, z)  # the whole logit goes through the matmul, ρ = 0


@pytest.mark.parametrize("order", ["whole", "rows", "split_d"])
def test_identical_orders_give_ratio_exactly_one(order, rows):
    z, _, _ = rows
    path = PathSpec(matmul=LogitMatmul(order))
    pipe = PrecisionPipeline("same", "identical orders", path, path)
    actions = torch.multinomial(torch.softmax(z, -1), 8, replacement=True,
                                generator=torch.Generator().manual_seed(0))
    assert torch.equal(pipe.ratios(z, actions), torch.ones(16, 8, dtype=F64))


def test_small_vocabulary_goes_wholly_through_a_square_matmul():
    z = torch.randn(5, 6, generator=torch.Generator().manual_seed(1), dtype=F64)
    m = LogitMatmul("split_d")
    w, _ = m.weights(6)
    assert w.shape == (6, 6)
    h = m.hidden(z).to(F64)
    # h is the exact solution rounded to bf16: h·W misses z by at most the rounding of h
    slack = (U * h.abs()) @ w.to(F64).abs()
    assert ((h @ w.to(F64) - z).abs() <= slack * 1.01).all()
    assert m.error(z).abs().max() > 0


# ---------------------------------------------------------------- bounds vs float64


def test_whole_gemm_within_one_rounding_of_float64(rows):
    z, h64, w64 = rows
    err = LogitMatmul("whole").error(z)
    # one bf16 output rounding plus the fp32 accumulation over D terms (γ_D = D·2^-24)
    fp32 = w64.shape[0] * 2.0**-24 * (h64.abs() @ w64.abs())
    bound = U * z.abs() / (1 - U) + fp32
    assert (err.abs() <= bound).all()
    assert (err != 0).any()


def test_split_d_within_its_rounding_bound_of_float64(rows):
    z, h64, w64 = rows
    err = LogitMatmul("split_d", chunks=8).error(z)
    parts = _partials(h64, w64)
    running = torch.cumsum(torch.stack(parts), 0)
    # each partial GEMM output and each bf16 addition rounds once: ≤ u·|value| (first order)
    rounded = sum(p.abs() for p in parts) + sum(s.abs() for s in running[1:])
    fp32 = (w64.shape[0] // 8) * 2.0**-24 * (h64.abs() @ w64.abs())
    bound = 1.01 * U * rounded + fp32
    assert (err.abs() <= bound).all()
    assert err.abs().max() > LogitMatmul("whole").error(z).abs().max()


# ---------------------------------------------------------------- statistical tier


def _model_mean_square(z, parts, add_var):
    """E[(q(z + δ) − q(z))²] for δ ~ N(0, v), v = Σ partial roundings s²/12 + Σ additions
    s²·add_var (both paths end on the same bf16 grid at z, so the last roundings correlate:
    with |δ|/s = m + f the difference is m·s or (m + 1)·s with probabilities 1 − f, f)."""
    running = torch.cumsum(torch.stack(parts), 0)
    v = sum(spacing(p, BF16) ** 2 / 12 for p in parts)
    v = v + sum(spacing(s, BF16) ** 2 * add_var for s in running[1:-1])
    s = spacing(z, BF16)
    t = (torch.randn(z.shape, generator=torch.Generator().manual_seed(0), dtype=F64)
         * v.sqrt() / s).abs()
    m = torch.floor(t)
    f = t - m
    return (s**2 * ((1 - f) * m**2 + f * (m + 1) ** 2)).mean().item()


def test_disagreement_size_matches_rounding_model(rows):
    """A GEMM output rounds a many-bit fp32 value (error variance s²/12); a bf16 + bf16 addition
    rounds a value with few extra bits (ties: up to s²/8). The measured mean square lies between
    the two models."""
    z, h64, w64 = rows
    diff = LogitMatmul("split_d")(z) - LogitMatmul("whole")(z)
    measured = diff.pow(2).mean().item()
    parts = _partials(h64, w64)
    assert _model_mean_square(z, parts, 1 / 12) < measured < _model_mean_square(z, parts, 1 / 8)
    d = logit_disagreement(LogitMatmul("split_d"), LogitMatmul("whole"), z)
    assert d["rel_rms"] == pytest.approx(math.sqrt(measured / z.pow(2).mean().item()))
    assert 0 < d["frac_differ"] < 1


def test_named_pipeline_moves_ratios_on_matmul_logits():
    res = measure_ratio_bias("e_bf16_matmul_order", MatmulSource(vocab=2000), 512, seed=1,
                             tokens_per_row=16).summary.iloc[0]
    assert res["frac_ne1"] > 0.5 and abs(res["measured_bias"]) < 0.05
    assert get_pipeline("e_bf16_matmul_order").sampler.matmul.order == "split_d"


# ---------------------------------------------------------------- bad input


BAD = [
    ("unknown order", lambda: LogitMatmul("tiled"), "choose one of"),
    ("zero chunks", lambda: LogitMatmul(chunks=0), "chunks"),
    ("chunks beyond dim", lambda: LogitMatmul(dim=4, chunks=8), "chunks"),
    ("zero dim", lambda: LogitMatmul(dim=0), "dim"),
    ("zero scale", lambda: LogitMatmul(scale=0.0), "scale"),
    ("integer dtype", lambda: LogitMatmul(dtype=torch.int8), "dtype"),
    ("not a matmul", lambda: PathSpec(matmul="split_d"), "LogitMatmul"),
    ("bad source kind", lambda: MatmulSource(kind="zipf"), "kind"),
    ("scalar logits", lambda: LogitMatmul().error(torch.tensor(1.0, dtype=F64)), "logits"),
]


@pytest.mark.parametrize("case, call, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input(case, call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)
