"""Claim 8 (Theorem 3): which precision pipelines bias the importance ratio upward, by how much
per log-prob bin, and what fraction of tokens they touch; fp16 and fp32 controls.

Tokens are drawn as an engine draws them, from the sampler path's own distribution (faithful
sampling); the exact-π draw appears only as the labelled diagnostic ``diag/*`` (it is what the
rounding models predict, and what the earlier version of this check measured). The noisy
pipelines are also measured with their network noise calibrated to the published trainer–engine
log-prob gap, under each old-log-prob convention (``cal/*``); the verdict reads those.
"""

from __future__ import annotations

import math

import torch

from entropy_lab.algorithms.conventions import get_convention
from entropy_lab.checks import CheckResult, register_check
from entropy_lab.precision import (
    LogitSource,
    TableSource,
    get_pipeline,
    measure_ratio_bias,
    pipeline_names,
)
from entropy_lab.precision.calibration import calibrate
from entropy_lab.precision.drift import implied_entropy_drift, predicted_by_bin
from entropy_lab.precision.matmul import MatmulSource, logit_disagreement
from entropy_lab.precision.measure import measure_conventions
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
# noisy pipelines measured at their default calibrated gap, under every convention
CALIBRATED = ("e_bf16_network", "bf16", "bf16_fsdp2", "fp32_logprobs", "fp16", "fp32")
CONVENTIONS = ("rollout", "recompute", "recompute/reordered", "recompute+tis", "recompute+icepop")
CAL_ROWS = {ROWS_QUICK: 64, ROWS: 512, ROWS_LARGE: 4096}  # calibrated survey, by check size
CAL_TOKENS_PER_ROW = 16


def _direction(bias: float, se: float) -> str:
    if not math.isfinite(bias) or (se > 0 and abs(bias) <= SIGNIFICANT * se):
        return "unresolved"
    return "up" if bias > 0 else ("down" if bias < 0 else "none")


def _low(by) -> tuple[float, float]:
    """Token-weighted E[r] − 1 over the bins with log π < −5, and its SE (bins independent)."""
    low = by[(by["logp_hi"] <= -5.0) & (by["n"] > 0)]
    n = max(low["n"].sum(), 1)
    return ((low["measured_bias"] * low["n"]).sum() / n,
            float(((low["bias_se"] * low["n"]) ** 2).sum() ** 0.5 / n))


def _survey(source, rows: int, eval_rows, names) -> dict:
    out = {}
    n_tok = rows * TOKENS_PER_ROW
    for name in names:
        res = measure_ratio_bias(name, source, n_tok, seed=8, tokens_per_row=TOKENS_PER_ROW)
        diag = measure_ratio_bias(name, source, n_tok, seed=8, tokens_per_row=TOKENS_PER_ROW,
                                  sampling="exact_pi_diagnostic")
        pred = predicted_by_bin(name, source, n_tok, seed=8, tokens_per_row=TOKENS_PER_ROW)
        by, s, d = res.by_bin, res.summary.iloc[0], diag.summary.iloc[0]
        filled = diag.by_bin[diag.by_bin["n"] > 0]
        gap = (filled["measured_bias"] - pred.loc[filled.index, "predicted_bias"]).abs()
        agree = (gap <= 4 * filled["bias_se"] + 2e-6).mean()
        drift = implied_entropy_drift(by, eval_rows)
        out[name] = {
            "bias": s["measured_bias"], "se": s["bias_se"],
            "direction": _direction(s["measured_bias"], s["bias_se"]),
            "bias_logp_below_-5": _low(by)[0], "frac_ne1": s["frac_ne1"],
            "frac_out": s["frac_out"], "frac_upper": s["frac_upper"],
            "frac_lower": s["frac_lower"], "rel_entropy_drift": drift["rel_drift"],
            "diag/bias": d["measured_bias"], "diag/se": d["bias_se"],
            "diag/direction": _direction(d["measured_bias"], d["bias_se"]),
            "diag/bias_logp_below_-5": _low(diag.by_bin)[0], "diag/frac_out": d["frac_out"],
            "diag/pred_bins_agree": agree,
        }
    return out


