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
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms.step import Batch
from entropy_lab.sim.tokens import TokenBatch
from entropy_lab.theory import entropy


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
    """

    loss_dtype = torch.float64

    def __init__(self, params, problem, pipeline, streams, sampler=None):
        self.params = params
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
            if rollout.sampler_logp is not None:  # reported by the pass that drew the tokens
                sampler_bqt = tokens.masked(rollout.sampler_logp.reshape(b, -1, t_len))
            else:
                sampler_bqt = tokens.sampler_logprobs(z, generator=self.streams.shared)
            if tokens.per_state:
                h_bs = self.problem.state_entropy(z)
                h_bqt = h_bs.gather(1, tokens.states.reshape(b, -1)).reshape(tokens.states.shape)
            else:  # S > Q·T: the entropy (row-wise) of the tokens' states only
                h_bs = None
                h_bqt = entropy(tokens.token_logits(z))
            h_bqt = torch.where(real_bqt, h_bqt, torch.zeros((), dtype=h_bqt.dtype))
        data = {"tokens": tokens, "rollout": rollout, "z": z, "h_bs": h_bs}
        return Batch(rewards_bng.to(torch.float64), real_bqt, sampler_bqt, h_bqt, data)

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
            return tokens.centred_logprobs(batch.data["z"], batch.data["h_bs"])
        return self.recompute_logprobs(batch) + batch.entropy_bt
