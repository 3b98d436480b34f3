"""Claim 8 (Theorem 3): which precision pipelines bias the importance ratio upward, by how much
per log-prob bin, and what fraction of tokens they touch; fp16 and fp32 controls."""

from __future__ import annotations

import math

import torch

from entropy_lab.checks import CheckResult, register_check
from entropy_lab.precision import (
    LogitSource,
    TableSource,
    get_pipeline,
    measure_ratio_bias,
    pipeline_names,
)
from entropy_lab.precision.drift import implied_entropy_drift, predicted_by_bin
from entropy_lab.precision.matmul import MatmulSource, logit_disagreement
from entropy_lab.precision.predict import correlated_bias, jensen_bias, one_sided_bias, spacing

VOCAB = 32_000
TOKENS_PER_ROW = 64
ROWS, ROWS_QUICK, ROWS_LARGE = 32, 8, 1024
TABULAR_PIPELINES = ("bf16", "bf16_fsdp2", "e_bf16_network", "fp16", "fp32_logprobs",
                     "fp32")
SIGNIFICANT = 3.0  # |bias| > 3 SE counts as a resolved direction
PAPER_TOUCHED = 1e-3  # "< 0.1% of tokens"
BF16_PIPELINES = ("bf16", "bf16_fsdp2", "e_bf16_network")
# logits that go wholly through a bf16 unembedding (z = h·W): the two emulations of mechanism (e)
MATMUL_PIPELINES = ("e_bf16_matmul_order", "e_bf16_network")
MATMUL_KEYS = ("bias", "se", "direction", "frac_ne1", "frac_out", "frac_upper", "frac_lower",
               "bias_logp_below_-5")


def _direction(bias: float, se: float) -> str:
    if not math.isfinite(bias) or (se > 0 and abs(bias) <= SIGNIFICANT * se):
        return "unresolved"
    return "up" if bias > 0 else ("down" if bias < 0 else "none")


def _survey(source, rows: int, eval_rows, names) -> dict:
    out = {}
    for name in names:
        res = measure_ratio_bias(name, source, rows * TOKENS_PER_ROW, seed=8,
                                 tokens_per_row=TOKENS_PER_ROW)
        pred = predicted_by_bin(name, source, rows * TOKENS_PER_ROW, seed=8,
                                tokens_per_row=TOKENS_PER_ROW)
        by, s = res.by_bin, res.summary.iloc[0]
        filled = by[by["n"] > 0]
        gap = (filled["measured_bias"] - pred.loc[filled.index, "predicted_bias"]).abs()
        agree = (gap <= 4 * filled["bias_se"] + 2e-6).mean()
        low = by[(by["logp_hi"] <= -5.0) & (by["n"] > 0)]
        low_bias = (low["measured_bias"] * low["n"]).sum() / max(low["n"].sum(), 1)
        drift = implied_entropy_drift(by, eval_rows)
        out[name] = {
            "bias": s["measured_bias"], "se": s["bias_se"],
            "direction": _direction(s["measured_bias"], s["bias_se"]),
            "bias_logp_below_-5": low_bias, "frac_ne1": s["frac_ne1"], "frac_out": s["frac_out"],
            "frac_upper": s["frac_upper"], "frac_lower": s["frac_lower"],
            "rel_entropy_drift": drift["rel_drift"], "pred_bins_agree": agree,
        }
    return out


@register_check("claim08_precision_bias", claim=8, kind="empirical",
                title="Theorem 3: ratio bias per precision pipeline (vocab 32k, tabular)")
def check_bias(quick: bool) -> CheckResult:
    return _bias_result(ROWS_QUICK if quick else ROWS)


@register_check("claim08_precision_bias_large", claim=8, kind="empirical", slow=True,
                title="Theorem 3: ratio bias per pipeline, 1024 context rows (resolves directions)")
def check_bias_large(quick: bool) -> CheckResult:
    return _bias_result(ROWS_QUICK if quick else ROWS_LARGE)


