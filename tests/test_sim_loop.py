"""The simulator loop: columns, exact identities per row, seeds as a tensor dim, hooks, failure."""

import math

import numpy as np
import pytest
import torch

from entropy_lab.problems import get_problem
from entropy_lab.sim import ExactPipeline, SimConfig, SimulationError, run, simulate
from entropy_lab.theory import entropy, pg_logit_step
from entropy_lab.validation import InputError

COLUMNS = [
    "step", "seed", "task", "entropy", "entropy_seq", "J", "pass@1", "pass@4", "dH_exact",
    "dH_pred", "dH_pred_state", "dH_pred_closed", "clip/frac_low", "clip/frac_high", "clip/frac",
    "ratio/mean", "ratio/min", "ratio/max", "zeta", "eps_high", "entropy_coef", "cum_entropy",
    "reward_mean",
]


pytestmark = pytest.mark.usefixtures("one_thread")


def small(**kw):
    base = dict(steps=4, seeds=3, lr=0.3, n_prompts=2, group_size=4, k=4)
    return SimConfig(**{**base, **kw})


@pytest.mark.parametrize("pid", ["bandit/calibrated", "cbandit/anti", "tree/calibrated",
                                 "mdp/calibrated"])
def test_sampled_frame_has_every_column_and_one_row_per_seed_step(pid):
    df = simulate(pid, "grpo", small(rng="batched"))
    for col in COLUMNS + ["pass@4_est", "loss"]:
        assert col in df.columns, col
    assert len(df) == 3 * 5 and sorted(set(df.seed)) == [0, 1, 2]
    assert df.groupby("seed").step.apply(list).map(lambda s: s == [0, 1, 2, 3, 4]).all()
    first = df[df.step == 0]
    assert first.dH_exact.isna().all() and (first.cum_entropy == 0).all()
    rest = df[df.step > 0]
    assert np.isfinite(rest[["entropy", "J", "dH_exact", "dH_pred", "ratio/mean"]]).all().all()
    # entropy_seq / entropy = expected length: T for fixed-length problems.
    prob = get_problem(pid)
    if not pid.startswith("mdp"):
        assert np.allclose(df.entropy_seq / df.entropy, prob.horizon, rtol=1e-12)
    # cum_entropy is the running sum of the post-update entropies
    one = df[df.seed == 1].sort_values("step")
    assert np.allclose(one.cum_entropy.to_numpy()[1:], np.cumsum(one.entropy.to_numpy()[1:]))
    assert df.attrs["config"]["steps"] == 4 and df.attrs["algorithm"]["name"] == "grpo"


def test_rows_match_an_independent_recomputation_from_final_logits():
    """J, entropy and pass@k of the last row equal the problem's own values at the final logits,
    and dH_exact is the difference of consecutive entropies."""
    res = run("tree/calibrated", "grpo", small(steps=3))
    prob = get_problem("tree/calibrated")
    last = res.frame[res.frame.step == 3].sort_values("seed")
    assert np.allclose(last.J, prob.expected_reward(res.logits).numpy(), rtol=0, atol=1e-14)
    assert np.allclose(last.entropy, prob.entropy(res.logits).numpy(), rtol=0, atol=1e-14)
    assert np.allclose(last["pass@4"], prob.pass_at_k(res.logits, 4).numpy(), atol=1e-14)
    wide = res.frame.pivot(index="step", columns="seed", values="entropy")
    dh = res.frame.pivot(index="step", columns="seed", values="dH_exact")
    assert np.allclose(dh.iloc[1:].to_numpy(), np.diff(wide.to_numpy(), axis=0), atol=1e-15)


