"""π / log π / H computed once per policy state: the sampled step's reuse of the snapshot's tables
gives the numbers of evaluating them again (sim.record.snapshot, sim.adapter)."""

import pytest
import torch

from entropy_lab.problems import get_problem
from entropy_lab.sim import ExactPipeline, SimConfig
from entropy_lab.sim.adapter import LogitsPolicy
from entropy_lab.sim.params import SimParams
from entropy_lab.sim.pipeline import is_exact_table, taken_logprobs
from entropy_lab.sim.record import snapshot
from entropy_lab.sim.streams import Streams
from entropy_lab.theory import entropy

pytestmark = pytest.mark.usefixtures("one_thread")


def _batch(pid, snap_kw, seed=0):
    prob = get_problem(pid)
    cfg = SimConfig(seeds=3, n_prompts=4, group_size=4)
    z = prob.init_logits(3) + 0.3 * torch.randn(3, prob.num_states, prob.num_actions,
                                                generator=torch.Generator().manual_seed(5),
                                                dtype=torch.float64)
    params = SimParams(z)
    snap = snapshot(prob, params.current(), 4, **snap_kw) if snap_kw is not None else None
    policy = LogitsPolicy(params, prob, ExactPipeline(), Streams(cfg, torch.Generator()
                                                                 .manual_seed(seed)), None, snap)
    return prob, z, policy.sample(4, 4)


@pytest.mark.parametrize("pid", ["bandit64/calibrated", "cbandit/anti", "tree/calibrated",
                                 "mdp/calibrated"])
def test_tables_from_the_snapshot_equal_a_fresh_evaluation(pid):
    prob, z, got = _batch(pid, {"keep_logp": True})
    tokens = got.data["tokens"]
    # expected values computed independently: the tokens' rows through the pipeline's formula
    rows = tokens.token_logits(z)
    want_logp = torch.where(tokens.real, taken_logprobs(rows, tokens.actions), 0.0)
    assert torch.equal(got.sampler_logp_bt, want_logp)  # row-wise log_softmax: bitwise
    want_h = torch.where(tokens.real, entropy(rows), 0.0)
    torch.testing.assert_close(got.entropy_bt, want_h, rtol=1e-14, atol=1e-15)
    _, _, fresh = _batch(pid, None)  # no snapshot: the adapter evaluates them itself
    assert torch.equal(fresh.sampler_logp_bt, got.sampler_logp_bt)


def test_log_pi_is_kept_only_when_asked_and_only_reused_under_the_exact_table():
    prob = get_problem("bandit64/calibrated")
    z = prob.init_logits(2)
    assert snapshot(prob, z, 4).logp is None
    kept = snapshot(prob, z, 4, keep_logp=True)
    assert torch.equal(kept.logp, torch.log_softmax(z, -1))
    assert is_exact_table(ExactPipeline())

    class Noisy(ExactPipeline):  # a sampler path of its own: not the table
        def sampler_logprobs(self, logits, actions, generator=None):
            return super().sampler_logprobs(logits, actions) + 1.0

    assert not is_exact_table(Noisy())


@pytest.mark.parametrize("pid", ["bandit64/calibrated", "cbandit/uncorrelated"])
def test_bandit_reward_and_success_are_the_two_calls(pid):
    prob = get_problem(pid)
    z = prob.init_logits(4) + torch.linspace(-1, 1, prob.num_actions, dtype=torch.float64)
    j_b, p_bc = prob.reward_and_success(z)
    assert torch.equal(j_b, prob.expected_reward(z))
    assert torch.equal(p_bc, prob.success_prob(z))
    # independently: Σ_c w_c Σ_a π μ
    pi = torch.softmax(z, -1)
    torch.testing.assert_close(j_b, ((pi * prob.means).sum(-1) * prob.prompt_probs).sum(-1),
                               rtol=1e-14, atol=0)


def test_the_benchmarks_hand_written_batched_reference_reproduces_the_frame():
    """benchmarks/bench_sim_bandit.py's batched reference (written out on [B, K] tensors, the
    same draws) gives the simulator's exact columns: the speed comparison compares equal work."""
    from entropy_lab.commands.bench import load
    from entropy_lab.project import project_root

    bench = load("sim_bandit", project_root() / "benchmarks" / "bench_sim_bandit.py")
    diffs = bench.check_batched_reference(seeds=8, steps=5)
    assert set(diffs) == {"entropy", "J", "pass@1", "pass@8", "dH_exact", "dH_pred", "loss"}
    assert max(diffs.values()) <= 1e-12