def _bias_result(rows: int) -> CheckResult:
    source = LogitSource(vocab=VOCAB, kind="peaked")
    eval_rows = source(8, torch.Generator().manual_seed(99))
    llm = _survey(source, rows, eval_rows, pipeline_names())
    from entropy_lab.problems import get_problem

    table = get_problem("tree/calibrated").init_logits(4, torch.Generator().manual_seed(0))
    tab = _survey(TableSource(table), 4 * rows, table.reshape(-1, table.shape[-1])[:16],
                  TABULAR_PIPELINES)
    measured = {f"{k}/{name}": v for name, d in llm.items() for k, v in d.items()}
    measured.update({f"tree/{k}/{name}": v for name, d in tab.items()
                     for k, v in d.items() if k in ("bias", "se", "direction", "frac_out")})
    mm, disagreement = _matmul_survey(rows)
    measured.update({f"matmul_src/{k}/{name}": v for name, d in mm.items()
                     for k, v in d.items() if k in MATMUL_KEYS})
    measured.update({f"matmul_src/{k}": v for k, v in disagreement.items()})
    bf16_up = [llm[n]["direction"] == "up" for n in BF16_PIPELINES]
    controls_small = all(abs(llm[n]["bias"]) <= max(3 * llm[n]["se"], 1e-4)
                         for n in ("fp16", "fp32", "fp64"))
    touched_small = all(llm[n]["frac_out"] < PAPER_TOUCHED for n in BF16_PIPELINES)
    fix_helps = llm["fp32_logprobs"]["frac_out"] < llm["bf16"]["frac_out"] / 2
    measured.update({"bf16_upward_resolved": sum(bf16_up), "controls_small": controls_small,
                     "out_of_band_below_0.1pct": touched_small,
                     "fp32_logprobs_halves_out": fix_helps})
    ok = all(bf16_up) and controls_small and touched_small
    return CheckResult.judge(
        ok, partly=any(bf16_up) or controls_small,
        measured=measured,
        summary="bf16 gives an upward multiplicative bias of r touching < 0.1% of tokens; "
                "fp16 / fp32 log-probs remove it.",
        precise="Per pipeline (sampler vs trainer paths, real torch dtypes), on 32k-vocab peaked "
                "Zipf logits and on tree/calibrated tables: E[r] − 1 over tokens sampled from π "
                "(row-clustered SE), its direction where |bias| > 3 SE, the fraction of tokens "
                "with r ≠ 1 and with r outside [0.8, 1.28], the A>0 (upper) and A<0 (lower) clip "
                "fractions, and the Theorem-1 entropy drift of a calibrated PG step with the "
                "measured per-bin PPO weights. Network disagreement (mechanism e) is emulated as "
                "relative logit noise z·(1 + ε_dtype·ξ), a modelling choice; it is calibrated "
                "against a real bf16 unembedding matmul (D = 512) computed in two reduction "
                "orders (sampler: 8 D-slices summed in bf16; trainer: one GEMM) on logits "
                "z = h·W (matmul_src/*: both emulations' ratio bias, the paths' relative logit "
                "disagreement rms(Δz)/rms(z) and the equivalent noise scale c = that/(√2·ε)); "
                "these numbers are reported, not judged.",
        tolerance="direction resolved at 3 SE; controls |bias| ≤ max(3 SE, 1e-4); prediction "
                  "agrees in a bin when |meas − pred| ≤ 4 SE + 2e-6",
        reason=_reason(llm) + _matmul_reason(mm, disagreement),
    )


def _matmul_survey(rows: int) -> tuple[dict, dict]:
    """Both mechanism-(e) emulations on logits made by the bf16 unembedding, and the measured
    relative logit disagreement of the matmul pipeline's two reduction orders."""
    source = MatmulSource(vocab=VOCAB, kind="peaked")
    eval_rows = source(8, torch.Generator().manual_seed(99))
    pipe = get_pipeline("e_bf16_matmul_order")
    disagreement = logit_disagreement(pipe.sampler.matmul, pipe.trainer.matmul, eval_rows)
    disagreement["noise_model_rel_rms"] = math.sqrt(2) * torch.finfo(torch.bfloat16).eps
    return _survey(source, rows, eval_rows, MATMUL_PIPELINES), disagreement


def _matmul_reason(mm: dict, dis: dict) -> str:
    parts = [f"{n} {d['bias']:+.1e}±{d['se']:.0e}, out-of-band {100 * d['frac_out']:.2f}%"
             for n, d in mm.items()]
    return (f" On z = h·W logits: bf16 matmul orders disagree by rms(Δz)/rms(z) = "
            f"{dis['rel_rms']:.1e} (noise model c = 1: {dis['noise_model_rel_rms']:.1e}; "
            f"c_equiv {dis['c_equiv']:.2f}); " + "; ".join(parts) + ".")