def test_first_order_prediction_error_shrinks_like_lr_squared():
    """|dH_exact − dH_pred| / lr² stays bounded as lr → 0 (expected mode, deterministic)."""
    errs = []
    lrs = [0.4, 0.2, 0.1, 0.05]
    for lr in lrs:
        df = simulate("tree/calibrated", "grpo", small(mode="expected", steps=1, seeds=1, lr=lr),
                      minibatches=1)
        row = df[df.step == 1].iloc[0]
        errs.append(abs(row.dH_exact - row.dH_pred) / lr**2)
    assert max(errs) / min(errs) < 1.5  # second-order term: err/lr² tends to a constant
    assert errs[-1] > 0


def test_closed_form_equals_general_form_under_its_premises():
    """Expected-mode REINFORCE, vanilla SGD, one state: ∇H·Δz equals −η·E_π[π·A_c·L] to
    rounding, and the step equals theory.pg_logit_step (an independent formula)."""
    cfg = small(mode="expected", steps=3, seeds=2, lr=0.7)
    res = run("bandit/calibrated", "rloo", cfg, advantage="reinforce", loss="pg", minibatches=1)
    df = res.frame[res.frame.step > 0]
    assert np.allclose(df.dH_pred, df.dH_pred_closed, rtol=1e-12, atol=1e-15)
    prob = get_problem("bandit/calibrated")
    z = prob.init_logits(2)
    for _ in range(3):
        z = z + pg_logit_step(z[:, 0], prob.means.expand(2, -1), 0.7).unsqueeze(1)
    assert torch.allclose(res.logits, z, rtol=0, atol=1e-13)


def test_natural_geometry_step_is_lr_times_centred_advantage():
    res = run("bandit/anti", "rloo", small(mode="expected", steps=1, seeds=1, lr=0.5,
                                           geometry="natural"), minibatches=1)
    prob = get_problem("bandit/anti")
    z0 = prob.init_logits(1)
    expected = z0[:, 0] + pg_logit_step(z0[:, 0], prob.means, 0.5, "natural")
    assert torch.allclose(res.logits[:, 0], expected, atol=1e-14)
    row = res.frame[res.frame.step == 1].iloc[0]
    assert row.dH_pred == pytest.approx(row.dH_pred_closed, rel=1e-12)


def test_closed_form_is_nan_where_premises_fail():
    df = simulate("bandit/calibrated", "grpo", small(mode="expected", steps=2), minibatches=1)
    assert df.dH_pred_closed.isna().all()  # GRPO's expectation is not the REINFORCE closed form
    df = simulate("bandit/calibrated", "grpo", small(steps=2))
    assert df.dH_pred_closed.isna().all()  # sampled mode


def test_single_state_prediction_equals_per_state_prediction():
    df = simulate("bandit/calibrated", "grpo", small(steps=3))
    assert np.allclose(df.dH_pred, df.dH_pred_state, rtol=1e-12, equal_nan=True)


def test_on_policy_exact_pipeline_has_ratio_exactly_one():
    """ExactPipeline, one minibatch: old_logp == logp bitwise, so every ratio is exactly 1 and
    nothing is clipped."""
    df = simulate("tree/calibrated", "dapo", small(steps=3), minibatches=1, epochs=1)
    rest = df[df.step > 0]
    assert (rest["ratio/min"] == 1.0).all() and (rest["ratio/max"] == 1.0).all()
    assert (rest["clip/frac"] == 0.0).all()
    z = torch.randn(3, 5, 7, dtype=torch.float64)
    a = torch.randint(0, 7, (3, 5))
    pipe = ExactPipeline()
    assert torch.equal(pipe.sampler_logprobs(z, a), pipe.trainer_logprobs(z, a))
    assert torch.equal(pipe.trainer_logprobs(z, a),
                       torch.log_softmax(z, -1)[torch.arange(3)[:, None], torch.arange(5), a])


def test_off_policy_minibatches_move_ratios_and_clip():
    df = simulate("bandit/calibrated", "ppo", small(steps=3, lr=2.0, n_prompts=4),
                  minibatches=4, epochs=2)
    rest = df[df.step > 0]
    assert (rest["ratio/max"] > 1.0).any() and (rest["clip/frac"] > 0).any()


