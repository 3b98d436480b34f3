"""The simulator's :class:`~entropy_lab.algorithms.step.Policy`: logits ``[B, S, K]`` over a
problem's states, B seeds as the replica dim.

The logits are one float64 leaf (the tabular policy) or a parameterised θ -> logits
(:class:`~entropy_lab.sim.params.SimParams`), recomputed at every minibatch. Sampling goes
through the problem's dynamics (``Streams.sample``): tokens from the sampler path's own
distribution with their log π_s from the same pass (faithful sampling), or from the exact π
(the exact pipeline, where π_s = π, and the labelled exact-π diagnostic, whose sampler
log-probs are evaluated after the draw); trainer log-probs through the pipeline's trainer path
(:class:`~entropy_lab.sim.tokens.TokenBatch`). Token tensors are
``[B, Q, T]`` with Q = N·G.

Where the pipeline's two paths are one table (the exact float64 default), the trainer's recompute
at θ_old *is* the sampler's log-probs, so it is not evaluated twice.

π, log π and H_s of the policy state a batch is drawn from are computed once, by the loop's
snapshot of that state (``sim.record.snapshot``), and reused here: the rollout entropy of every
token is the snapshot's H_s at its state, and under the exact table the sampler's log-probs (and
REPO's centred L = log π + H) are gathered from the snapshot's log π (row-wise the same
``torch.log_softmax``, so the same numbers as evaluating the tokens' rows).
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms.step import Batch
from entropy_lab.sim.pipeline import is_exact_table
from entropy_lab.sim.tokens import TokenBatch


class LogitsPolicy:
    """Adapter over the run's trainable logits ``[B, S, K]``.

    Args:
        params: :class:`~entropy_lab.sim.params.SimParams` (``logits()``, ``current()``,
            ``parameters()``).
        problem: the TabularProblem sampled and scored (its current task).
        pipeline: the precision pipeline (sampler and trainer paths).
        streams: the run's random streams (sampling, noisy paths).
        sampler: the :data:`~entropy_lab.problems.base.TokenSampler` drawing the rollout's tokens
            from the sampler path's distribution (``entropy_lab.sim.pipeline.token_sampler``), or
            None to draw them from the exact π (and evaluate the sampler path's log-probs after).
        snap: the :class:`~entropy_lab.sim.record.Snapshot` of the current logits (its
            ``state_entropy`` ``[B, S]`` and, if kept, ``logp`` ``[B, S, K]``).
    """

    loss_dtype = torch.float64

    def __init__(self, params, problem, pipeline, streams, sampler=None, snap=None):
        self.params = params
        self.snap = snap
        self.sampler = sampler
        self.problem = problem
        self.pipeline = pipeline
        self.streams = streams
        self.ratio_dtype = pipeline.ratio_dtype

    def parameters(self) -> list[torch.Tensor]:
        return self.params.parameters()

    def sample(self, prompts: int, group_size: int, generator=None) -> Batch:
        """N = ``prompts`` prompts from the problem, G responses each; ``data`` holds the
        :class:`TokenBatch`, the rollout, the logits it was drawn from and the state entropies.
        The run's streams draw (``generator`` is unused: seeds own their streams)."""
        with torch.no_grad():
            z = self.params.current()
            rollout, rewards_bng = self.streams.sample(self.problem, z, prompts, group_size,
                                                       self.sampler)
            b, t_len = z.shape[0], rollout.states.shape[-1]
            # A bool mask: the algorithms' mask checks accept it as is (a float mask costs two
            # scans per call) and every use of it there goes through the same bool map.
            real_bqt = (rollout.mask > 0).reshape(b, -1, t_len)
            tokens = TokenBatch(rollout.states.reshape(b, -1, t_len),
                                rollout.actions.reshape(b, -1, t_len), real_bqt, z.shape[1],
                                z.shape[2], self.pipeline)
            logp_bsk = self._exact_table()
            if rollout.sampler_logp is not None:  # reported by the pass that drew the tokens
                sampler_bqt = tokens.masked(rollout.sampler_logp.reshape(b, -1, t_len))
            elif logp_bsk is not None:  # the exact table at the tokens: no second softmax
                sampler_bqt = tokens.masked(tokens.gather_table(logp_bsk))
            else:
                sampler_bqt = tokens.sampler_logprobs(z, generator=self.streams.shared)
            h_bs = self.snap.state_entropy if self.snap is not None else \
                self.problem.state_entropy(z)
            h_bqt = tokens.masked(tokens.gather_states(h_bs))
        data = {"tokens": tokens, "rollout": rollout, "z": z, "h_bs": h_bs, "logp": logp_bsk}
        return Batch(rewards_bng.to(torch.float64), real_bqt, sampler_bqt, h_bqt, data)

    def _exact_table(self):
        """The snapshot's log π ``[B, S, K]`` where it is both paths' table (else None)."""
        if self.snap is None or self.snap.logp is None or not is_exact_table(self.pipeline):
            return None
        return self.snap.logp

    def trainer_logprobs(self, batch: Batch, idx, with_logits: bool = False):
        """Per state (S <= Q·T): the policy's logits of every state, ``[B, S, K]``, and the
        table gathered. Per token: only the rows of the minibatch's states, ``[B, q·T, K]``
        (``SimParams.state_logits``), so a parameterised policy never builds the ``[B, S, K]``
        tensor or its gradient for a minibatch."""
        tokens = batch.data["tokens"]
        if tokens.per_state:
            z = self.params.logits()
            if not self.params.tabular:  # ∂loss/∂z of this minibatch, for dH_pred_orth
                z.register_hook(self.params.add_logit_gradient)
            logp = tokens.trainer_logprobs(z, idx, generator=self.streams.shared)
            tok = tokens.token_logits(z, idx) if with_logits else None
            return logp, tok
        states = tokens.minibatch_states(idx)
        logp = tokens.token_trainer_logprobs(self._rows(states), idx,
                                             generator=self.streams.shared)
        # a second gather for the loss's own use (as the per-state branch): each use keeps its
        # own gradient path, so the tabular policy's scatter order is the one it always had
        tok = self._rows(states) if with_logits else None
        return logp, tok

    def _rows(self, states_bqt: torch.Tensor) -> torch.Tensor:
        """``[B, q, T, K]`` logits of the tokens' states."""
        b, q, t = states_bqt.shape
        return self.params.state_logits(states_bqt.reshape(b, q * t)).reshape(b, q, t, -1)

    def recompute_logprobs(self, batch: Batch) -> torch.Tensor:
        if "recompute" not in batch.cache:
            tokens = batch.data["tokens"]
            if tokens.per_state:  # both paths are one table: the recompute is the sampler's
                batch.cache["recompute"] = batch.sampler_logp_bt
            else:
                with torch.no_grad():
                    batch.cache["recompute"] = tokens.trainer_logprobs(
                        batch.data["z"], slice(None), generator=self.streams.shared)
        return batch.cache["recompute"]

    def centred_logprobs(self, batch: Batch) -> torch.Tensor:
        tokens = batch.data["tokens"]
        if tokens.per_state:
            return tokens.centred_logprobs(batch.data["z"], batch.data["h_bs"],
                                           logp_bsk=batch.data["logp"])
        return self.recompute_logprobs(batch) + batch.entropy_bt
