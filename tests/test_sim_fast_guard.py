"""The step loop's fast path: one StepGuard check per iteration replaces the per-call finiteness
scans (validation.trusted); results are unchanged and a non-finite step still stops with its
step, seed and quantity."""

import contextlib

import pytest
import torch

from entropy_lab.problems import get_problem
from entropy_lab.problems.bandit import Bandit
from entropy_lab.sim import ExactPipeline, SimConfig, SimulationError, run
from entropy_lab.sim import loop as sim_loop
from entropy_lab.sim.guard import NonFiniteStep, StepGuard

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def small(**kw):
    base = dict(steps=4, seeds=3, lr=0.3, n_prompts=2, group_size=4, k=4)
    return SimConfig(**{**base, **kw})


@pytest.mark.parametrize("pid, algo, kw", [
    ("bandit/calibrated", "grpo", {}),
    ("tree/calibrated", "clip_cov", {}),
    ("mdp/calibrated", "repo_r", {"optimizer": "adam"}),
    ("tree/calibrated", "grpo", {"mode": "expected"}),
])
def test_trusted_loop_matches_the_fully_scanned_loop_bitwise(monkeypatch, pid, algo, kw):
    fast = run(pid, algo, small(**kw), minibatches=1)
    monkeypatch.setattr(sim_loop, "trusted", contextlib.nullcontext)
    slow = run(pid, algo, small(**kw), minibatches=1)
    assert fast.frame.equals(slow.frame)
    assert torch.equal(fast.logits, slow.logits)


def test_guard_passes_finite_values_and_a_sum_that_only_overflows():
    guard = StepGuard()
    guard.add("a", torch.full((2, 3), 1e308, dtype=F64))  # Σ = inf, every entry finite
    guard.add("b", torch.zeros(2, dtype=F64))
    guard.check(1, [0, 1])
    assert guard.items == []


def test_guard_names_step_first_seed_and_earliest_quantity():
    guard = StepGuard()
    guard.add("rewards", torch.zeros(3, 4, dtype=F64))
    bad = torch.zeros(3, 5, dtype=F64)
    bad[2, 1], bad[1, 0], bad[1, 3] = float("nan"), float("inf"), float("-inf")
    guard.add("loss", bad)
    later = torch.zeros(3, dtype=F64)
    later[1] = float("nan")
    guard.add("logits", later)
    msg = ("step 7, seed 11: non-finite loss (2 of 5 entries NaN/inf; 2 of 3 seeds affected); "
           "also non-finite for this seed: logits")
    with pytest.raises(NonFiniteStep, match=msg.replace("(", r"\(").replace(")", r"\)")):
        guard.check(7, [10, 11, 12])


class NanRewardBandit(Bandit):
    """A bandit whose rewards turn NaN for batch seed 1 from the ``bad_call``-th batch on."""

    def __init__(self, bad_call: int):
        super().__init__(torch.tensor([1.0, 0.0, 0.0], dtype=F64))
        self.calls, self.bad_call = 0, bad_call

    def reward(self, rollout, generator=None):
        self.calls += 1
        r = super().reward(rollout, generator)
        if self.calls >= self.bad_call:
            r[1] = float("nan")
        return r


def test_nan_rewards_stop_the_run_with_step_seed_and_quantity():
    with pytest.raises(SimulationError, match=r"step 3, seed 1: non-finite rewards") as info:
        run(NanRewardBandit(bad_call=3), "grpo", small(steps=6, n_prompts=1))
    partial = info.value.partial
    assert sorted(set(partial.step)) == [0, 1, 2] and len(partial) == 3 * 3


class NanTrainerPipeline(ExactPipeline):
    """Exact sampler path; the trainer path returns NaN for every token of batch seed 2."""

    name = "nan-trainer"

    def trainer_logprobs(self, logits, actions, generator=None):
        logp = super().trainer_logprobs(logits, actions, generator)
        return torch.where(torch.arange(logp.shape[0]).view(-1, 1, 1) == 2, float("nan"), logp)


def test_nan_trainer_logprobs_stop_at_the_first_step_naming_the_path():
    with pytest.raises(SimulationError, match=r"step 1, seed 2: non-finite trainer log-probs"):
        run(get_problem("tree/calibrated"), "grpo", small(steps=3), pipeline=NanTrainerPipeline())