def test_precision_hook_paths_and_ratio_dtype_are_used():
    """A pipeline whose sampler path is shifted by a constant: ratios become exp(shift)."""

    class Shifted(ExactPipeline):
        name = "shifted"
        ratio_dtype = torch.float32
        calls = []

        def sampler_logprobs(self, logits, actions, generator=None):
            return super().sampler_logprobs(logits, actions) - 0.01

        def trainer_logprobs(self, logits, actions, generator=None):
            self.calls.append(logits.dtype)
            return super().trainer_logprobs(logits, actions)

    pipe = Shifted()
    # the shifted sampler path defines no distribution of its own: faithful sampling says so,
    # and the exact-π diagnostic runs it
    with pytest.raises(InputError, match="sampling='faithful'.*exact_pi_diagnostic"):
        run("bandit/calibrated", "grpo", small(steps=1), pipeline=pipe, minibatches=1)
    res = run("bandit/calibrated", "grpo", small(steps=1, sampling="exact_pi_diagnostic"),
              pipeline=pipe, minibatches=1)
    row = res.frame[res.frame.step == 1]
    assert np.allclose(row["ratio/min"], math.exp(0.01), rtol=1e-6)
    assert pipe.calls == [torch.float64]


# J and pass@k come from the problem's own matrix-vector product over leaves (BLAS gemv for B > 1,
# a dot product for B = 1), whose summation order may differ by one rounding; every quantity that
# the simulator computes, and the trajectory itself, must agree bitwise.
BLAS_MEASURED = {"J", "pass@1", "pass@4", "pass@4_est"}


@pytest.mark.parametrize("pid", ["bandit/calibrated", "tree/calibrated"])
def test_per_seed_streams_make_a_batch_equal_seeds_run_one_by_one_bitwise(pid):
    cfg = small(steps=3, seeds=4, rng="per_seed", optimizer="adam")
    batch = run(pid, "grpo", cfg)
    for s in (0, 2, 3):
        alone = run(pid, "grpo", cfg.replace(seeds=1, first_seed=s))
        assert torch.equal(batch.logits[s:s + 1], alone.logits), s
        mine = batch.frame[batch.frame.seed == s].reset_index(drop=True)
        num = [c for c in mine.select_dtypes("number").columns if c not in BLAS_MEASURED]
        assert np.array_equal(mine[num].to_numpy(), alone.frame[num].to_numpy(),
                              equal_nan=True), s
        blas = sorted(BLAS_MEASURED & set(mine.columns))
        assert np.allclose(mine[blas], alone.frame[blas], rtol=0, atol=4e-16, equal_nan=True), s


def test_batched_rng_differs_from_per_seed_streams():
    """The default shared stream gives another (equally valid) draw: the mode is a real switch."""
    a = simulate("bandit/calibrated", "grpo", small(rng="batched"))
    b = simulate("bandit/calibrated", "grpo", small(rng="per_seed"))
    assert not a.reward_mean.equals(b.reward_mean)


def test_expected_mode_batch_equals_single_seed_bitwise():
    cfg = small(mode="expected", steps=3, seeds=3)
    batch = run("tree/calibrated", "grpo", cfg, minibatches=1)
    alone = run("tree/calibrated", "grpo", cfg.replace(seeds=1, first_seed=1), minibatches=1)
    assert torch.equal(batch.logits[1:2], alone.logits)
    mine = batch.frame[batch.frame.seed == 1].reset_index(drop=True)
    blas = BLAS_MEASURED | {"reward_mean"}  # expected mode: reward_mean is the problem's J
    num = [c for c in mine.select_dtypes("number").columns if c not in blas]
    assert np.array_equal(mine[num].to_numpy(), alone.frame[num].to_numpy(), equal_nan=True)


def test_same_generator_seed_reproduces_and_different_seeds_differ():
    a = simulate("bandit/calibrated", "grpo", small(), generator=torch.Generator().manual_seed(5))
    b = simulate("bandit/calibrated", "grpo", small(), generator=torch.Generator().manual_seed(5))
    c = simulate("bandit/calibrated", "grpo", small(), generator=torch.Generator().manual_seed(6))
    assert a.equals(b) and not a.J.equals(c.J)


