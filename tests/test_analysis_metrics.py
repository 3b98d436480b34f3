"""Tests for entropy_lab.analysis.metrics: exact tier (hand-computed values, closed forms),
statistical tier (Monte Carlo pass@k, bootstrap coverage) and the bad-input table."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from entropy_lab.analysis import metrics as M
from entropy_lab.passk import pass_at_k
from entropy_lab.validation import InputError


def test_cumulative_entropy_running_sum_by_hand():
    np.testing.assert_allclose(M.cumulative_entropy([1.0, 0.5, 0.25]), [1.0, 1.5, 1.75])
    two = M.cumulative_entropy(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_allclose(two, [[1.0, 3.0], [3.0, 7.0]])


def test_cumulative_entropy_accepts_tensor():
    out = M.cumulative_entropy(torch.tensor([0.5, 0.5], dtype=torch.float64))
    np.testing.assert_allclose(out, [0.5, 1.0])


def test_correlation_matches_scipy_and_ci_contains_estimate():
    from scipy.stats import pearsonr, spearmanr

    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = 0.6 * x + rng.normal(size=40)
    c = M.correlation(x, y, n_boot=500)
    assert c["r"] == pytest.approx(pearsonr(x, y)[0], abs=1e-12)
    assert c["lo"] < c["r"] < c["hi"]
    s = M.correlation(x, y, method="spearman", n_boot=500)
    assert s["r"] == pytest.approx(spearmanr(x, y)[0], abs=1e-12)


def test_correlation_perfect_line_has_degenerate_interval():
    x = np.arange(10.0)
    c = M.correlation(x, -2 * x + 1, n_boot=200)
    assert c["r"] == pytest.approx(-1.0)
    assert c["lo"] == pytest.approx(-1.0) and c["hi"] == pytest.approx(-1.0)


def test_correlation_bootstrap_reproducible_and_covers_truth():
    # Statistical tier: bivariate normal with ρ = 0.5; the 95% interval from one sample of 200
    # must contain ρ (fixed seed; failure probability ≈ 5% for an arbitrary seed, checked once).
    rng = np.random.default_rng(11)
    cov = [[1.0, 0.5], [0.5, 1.0]]
    xy = rng.multivariate_normal([0, 0], cov, size=200)
    a = M.correlation(xy[:, 0], xy[:, 1], n_boot=1000, seed=5)
    b = M.correlation(xy[:, 0], xy[:, 1], n_boot=1000, seed=5)
    assert a == b
    assert a["lo"] < 0.5 < a["hi"]
    # The half-width is near the normal-theory 1.96·(1 − ρ²)/√n ≈ 0.104 (within ±40%).
    assert 0.062 < (a["hi"] - a["lo"]) / 2 < 0.146


def test_pass_at_k_curve_single_prompt_closed_form():
    ks = np.array([1, 2, 8])
    out = M.pass_at_k_curve([0.3], ks)
    np.testing.assert_allclose(out, 1 - 0.7 ** ks, rtol=1e-14)


def test_pass_at_k_curve_weighted_prompts_and_batch():
    p = np.array([[0.0, 1.0, 0.5], [0.2, 0.2, 0.2]])
    w = np.array([0.5, 0.25, 0.25])
    out = M.pass_at_k_curve(p, [1, 3], prompt_probs=w)
    expected_0 = [0.25 + 0.25 * 0.5, 0.25 + 0.25 * (1 - 0.5**3)]
    expected_1 = [0.2, 1 - 0.8**3]
    np.testing.assert_allclose(out, [expected_0, expected_1], rtol=1e-14)


def test_pass_at_k_curve_tiny_p_keeps_precision():
    # 1 − (1 − p)^k ≈ k·p for tiny p; naive evaluation loses every digit at p = 1e-18.
    assert M.pass_at_k_curve([1e-18], [4])[0] == pytest.approx(4e-18, rel=1e-12)


def test_pass_at_k_curve_agrees_with_unbiased_estimator_on_samples():
    # Statistical tier: the mean of the unbiased estimator over many draws of n samples converges
    # to the exact curve; tolerance 4 standard errors of that mean.
    rng = np.random.default_rng(0)
    p_c = np.array([0.05, 0.3, 0.8])
    n, reps, k = 32, 4000, 8
    c = rng.binomial(n, p_c, size=(reps, 3))
    est = pass_at_k(n, c, k).mean(axis=1)
    exact = M.pass_at_k_curve(p_c, [k])[0]
    assert abs(est.mean() - exact) < 4 * est.std(ddof=1) / np.sqrt(reps)


def test_convergence_order_recovers_power_law():
    eta = np.logspace(-4, -1, 7)
    assert M.convergence_order(eta, 3.0 * eta**2) == pytest.approx(2.0, abs=1e-10)
    assert M.convergence_order(eta, -0.5 * eta**3) == pytest.approx(3.0, abs=1e-10)


def _runs():
    rows = []
    for algo, h0 in (("grpo", 2.0), ("repo_r", 1.0)):
        for seed in range(3):
            for step in range(4):
                rows.append({"algorithm": algo, "seed": seed, "step": step,
                             "entropy": h0 - 0.1 * step + 0.01 * seed, "J": 0.1 * step + seed})
    return pd.DataFrame(rows)


def test_summarize_mean_and_bands_by_hand():
    df = _runs()
    s = M.summarize(df, "entropy", by=("algorithm",), band="std")
    row = s[(s.algorithm == "grpo") & (s.step == 1)].iloc[0]
    vals = np.array([1.9, 1.91, 1.92])
    assert row["mean"] == pytest.approx(vals.mean())
    assert row["hi"] - row["mean"] == pytest.approx(vals.std(ddof=1))
    sem = M.summarize(df, "entropy", band="sem")
    assert len(sem) == 8 and (sem["n"] == 3).all()
    r = sem[(sem.algorithm == "grpo") & (sem.step == 1)].iloc[0]
    assert r["hi"] - r["mean"] == pytest.approx(vals.std(ddof=1) / np.sqrt(3))
    none = M.summarize(df, "entropy", by=(), band="none")
    assert (none["lo"] == none["mean"]).all() and len(none) == 4


def test_summarize_skips_nan_values():
    df = _runs()
    df.loc[df.step == 0, "entropy"] = np.nan
    df.loc[(df.step == 1) & (df.seed == 0), "entropy"] = np.nan
    s = M.summarize(df, "entropy", by=("algorithm",))
    assert 0 not in set(s["step"]) and np.isfinite(s[["mean", "lo", "hi"]]).all().all()
    row = s[(s.algorithm == "grpo") & (s.step == 1)].iloc[0]
    assert row["n"] == 2 and row["mean"] == pytest.approx((1.91 + 1.92) / 2)


def test_final_summary_per_run():
    df = _runs()
    f = M.final_summary(df, values=("J",), last=2)
    assert len(f) == 6
    r = f[(f.algorithm == "grpo") & (f.seed == 1)].iloc[0]
    h = 2.0 - 0.1 * np.arange(4) + 0.01
    assert r["cum_entropy"] == pytest.approx(h.sum())
    assert r["entropy_initial"] == pytest.approx(h[0])
    assert r["entropy_final"] == pytest.approx(h[-1])
    assert r["J"] == pytest.approx((0.2 + 1 + 0.3 + 1) / 2)


def test_band_exit_fraction_by_hand():
    lo = np.array([0.9, 0.7, 0.85, 0.95])
    hi = np.array([1.1, 1.1, 1.3, 1.27])
    assert M.band_exit_fraction(lo, hi, 0.2, 0.28) == pytest.approx(0.5)


BAD = [
    (lambda: M.cumulative_entropy(1.0), "entropy_t"),
    (lambda: M.correlation([1, 2], [1, 2]), "x and y"),
    (lambda: M.correlation([1, 2, 3], [1, 2, 3], method="kendall"), "method"),
    (lambda: M.correlation([1, 2, 3], [1, 2, 3], n_boot=10), "n_boot"),
    (lambda: M.correlation([1, 2, 3], [1, 2, 3], level=1.0), "level"),
    (lambda: M.pass_at_k_curve([1.2], [1]), "success_prob"),
    (lambda: M.pass_at_k_curve([0.2], [0]), "ks"),
    (lambda: M.pass_at_k_curve([0.2], [1.5]), "ks"),
    (lambda: M.pass_at_k_curve([0.2, 0.3], [1], prompt_probs=[0.3, 0.3]), "prompt_probs"),
    (lambda: M.convergence_order([1e-2, 1e-1], [0.0, 1.0]), "step_sizes"),
    (lambda: M.convergence_order([1e-2], [1.0]), "step_sizes"),
    (lambda: M.summarize(_runs(), "entropy", band="iqr"), "band"),
    (lambda: M.summarize(_runs(), "missing"), "missing"),
    (lambda: M.final_summary(_runs(), values=("pass@8",)), "pass@8"),
    (lambda: M.final_summary(_runs(), last=0), "last"),
    (lambda: M.band_exit_fraction([0.9], [1.1, 1.2], 0.2, 0.2), "ratio_min"),
    (lambda: M.band_exit_fraction([0.9], [1.1], 1.5, 0.2), "eps_low"),
]


@pytest.mark.parametrize("call,name", BAD)
def test_bad_inputs_name_the_argument(call, name):
    with pytest.raises(InputError, match=name.replace("@", ".")):
        call()


def test_sampled_logp_quantile_is_the_weighted_quantile_of_a_bandit():
    from entropy_lab.analysis.metrics import sampled_logp_quantile
    from entropy_lab.problems import get_problem

    problem = get_problem("bandit/calibrated")  # one state, K = 8
    pi = torch.tensor([0.4, 0.3, 0.1, 0.1, 0.05, 0.03, 0.01, 0.01], dtype=torch.float64)
    logits = torch.log(pi).reshape(1, 1, 8).repeat(2, 1, 1)
    logits[1] += 3.0  # a shift leaves π unchanged
    # cumulative π in order of |log π|: 0.4, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0
    med = sampled_logp_quantile(problem, logits)
    np.testing.assert_allclose(med, [-math.log(0.3)] * 2, rtol=1e-12)
    np.testing.assert_allclose(sampled_logp_quantile(problem, logits, 0.3), -math.log(0.4),
                               rtol=1e-12)
    np.testing.assert_allclose(sampled_logp_quantile(problem, logits, 0.97), -math.log(0.03),
                               rtol=1e-12)


def test_sampled_logp_quantile_weights_states_by_visits():
    from entropy_lab.analysis.metrics import sampled_logp_quantile
    from entropy_lab.problems import get_problem

    problem = get_problem("cbandit/calibrated")  # 4 contexts, weights ∝ 4, 3, 2, 1 (its docs)
    k = problem.num_actions
    logits = torch.zeros(1, 4, k, dtype=torch.float64)
    logits[0, 0, 0] = 60.0  # context 0 (weight 0.4): one action with π ≈ 1, |log π| ≈ 0
    # the other three contexts (weight 0.6) are uniform: |log π| = log K
    np.testing.assert_allclose(sampled_logp_quantile(problem, logits, 0.39), 0.0, atol=1e-15)
    np.testing.assert_allclose(sampled_logp_quantile(problem, logits, 0.41), math.log(k),
                               rtol=1e-12)


def test_sampled_logp_quantile_rejects_q_outside_the_open_interval():
    from entropy_lab.analysis.metrics import sampled_logp_quantile
    from entropy_lab.problems import get_problem

    problem = get_problem("bandit/calibrated")
    with pytest.raises(InputError, match="q"):
        sampled_logp_quantile(problem, problem.init_logits(1), 1.0)
