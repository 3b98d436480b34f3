"""One fixed batch through both worlds' policy adapters gives the same step.

The simulator's LogitsPolicy over tabular logits ``[1, S, K]`` and the harness's
TransformerPolicy over a "transformer" whose logits at every visited prefix are those same table
rows (:class:`TableLM`, a causal LM in the harness's calling convention) run
``rl_iteration`` on one batch sampled from a token tree: for every preset the loss, the
metrics, the gradient at each optimizer step and the parameters after the iteration agree to
1e-12 (the arithmetic is float64 on both sides; only the leading replica dim differs).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from entropy_lab.algorithms import get_preset, preset_names
from entropy_lab.algorithms.step import rl_iteration
from entropy_lab.problems import get_problem
from entropy_lab.sim import SimConfig
from entropy_lab.sim.adapter import LogitsPolicy
from entropy_lab.sim.params import SimParams
from entropy_lab.sim.pipeline import resolve_pipeline
from entropy_lab.sim.streams import Streams

pytest.importorskip("transformers")
from entropy_lab.harness.model import PrecisionMode  # noqa: E402
from entropy_lab.harness.policy import Rollout, TransformerPolicy  # noqa: E402

FP64 = PrecisionMode("fp64", torch.float64, torch.float64, False)


class TableLM(torch.nn.Module):
    """logits(prefix) = table[state(prefix)]: a causal LM whose only parameter is the table.

    ``states`` maps a token prefix (prompt token, then the response so far) to its table row;
    positions before the prompt's last token get zeros (the harness never reads them).
    """

    def __init__(self, table_sk: torch.Tensor, states: dict):
        super().__init__()
        self.table = torch.nn.Parameter(table_sk.clone())
        self.states = states

    def forward(self, input_ids):
        b, length = input_ids.shape
        rows = torch.tensor([[self.states.get(tuple(input_ids[i, :j + 1].tolist()), -1)
                              for j in range(length)] for i in range(b)])
        logits = self.table[rows.clamp(min=0)]
        return SimpleNamespace(logits=torch.where((rows >= 0)[..., None], logits, 0.0))


def _worlds(problem_id="tree/calibrated", n=4, g=4):
    problem = get_problem(problem_id)
    cfg = SimConfig(seeds=1, n_prompts=n, group_size=g, k=2, seed=5)
    streams = Streams(cfg, torch.Generator().manual_seed(5))
    z = streams.init_logits(problem).to(torch.float64)
    with torch.no_grad():  # a policy away from the initial one, so ratios and clips can move
        z += 0.3 * torch.randn(z.shape, generator=torch.Generator().manual_seed(1),
                               dtype=torch.float64)
    sim_params = SimParams(z.clone())
    (sim_logits,) = sim_params.parameters()
    sim = LogitsPolicy(sim_params, problem, resolve_pipeline(None), streams)
    sim_batch = sim.sample(n, g)
    rollout = sim_batch.data["rollout"]
    states = rollout.states.reshape(-1, rollout.states.shape[-1])    # [Q, T]
    actions = rollout.actions.reshape(-1, rollout.actions.shape[-1])
    assert bool((rollout.mask > 0).all())  # a token tree: every sequence has length T
    prompt = states[:, :1] + 10_000  # a prompt token per initial state
    prefix_state = {}
    for q in range(states.shape[0]):
        for t in range(states.shape[1]):
            key = (int(prompt[q, 0]), *actions[q, :t].tolist())
            prefix_state[key] = int(states[q, t])
    model = TableLM(z[0], prefix_state)
    harness_rollout = Rollout(prompt, actions, torch.ones(actions.shape, dtype=torch.float64),
                              sim_batch.sampler_logp_bt[0].clone(), sim_batch.entropy_bt[0].clone())
    harness = TransformerPolicy(model, FP64, task=None, device=torch.device("cpu"))
    harness_batch = TransformerPolicy.batch(harness_rollout, sim_batch.rewards_ng[0].clone())
    return (sim, sim_batch, sim_logits), (harness, harness_batch, model.table)


def _run(policy, batch, param, algo, old_logp):
    grads = []
    opt = torch.optim.SGD([param], lr=0.5)

    def update(loss):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grads.append(param.grad.detach().clone().reshape(-1, param.shape[-1]))
        opt.step()

    res = rl_iteration(policy, algo, None, batch, update,
                       generator=torch.Generator().manual_seed(3), old_logp=old_logp)
    return res, grads


CASES = [(name, "rollout") for name in preset_names()] + [("tis", "recompute"),
                                                           ("icepop", "recompute"),
                                                           ("repo_r", "recompute")]


@pytest.mark.parametrize(("preset", "old_logp"), CASES)
def test_one_batch_gives_the_same_step_in_both_worlds(preset, old_logp):
    (sim, sb, sp), (har, hb, hp) = _worlds()
    algo = get_preset(preset)
    rs, gs = _run(sim, sb, sp, algo, old_logp)
    rh, gh = _run(har, hb, hp, algo, old_logp)
    assert sorted(rs.metrics) == sorted(rh.metrics)
    for key in rs.metrics:
        torch.testing.assert_close(rs.metrics[key].reshape(()), rh.metrics[key].reshape(()),
                                   rtol=1e-12, atol=1e-12, msg=f"{preset}: metric {key}")
    assert len(gs) == len(gh) == algo.epochs * algo.minibatches
    visited = sorted(set(har.model.states.values()))  # other rows get no gradient in either
    for a, b in zip(gs, gh):
        torch.testing.assert_close(a[visited], b[visited], rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(sp.detach()[0], hp.detach(), rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(rs.state.entropy.reshape(()), rh.state.entropy.reshape(()),
                               rtol=1e-12, atol=0)


def test_the_batch_makes_the_step_move():
    """The comparison above is not vacuous: the iteration changes the parameters and, off
    policy, clips tokens in this batch."""
    (sim, sb, sp), _ = _worlds()
    before = sp.detach().clone()
    res, grads = _run(sim, sb, sp, get_preset("grpo"), "rollout")
    assert float((sp.detach() - before).abs().max()) > 1e-3
    assert any(float(g.abs().sum()) > 0 for g in grads)