def _reason(llm: dict) -> str:
    parts = [f"{n}: {d['bias']:+.1e}±{d['se']:.0e} ({d['direction']}), out-of-band "
             f"{100 * d['frac_out']:.2f}%" for n, d in llm.items()
             if n in ("bf16", "bf16_fsdp2", "e_bf16_network", "fp32_logprobs", "fp16", "fp32")]
    pure = [n for n in llm if n[:2] in ("a_", "b_", "c_", "d_", "f_")]
    worst = max(abs(llm[n]["bias"]) for n in pure)
    out = max(llm[n]["frac_out"] for n in pure)
    return ("; ".join(parts) + f". Pure rounding (a–d, f): max |E[r] − 1| {worst:.1e}, max "
            f"out-of-band fraction {out:.1e}.")


BINADES = ((-1.0, -0.5), (-4.0, -2.0), (-16.0, -8.0))


def _mc_case(case: str, dtype, lo: float, hi: float, n: int, g):
    """Monte Carlo of one rounding case in one binade (constant spacing s there).

    The log-error c = log r − log r_exact has mean 0 under the model and a first-order spread
    that would swamp the O(s²) bias, so the bias is estimated as mean(e^c − 1 − c) (control
    variate) and mean(c) is tested against 0 separately. Returns
    (bias MC, bias model, bias SE, mean c, SE of c)."""
    x = lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)
    q = lambda v: v.to(dtype).to(torch.float64)  # noqa: E731
    s = spacing(x, dtype)
    if case == "one_sided":
        c, pred = q(x) - x, one_sided_bias(s)
    elif case == "independent":
        y = lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64)
        c, pred = q(y) - q(x) - (y - x), jensen_bias(s)
    else:
        y = (x + 0.3 * s * torch.randn(n, generator=g, dtype=torch.float64)).clamp(lo, hi * 1.0001)
        c, pred = q(y) - q(x) - (y - x), correlated_bias(y - x, s)
    second = torch.expm1(c) - c
    root_n = math.sqrt(n)
    return (second.mean().item(), pred.mean().item(), second.std().item() / root_n,
            c.mean().item(), c.std().item() / root_n)


@register_check("claim08_rounding_models", claim=8, kind="theorem",
                title="Rounding models (one-sided, Jensen, correlated) vs Monte Carlo, real casts")
def check_models(quick: bool) -> CheckResult:
    n = 100_000 if quick else 400_000
    g = torch.Generator().manual_seed(8)
    measured, ok, worst = {}, True, 0.0
    for dtype, tag in ((torch.bfloat16, "bf16"), (torch.float16, "fp16")):
        for lo, hi in BINADES:
            for case in ("one_sided", "independent", "correlated"):
                mc, pred, se, mean_c, se_c = _mc_case(case, dtype, lo, hi, n, g)
                z = abs(mc - pred) / se
                worst = max(worst, z, abs(mean_c) / se_c)
                ok &= z <= 4.0 and abs(mean_c) <= 4.0 * se_c and mc > 0 and pred > 0
                measured[f"{tag}/{case}/[{lo:g},{hi:g})"] = (
                    f"mc={mc:.3e}±{se:.1e} model={pred:.3e} mean_logerr={mean_c:+.1e}±{se_c:.0e}")
    measured["worst_z"] = worst
    return CheckResult.judge(
        ok, measured=measured,
        summary="Rounding log-probs independently biases r upward by the Jensen term ≈ σ²/2.",
        precise="With rounding error u·s, u ~ U[−½, ½] (s = the dtype's spacing at |ℓ|): one side "
                "rounded: E[r] − 1 = sinh(s/2)/(s/2) − 1 ≈ s²/24; both independently: "
                "(sinh(s/2)/(s/2))² − 1 ≈ s²/12 = σ²/2; values δ apart (δ ≲ s): "
                "(1 − f)e^{ms} + f e^{(m+1)s} with δ/s = m + f, times e^{−δ}. All > 0.",
        tolerance="per case (bf16 and fp16 casts, three binades): |MC − model| ≤ 4 SE for the "
                  "second-order part, mean log-error within 4 SE of 0, MC and model > 0",
        reason=f"worst deviation {worst:.1f} SE over 18 cases",
    )