def test_seeds_never_interact():
    """A NaN-free seed's trajectory does not change when another seed's logits differ."""
    cfg = small(mode="expected", steps=2, seeds=2, optimizer="adam")
    res = run("cbandit/calibrated", "grpo", cfg, minibatches=1)
    single = run("cbandit/calibrated", "grpo", cfg.replace(seeds=1), minibatches=1)
    assert torch.equal(res.logits[:1], single.logits)


def test_adam_and_sgd_both_train():
    for opt in ("sgd", "adam"):
        df = simulate("bandit/calibrated", "grpo", small(steps=8, optimizer=opt, lr=0.2))
        j = df.groupby("step").J.mean()
        assert j.iloc[-1] > j.iloc[0]


def test_task_switch_changes_the_reward_and_the_task_column():
    cfg = small(mode="expected", steps=4, seeds=1, switch_task_at=2)
    res = run("bandit/calibrated", "grpo", cfg, minibatches=1)
    df = res.frame
    assert list(df.task) == ["A", "A", "A", "B", "B"]
    prob_b = get_problem("bandit/calibrated").with_task("B")
    assert df.J.iloc[-1] == pytest.approx(float(prob_b.expected_reward(res.logits)[0]), abs=1e-14)
    # entropy does not depend on the task: the column stays continuous across the switch
    assert np.isfinite(df.dH_exact.iloc[3])


def test_controller_values_are_logged_per_seed():
    df = simulate("bandit/calibrated", "repo_r", small(steps=3))
    assert df.zeta.notna().all() and df.entropy_coef.isna().all()
    df = simulate("bandit/calibrated", "adapo", small(steps=3))
    assert df.eps_high.notna().all() and df.zeta.isna().all()
    # a fixed hyperparameter is logged as such; an absent one is NaN
    df = simulate("bandit/calibrated", "dapo", small(steps=2))
    assert (df.eps_high == 0.28).all() and df.zeta.isna().all()
    df = simulate("bandit/calibrated", "grpo", small(steps=2), eps_high=None, eps_low=0.15)
    assert (df.eps_high == 0.15).all()


def test_repo_r_form_is_a_simulate_override():
    cfg = small(steps=3, seeds=2, optimizer="adam", lr=0.05)
    zeta = {"controller.zeta": 0.05, "controller.zeta_max": 0.5}

    def go(**form):
        return simulate("bandit/calibrated", "repo_r", cfg,
                        generator=torch.Generator().manual_seed(5), **zeta, **form)

    raw, cen, again = go(), go(form="centred"), go(form="raw")
    assert np.array_equal(raw.entropy.to_numpy(), again.entropy.to_numpy())
    first = raw.step == 0
    assert np.array_equal(raw.entropy[first].to_numpy(), cen.entropy[first].to_numpy())
    assert not np.allclose(raw.entropy[~first].to_numpy(), cen.entropy[~first].to_numpy())
    with pytest.raises(InputError, match="form='centered'"):
        simulate("bandit/calibrated", "repo_r", small(steps=1), form="centered")
    # the shaping metrics: same first batch in both runs, so the same |A| and |A|·H at step 1.
    # On one state (H the same for every token) mean |A'| is the same too: raw − centred
    # = ζH·(Σ_{A>0}|A| − Σ_{A<0}|A|) = 0 for group-centred advantages; |A' − A| is not
    one = raw.step == 1
    for col in ("shape/abs_adv", "shape/abs_adv_entropy"):
        assert np.array_equal(raw[col][one].to_numpy(), cen[col][one].to_numpy())
    np.testing.assert_allclose(raw["shape/abs_shaped"][one], cen["shape/abs_shaped"][one],
                               rtol=1e-12)
    assert not np.allclose(raw["shape/abs_change"][one], cen["shape/abs_change"][one])
    assert "shape/abs_adv" not in simulate("bandit/calibrated", "grpo", small(steps=1))


