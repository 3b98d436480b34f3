"""The sampled (state, action) pairs of one batch, ``[B, Q, T]`` (Q = N·G sequences), and their
log-probs on the sampler and trainer paths.

Two evaluation orders give the same numbers (a log-softmax is row-wise):

- per token: gather the logits row of every token, ``[B, Q, T, K]``, and call the pipeline on it
  (what a pipeline that perturbs each token's logits needs);
- per state: a pipeline with ``logprob_table(logits [..., K]) -> [..., K]`` (the log-prob of every
  action, the same on both paths, e.g. the exact float64 pipeline; see :func:`table_fn`) is
  evaluated once per state,
  ``[B, S, K]``, and the taken pairs are gathered. This is chosen when S <= Q·T (bandits, small
  MDPs), where it is the smaller computation; token trees with many prefixes go per token.
"""

from __future__ import annotations

import torch

from entropy_lab.sim.pipeline import table_fn, taken_logprobs


class TokenBatch:
    """Index bookkeeping for the tokens of a batch.

    Args:
        states_bqt: ``[B, Q, T]`` long state of each token (padding clamped into range).
        actions_bqt: ``[B, Q, T]`` long taken action.
        mask_bqt: ``[B, Q, T]`` bool, or float 0/1.
        num_states, num_actions: S and K of the policy.
        pipeline: the precision pipeline.
    """

    def __init__(self, states_bqt, actions_bqt, mask_bqt, num_states: int, num_actions: int,
                 pipeline):
        b, q, t = states_bqt.shape
        self.states = states_bqt.clamp(0, num_states - 1)
        self.actions = actions_bqt
        self.real = mask_bqt if mask_bqt.dtype == torch.bool else mask_bqt > 0
        self.pipeline = pipeline
        self.num_actions = num_actions
        self.table = table_fn(pipeline)
        self.per_state = self.table is not None and num_states <= q * t
        self.flat = self.states * num_actions + actions_bqt  # [B, Q, T] index into S·K

    def minibatch_states(self, idx=None) -> torch.Tensor:
        """``[B, q, T]`` state of every token of the minibatch ``idx`` (all when None)."""
        return self.states if idx is None else self.states[:, idx]

    def token_logits(self, logits_bsk: torch.Tensor, idx=None) -> torch.Tensor:
        """logits[b, state, :] of every token (of the minibatch ``idx``): ``[B, q, T, K]``."""
        states = self.minibatch_states(idx)
        b, q, t = states.shape
        k = logits_bsk.shape[-1]
        gather_idx = states.reshape(b, q * t, 1).expand(b, q * t, k)
        return logits_bsk.gather(1, gather_idx).reshape(b, q, t, k)

    def gather_table(self, table_bsk: torch.Tensor, idx=None) -> torch.Tensor:
        """``table[b, state, action]`` of every token (of the minibatch ``idx``), ``[B, q, T]``
        (padding not masked)."""
        return self._gather(table_bsk, idx)

    def gather_states(self, x_bs: torch.Tensor) -> torch.Tensor:
        """``x[b, state]`` of every token, ``[B, Q, T]`` (padding not masked)."""
        b = self.states.shape[0]
        return x_bs.gather(1, self.states.reshape(b, -1)).reshape(self.states.shape)

    def _gather(self, table_bsk: torch.Tensor, idx) -> torch.Tensor:
        flat = self.flat if idx is None else self.flat[:, idx]
        b = flat.shape[0]
        return table_bsk.reshape(b, -1).gather(1, flat.reshape(b, -1)).reshape(flat.shape)

    def masked(self, x: torch.Tensor, idx=None) -> torch.Tensor:
        """``x`` ``[B, q, T]`` with 0 on the padding of the tokens (of the minibatch ``idx``)."""
        real = self.real if idx is None else self.real[:, idx]
        return torch.where(real, x, torch.zeros((), dtype=x.dtype))

    def sampler_logprobs(self, logits_bsk, generator=None) -> torch.Tensor:
        """Old log-probs ``[B, Q, T]`` (0 on padding), no gradient."""
        with torch.no_grad():
            if self.per_state:
                out = self._gather(self.table(logits_bsk), None)
            else:
                out = self.pipeline.sampler_logprobs(self.token_logits(logits_bsk), self.actions,
                                                     generator=generator)
        return self.masked(out, None)

    def trainer_logprobs(self, logits_bsk, idx, generator=None) -> torch.Tensor:
        """New log-probs of the minibatch ``idx``, ``[B, q, T]``, differentiable w.r.t. logits."""
        if not self.per_state:
            return self.token_trainer_logprobs(self.token_logits(logits_bsk, idx), idx,
                                               generator=generator)
        return self.masked(self._gather(self.table(logits_bsk), idx), idx)

    def token_trainer_logprobs(self, token_logits_bqtk, idx, generator=None) -> torch.Tensor:
        """New log-probs ``[B, q, T]`` of the minibatch ``idx`` from its tokens' logits
        ``[B, q, T, K]`` (``token_logits`` of the minibatch, or a policy's rows of those states),
        through the pipeline's trainer path; differentiable w.r.t. them."""
        out = self.pipeline.trainer_logprobs(token_logits_bqtk, self.actions[:, idx],
                                             generator=generator)
        return self.masked(out, idx)

    def centred_logprobs(self, logits_bsk, state_entropy_bs, logp_bsk=None) -> torch.Tensor:
        """L = log π(a|s) + H(s) of each token in exact float64 (REPO's β·L), ``[B, Q, T]``;
        ``logp_bsk``: log π = log_softmax(logits) where the caller has it."""
        with torch.no_grad():
            if self.per_state:
                if logp_bsk is None:
                    logp_bsk = torch.log_softmax(logits_bsk, -1)
                table = logp_bsk + state_entropy_bs.unsqueeze(-1)
                out = self._gather(table, None)
            else:
                h_bqt = state_entropy_bs.gather(1, self.states.reshape(self.states.shape[0], -1))
                logp = taken_logprobs(self.token_logits(logits_bsk), self.actions)
                out = logp + h_bqt.reshape(self.states.shape)
        return self.masked(out, None)