def _calibrated_survey(source, rows: int) -> dict:
    """Per noisy pipeline at its default calibrated gap: every convention, faithful sampling."""
    convs = [get_convention(c.split("/")[0], layout="reordered") if c.endswith("/reordered")
             else c for c in CONVENTIONS]
    out = {}
    for name in CALIBRATED:
        pipe = calibrate(name, source, rows=min(rows, 512))
        results = measure_conventions(pipe, source, rows * CAL_TOKENS_PER_ROW, convs, seed=8,
                                      tokens_per_row=CAL_TOKENS_PER_ROW)
        for label, res in zip(CONVENTIONS, results, strict=True):
            s = res.summary.iloc[0]
            low, low_se = _low(res.by_bin)
            out[(name, label)] = {
                "noise_scale": pipe.sampler.noise_scale, "gap_rms": s["gap_rms"],
                "bias": s["measured_bias"], "se": s["bias_se"],
                "direction": _direction(s["measured_bias"], s["bias_se"]),
                "bias_logp_below_-5": low, "se_logp_below_-5": low_se,
                "frac_upper": s["frac_upper"], "frac_lower": s["frac_lower"],
                "frac_out": s["frac_out"], "weighted_bias": s["weighted_bias"],
                "weighted_se": s["weighted_se"], "frac_corrected": s["frac_corrected"],
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
    cal = _calibrated_survey(source, CAL_ROWS[rows])
    measured.update({f"cal/{k}/{name}/{conv}": v for (name, conv), d in cal.items()
                     for k, v in d.items()})
    rollout = {n: cal[(n, "rollout")] for n in BF16_PIPELINES}
    bf16_up = [d["direction"] == "up" for d in rollout.values()]
    any_up = [k for k, d in cal.items() if d["direction"] == "up" and k[0] in BF16_PIPELINES]
    controls_small = all(abs(cal[(n, "rollout")]["bias"]) <= max(3 * cal[(n, "rollout")]["se"],
                                                                 1e-4)
                         for n in ("fp16", "fp32"))
    touched_small = all(d["frac_out"] < PAPER_TOUCHED for d in rollout.values())
    fix_helps = cal[("fp32_logprobs", "rollout")]["frac_out"] < rollout["bf16"]["frac_out"] / 2
    measured.update({"bf16_upward_resolved": sum(bf16_up), "controls_small": controls_small,
                     "out_of_band_below_0.1pct": touched_small,
                     "fp32_logprobs_halves_out": fix_helps,
                     "bf16_conventions_upward": [f"{a}/{b}" for a, b in any_up]})
    ok = all(bf16_up) and controls_small and touched_small
    return CheckResult.judge(
        ok, partly=bool(any_up) or any(bf16_up),
        measured=measured,
        summary="bf16 gives an upward multiplicative bias of r touching < 0.1% of tokens; "
                "fp16 / fp32 log-probs remove it.",
        precise="Theorem 3 precise form (entropy_lab/precision/theorem3.py): bypass with "
                "faithful sampling has E[r] = 1 exactly in population, rounding of stored "
                "log-probs adds Σ p·k·s²/24, a reordered recompute adds E[e_A − e_B] + "
                "½E[(e_A − e_B)²], TIS / IcePop remove mass. Measured per pipeline (sampler vs "
                "trainer paths, real torch dtypes) on 32k-vocab peaked Zipf logits, tokens drawn "
                "from the sampler's own distribution: E[r] − 1 (row-clustered SE), its direction "
                "where |bias| > 3 SE, the fraction of tokens with r ≠ 1 and outside [0.8, 1.28], "
                "the A>0 (upper) and A<0 (lower) clip fractions, and the Theorem-1 entropy drift "
                "of a calibrated PG step with the measured per-bin PPO weights. cal/*: the noisy "
                "pipelines with their relative logit noise z·(1 + c·ε·ξ) calibrated so that the "
                "RMS trainer–sampler log-prob gap equals the published cross-engine figure "
                "(0.0022 fp32, 0.031 bf16, 0.040 with a bf16 head; fp16 derived as 0.031/8), "
                "under the conventions rollout, recompute (same and reordered layout), "
                "recompute+tis, recompute+icepop. diag/*: the same with tokens from the exact π "
                "(a diagnostic; the rounding models' predictions are compared with it). The "
                "bf16 unembedding matmul in two reduction orders (matmul_src/*) is reported, not "
                "judged.",
        tolerance="direction resolved at 3 SE; controls |bias| ≤ max(3 SE, 1e-4); verdict: "
                  "reproduced if every bf16 pipeline's calibrated rollout bias is up and out of "
                  "band < 0.1% with small controls; partly if any bf16 pipeline × convention is "
                  "up; prediction agrees with the diagnostic in a bin when |meas − pred| ≤ 4 SE "
                  "+ 2e-6",
        reason=_reason(llm) + _cal_reason(cal) + _matmul_reason(mm, disagreement),
    )


def _cal_reason(cal: dict) -> str:
    parts = []
    for name in ("bf16", "e_bf16_network", "fp32"):
        d = cal[(name, "rollout")]
        parts.append(f"{name} (c {d['noise_scale']:.2f}, gap {d['gap_rms']:.4f}) rollout "
                     f"{d['bias']:+.1e}±{d['se']:.0e}, log π < −5 {d['bias_logp_below_-5']:+.1e}"
                     f"±{d['se_logp_below_-5']:.0e}")
    rec = cal[("bf16", "recompute/reordered")]
    parts.append(f"bf16 reordered recompute {rec['bias']:+.1e}±{rec['se']:.0e}")
    return " Calibrated gap: " + "; ".join(parts) + "."


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
    parts = [f"{n}: {d['bias']:+.1e}±{d['se']:.0e} ({d['direction']}; exact-π diagnostic "
             f"{d['diag/bias']:+.1e}), out-of-band {100 * d['frac_out']:.2f}%"
             for n, d in llm.items()
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