def test_shaping_metrics_by_hand():
    from entropy_lab.algorithms.step import shaping_metrics

    adv = torch.tensor([[[1.0, -2.0], [0.5, 3.0]]], dtype=torch.float64)      # [1, B=2, T=2]
    shaped = torch.tensor([[[1.5, -1.0], [0.5, 9.0]]], dtype=torch.float64)
    h = torch.tensor([[[2.0, 1.0], [4.0, 0.0]]], dtype=torch.float64)
    mask = torch.tensor([[[True, True], [True, False]]])                     # last is padding
    m = shaping_metrics(adv, shaped, h, mask)
    # real tokens: |A| = 1, 2, 0.5 -> 3.5/3; |A'| = 1.5, 1, 0.5 -> 3/3; |A' − A| = 0.5, 1, 0
    # -> 1.5/3; |A|·H = 2, 2, 2 -> 6/3
    want = {"shape/abs_adv": 3.5 / 3, "shape/abs_shaped": 1.0, "shape/abs_change": 0.5,
            "shape/abs_adv_entropy": 2.0}
    for key, value in want.items():
        torch.testing.assert_close(m[key], torch.tensor([value], dtype=torch.float64))


def test_non_finite_logits_stop_with_step_seed_and_partial_rows():
    cfg = small(steps=50, seeds=2, optimizer="adam", lr=1e308, mode="expected")
    with pytest.raises(SimulationError, match=r"step \d+, seed 0: non-finite logits") as info:
        simulate("bandit/calibrated", "grpo", cfg, minibatches=1)
    partial = info.value.partial
    step = int(str(info.value).split("step ")[1].split(",")[0])
    assert len(partial) == 2 * step and partial.step.max() == step - 1
    assert np.isfinite(partial.entropy).all()


@pytest.mark.parametrize("pid", ["tree/calibrated", "mdp/calibrated", "cbandit/calibrated"])
def test_both_token_paths_match_the_problems_own_logprobs(pid):
    """Per-state table + gather and per-token gather + pipeline give the problem's log π(a|s)
    and the same centred log-prob log π + H(s), on every sampled token."""
    from entropy_lab.sim.tokens import TokenBatch

    prob = get_problem(pid)
    gen = torch.Generator().manual_seed(0)
    z = prob.init_logits(2) + 0.3 * torch.randn(2, prob.num_states, prob.num_actions,
                                               generator=gen, dtype=torch.float64)
    ro = prob.sample(z, 3, 4, gen)
    b, n, g, t = ro.states.shape

    class PerToken(ExactPipeline):
        logprob_table = None

    ref = prob.logprobs(z, ro).reshape(b, n * g, t)
    h_bs = prob.state_entropy(z)
    got = {}
    for pipe in (ExactPipeline(), PerToken()):
        toks = TokenBatch(ro.states.reshape(b, n * g, t), ro.actions.reshape(b, n * g, t),
                          ro.mask.reshape(b, n * g, t), prob.num_states, prob.num_actions, pipe)
        old = toks.sampler_logprobs(z)
        new = toks.trainer_logprobs(z.clone().requires_grad_(True), torch.arange(n * g))
        assert torch.allclose(old, ref, atol=1e-15) and torch.equal(old, new.detach())
        got[toks.per_state] = toks.centred_logprobs(z, h_bs)
    assert set(got) == {True, False} or prob.num_states > n * g * t
    if len(got) == 2:
        assert torch.allclose(got[True], got[False], atol=1e-15)
    centred = got[next(iter(got))]
    states = ro.states.reshape(b, -1)
    expect = ref + h_bs.gather(1, states).reshape(ref.shape) * ro.mask.reshape(ref.shape)
    assert torch.allclose(centred, expect, atol=1e-14)
    assert entropy(z).shape == (b, prob.num_states)


def test_per_state_prediction_is_theory_first_order_change():
    """dH_pred_state = Σ_s w_s·theory.first_order_entropy_change(z_s, Δz_s), visit weights."""
    from entropy_lab.sim.record import snapshot, update_row
    from entropy_lab.theory import first_order_entropy_change

    prob = get_problem("mdp/calibrated")
    gen = torch.Generator().manual_seed(3)
    z = prob.init_logits(2)
    dz = 0.1 * torch.randn(z.shape, generator=gen, dtype=torch.float64)
    before, after = snapshot(prob, z, 4), snapshot(prob, z + dz, 4)
    row = update_row(before, after, dz)
    v = prob.visits(z)
    ref = (v / v.sum(-1, keepdim=True) * first_order_entropy_change(z, dz)).sum(-1)
    assert torch.allclose(row["dH_pred_state"], ref, rtol=1e-12, atol=1e-16)
    # dH_pred by autograd equals a central finite difference of the problem's entropy
    eps = 1e-6
    fd = (prob.entropy(z + eps * dz) - prob.entropy(z - eps * dz)) / (2 * eps)
    assert torch.allclose(row["dH_pred"], fd, rtol=1e-7, atol=1e-12)


def test_named_precision_pipelines_plug_into_the_hook():
    """A pipeline resolved by name from entropy_lab.precision: bf16 end to end moves on-policy
    ratios off 1 (the mismatch the precision checks study); fp64 keeps them exactly 1."""
    pytest.importorskip("entropy_lab.precision")
    cfg = small(steps=2, seeds=2)
    bf16 = simulate("tree/calibrated", "dapo", cfg.replace(precision="bf16"), minibatches=1)
    fp64 = simulate("tree/calibrated", "dapo", cfg.replace(precision="fp64"), minibatches=1)
    assert bf16.attrs["precision"] == "bf16"
    assert (bf16[bf16.step > 0]["ratio/max"] > 1.0).any()
    rest = fp64[fp64.step > 0]
    assert (rest["ratio/min"] == 1.0).all() and (rest["ratio/max"] == 1.0).all()


def test_expected_mode_reward_mean_is_the_exact_j_before_each_step_across_a_switch():
    cfg = small(mode="expected", steps=4, seeds=1, switch_task_at=2)
    res = run("bandit/calibrated", "grpo", cfg, minibatches=1)
    df = res.frame
    prob_b = get_problem("bandit/calibrated").with_task("B")
    assert df.reward_mean.iloc[1] == df.J.iloc[0] and df.reward_mean.iloc[2] == df.J.iloc[1]
    # step 3 is the first on task B: its reward_mean is task B's J at the step-2 logits
    z2 = run("bandit/calibrated", "grpo", cfg.replace(steps=2, switch_task_at=None),
             minibatches=1).logits
    assert df.reward_mean.iloc[3] == pytest.approx(float(prob_b.expected_reward(z2)[0]),
                                                   abs=1e-15)
    assert df.reward_mean.iloc[4] == df.J.iloc[3]


@pytest.mark.parametrize("pid", ["cbandit/calibrated", "prompts-many/calibrated"])
def test_snapshot_entropy_gradient_without_moving_visits(pid):
    """Bandits (visits = w_c, not functions of the logits): the snapshot's closed-form
    ∂H/∂z against autograd of H = Σ_c w_c H_c / Σ_c w_c written here, at random logits."""
    from entropy_lab.sim.record import snapshot

    prob = get_problem(pid)
    z = 2.0 * torch.randn(2, prob.num_states, prob.num_actions,
                          generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    zr = z.clone().requires_grad_(True)
    logp = torch.log_softmax(zr, -1)
    h_c = -(logp.exp() * logp).sum(-1)
    w = prob.prompt_probs.to(torch.float64)
    (want,) = torch.autograd.grad(((h_c * w).sum(-1) / w.sum()).sum(), zr)
    got = snapshot(prob, z, 4).grad_entropy
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)
