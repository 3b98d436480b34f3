"""Token tree: the LLM-like world. V tokens, sequences of exactly T tokens, reward on complete ones.

States are all prefixes of length t < T, indexed level by level (BFS order): the prefix
(x_1, ..., x_t) has id offset_t + Σ_i x_i V^(t−i) with offset_t = (V^t − 1)/(V − 1), so S =
(V^T − 1)/(V − 1) and the children of level-t prefix j are the level-(t+1) prefixes j·V + a.
Leaves (complete sequences) are indexed the same way in [0, V^T), first token most significant.

Every exact quantity is a dynamic programme over prefix levels, vectorised over seeds and over
all prefixes of a level (no loop over sequences; one Python step per level):

    forward   reach_0 = 1,   reach_{t+1}[j·V + a] = reach_t[j] π(a | j)       visits = reach
    backward  Q_{T−1}(j, a) = R(leaf j·V + a),   V_t(j) = Σ_a π(a|j) Q_t(j, a),
              Q_{t−1}(i, a) = V_t(i·V + a)
    gradient  ∂J/∂z(j, a) = reach(j) π(a|j) (Q(j, a) − V(j))    (policy-gradient theorem)

A sequence is *correct* when its reward is >= ``success_threshold`` (binary rewards: reward 1).
Each prefix is visited at most once, so visits = reach probabilities and Σ_s visits_s = T.

Entropy ceiling. Any distribution over the V^T sequences is an autoregressive policy, so among
policies with success p = P(correct) the sequence entropy is at most the bandit ceiling over V^T
answers with m correct (entropy_lab/problems/prompts.py), and with fixed length T the token
entropy is the sequence entropy over T:

    H_max(p) = [h(p) + p log m + (1 − p) log(V^T − m)] / T,   h(p) = −p log p − (1−p) log(1−p),

reached by the policy uniform within the correct and within the wrong sequences (defined for
1 <= m <= V^T − 1; :class:`~entropy_lab.problems.prompt_tree.PromptTree` with one prompt).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from entropy_lab import passk
from entropy_lab.problems import tree_dp
from entropy_lab.problems.base import (
    ExactTerms,
    Rollout,
    TabularProblem,
    TokenSampler,
    check_count,
    draw_tokens,
)
from entropy_lab.problems.prompts import entropy_ceiling
from entropy_lab.validation import check_tensor, fail

MAX_LEAVES = 50_000_000  # V^T float64 leaf tensors per seed: beyond this memory, not time, binds


class TokenTree(TabularProblem):
    """Tabular autoregressive policy over V tokens and horizon T.

    Args:
        vocab_size: V >= 2.
        horizon: T >= 1.
        leaf_rewards: ``[V^T]`` reward of each complete sequence (leaf index, see module doc).
        init_logits: ``[S, V]`` initial logits (zeros when None).
        init_noise: per-seed Gaussian noise std added by ``init_logits(seeds, generator)``.
        success_threshold: a sequence with reward >= this is correct.
        name: readable id.

    Use :meth:`from_correct` (a set of correct sequences) or :meth:`from_function` (a function
    of the token tensor) to build the leaf rewards.
    """

    def __init__(
        self,
        vocab_size: int,
        horizon: int,
        leaf_rewards: torch.Tensor,
        *,
        init_logits: torch.Tensor | None = None,
        init_noise: float = 0.0,
        success_threshold: float = 1.0,
        name: str = "tree",
        task: str = "A",
        task_builder=None,
    ):
        v = check_count("vocab_size", vocab_size, lo=2)
        t = check_count("horizon", horizon)
        if v**t > MAX_LEAVES:
            raise fail("vocab_size**horizon", v**t, f"at most {MAX_LEAVES:,} sequences")
        check_tensor("leaf_rewards", leaf_rewards, ndim=1, axes=f"[V^T] = [{v**t}]")
        if leaf_rewards.shape[0] != v**t:
            raise fail("leaf_rewards", leaf_rewards, f"shape [V^T] = [{v**t}]")
        self.vocab_size = v
        self.level_sizes = [v**i for i in range(t + 1)]
        self.offsets = [(v**i - 1) // (v - 1) for i in range(t + 1)]
        self._setup(
            self.offsets[t], v, t, torch.ones(1, dtype=torch.float64), init_logits, init_noise,
            success_threshold, name, task=task, task_builder=task_builder,
        )
        self.leaf_rewards = leaf_rewards.to(torch.float64)
        self.leaf_correct = (self.leaf_rewards >= self.success_threshold).to(torch.float64)

    @classmethod
    def from_correct(
        cls, vocab_size: int, horizon: int, sequences: torch.Tensor | Sequence, **kwargs
    ) -> TokenTree:
        """Reward 1 on the given ``[M, T]`` correct sequences, 0 elsewhere."""
        v = check_count("vocab_size", vocab_size, lo=2)
        t = check_count("horizon", horizon)
        seqs = torch.as_tensor(sequences, dtype=torch.int64).reshape(-1, t)
        if seqs.numel() and bool(((seqs < 0) | (seqs >= v)).any()):
            raise fail("sequences", seqs, f"tokens in [0, {v})")
        rewards = torch.zeros(v**t, dtype=torch.float64)
        rewards[leaf_index(seqs, v)] = 1.0
        return cls(v, t, rewards, **kwargs)

    @classmethod
    def from_function(
        cls,
        vocab_size: int,
        horizon: int,
        fn: Callable[[torch.Tensor], torch.Tensor],
        **kwargs,
    ) -> TokenTree:
        """Reward ``fn(tokens_lt)`` evaluated once on all ``[V^T, T]`` sequences -> ``[V^T]``."""
        v = check_count("vocab_size", vocab_size, lo=2)
        t = check_count("horizon", horizon)
        rewards = torch.as_tensor(fn(all_sequences(v, t)), dtype=torch.float64).reshape(-1)
        return cls(v, t, rewards, **kwargs)

    # ------------------------------------------------------------------ indexing
    @property
    def num_leaves(self) -> int:
        return self.level_sizes[-1]

    def prefix_ids(self, tokens: torch.Tensor) -> torch.Tensor:
        """State id of each prefix ``tokens[..., :t]`` (``[..., t]`` with t < T) -> ``[...]``."""
        t = tokens.shape[-1]
        return self.offsets[t] + leaf_index(tokens, self.vocab_size)

    def _levels(self, x_bs: torch.Tensor) -> list[torch.Tensor]:
        """Split a ``[B, S, ...]`` tensor into per-level views ``[B, V^t, ...]``."""
        return [x_bs[:, self.offsets[i]:self.offsets[i + 1]] for i in range(self.horizon)]

    # ------------------------------------------------------------------ dynamic programmes
    def reach_by_level(self, logits: torch.Tensor) -> list[torch.Tensor]:
        """Forward pass: P(prefix) per level, ``[B, V^t]`` for t = 0..T (t = T: the leaves)."""
        return self._reach(torch.softmax(self.check_logits(logits), dim=-1))

    def _reach(self, p_bsk: torch.Tensor) -> list[torch.Tensor]:
        b = p_bsk.shape[0]
        reach = [torch.ones(b, 1, dtype=p_bsk.dtype, device=p_bsk.device)]
        for p_bjk in self._levels(p_bsk):
            reach.append((reach[-1][:, :, None] * p_bjk).reshape(b, -1))
        return reach

    def leaf_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """``[B, V^T]`` probability of each complete sequence."""
        return self.reach_by_level(logits)[-1]

    def values_by_level(
        self, logits: torch.Tensor, leaf_values: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """Backward pass: Q_t per level ``[B, V^t, V]`` for t = 0..T−1.

        Args:
            leaf_values: ``[V^T]`` values at the leaves (default: the rewards).
        """
        p_bsk = torch.softmax(self.check_logits(logits), dim=-1)
        return self._q_levels(p_bsk, self.leaf_rewards if leaf_values is None else leaf_values)

    def _q_levels(self, p_bsk: torch.Tensor, leaf_l: torch.Tensor) -> list[torch.Tensor]:
        """Q per level from leaf values ``[V^T]`` (every row) or ``[B, V^T]`` (one per row)."""
        return tree_dp.action_value_levels(p_bsk, leaf_l, self.offsets)

    # ------------------------------------------------------------------ interface
    def visits(self, logits: torch.Tensor) -> torch.Tensor:
        """visits = P(prefix is generated), ``[B, S]``; each level sums to 1."""
        return torch.cat(self.reach_by_level(logits)[:-1], dim=1)

    def expected_reward(self, logits: torch.Tensor) -> torch.Tensor:
        """J = Σ_x P(x) R(x) over the V^T sequences (forward DP). ``[B]``, differentiable."""
        probs_bl = self.leaf_probs(logits)
        return (probs_bl * self.leaf_rewards.to(probs_bl.dtype)).sum(-1)

    def action_values(self, logits: torch.Tensor) -> torch.Tensor:
        """Q(prefix, a) = E[R | prefix, a] by the backward DP. ``[B, S, V]``."""
        return torch.cat(self.values_by_level(logits), dim=1)

    def grad_J(self, logits: torch.Tensor) -> torch.Tensor:
        """∂J/∂z(s, a) = reach(s) π(a|s) (Q(s, a) − V(s)). ``[B, S, V]``."""
        return self.evaluate(logits, ks=())["grad_J"]

    def success_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """P(sampled sequence is correct). ``[B, 1]``."""
        probs_bl = self.leaf_probs(logits)
        return (probs_bl * self.leaf_correct.to(probs_bl.dtype)).sum(-1)[:, None]

    def evaluate(self, logits: torch.Tensor, ks: Sequence[int] = (1,)) -> dict[str, torch.Tensor]:
        """Every exact quantity from one forward and one backward pass (no autograd).

        Returns:
            ``entropy``, ``sequence_entropy``, ``J`` ``[B]``; ``grad_J`` ``[B, S, V]``;
            ``pass@k`` ``[B]`` for each k in ``ks``.
        """
        return self.evaluate_rows(logits, self.leaf_rewards, self.leaf_correct, ks)

    def evaluate_rows(
        self,
        logits: torch.Tensor,
        leaf_rewards: torch.Tensor,
        leaf_correct: torch.Tensor,
        ks: Sequence[int] = (1,),
    ) -> dict[str, torch.Tensor]:
        """:meth:`evaluate` with given leaf rewards and 0/1 correctness, ``[V^T]`` for every row
        or ``[B, V^T]`` per row (a multi-prompt tree evaluates each prompt as one row)."""
        ks = [check_count("k", k) for k in ks]
        pol = tree_dp.tree_policy(self.check_logits(logits, finite=False), self.offsets)
        seq_h = (pol.reach * pol.h).sum(-1)
        if not bool(torch.isfinite(seq_h).all()):  # a non-finite logit makes its row's H NaN
            self.check_logits(logits)
        grad, j_b = tree_dp.expectation_grad(pol, leaf_rewards)
        p_correct = tree_dp.expectation(pol, leaf_correct)
        out = {
            "entropy": seq_h / pol.reach.sum(-1),
            "sequence_entropy": seq_h,
            "J": j_b,
            "grad_J": grad,
        }
        for k in ks:
            out[f"pass@{k}"] = passk.exact_pass_at_k(p_correct[:, None], k)
        return out

    def exact_terms(self, logits: torch.Tensor,
                    workspace: list[torch.Tensor] | None = None) -> ExactTerms:
        """The snapshot's quantities in closed form (:func:`tree_dp.exact_terms`): one
        softmax and forward pass, the entropy gradient by the soft-value backward DP, p's
        gradient by the backward DP of the 0/1 correctness."""
        return tree_dp.exact_terms(self.check_logits(logits), self.offsets, self.prompt_probs,
                                   self.leaf_rewards, self.leaf_correct, workspace)

    # ------------------------------------------------------------------ entropy ceiling
    @property
    def num_correct(self) -> torch.Tensor:
        """``[1]`` m: correct sequences (reward >= ``success_threshold``), the one prompt's."""
        return self.leaf_correct.sum().reshape(1)

    @property
    def has_entropy_ceiling(self) -> bool:
        """Whether :meth:`entropy_ceiling` is defined: 1 <= m <= V^T − 1."""
        m = int(self.num_correct)
        return 1 <= m <= self.num_leaves - 1

    def entropy_ceiling(self, success: float | torch.Tensor) -> torch.Tensor:
        """H_max(p): the most token entropy of any policy whose sequence is correct with
        probability p (module docstring). ``[...]`` float64 for ``success`` ``[...]`` in [0, 1]."""
        return entropy_ceiling(success, self.num_correct, self.num_leaves,
                               self.prompt_probs) / self.horizon

    def sample(
        self,
        logits: torch.Tensor,
        n_prompts: int,
        group_size: int,
        generator: torch.Generator | None,
        sampler: TokenSampler | None = None,
    ) -> Rollout:
        """Sample N·G sequences per seed, level by level (one vectorised draw per position;
        tokens from π, or from ``sampler``'s distribution: :meth:`TabularProblem.sample`)."""
        p_bsk, n, g = self._sampling_policy(logits, n_prompts, group_size, sampler)
        b, t_max = p_bsk.shape[0], self.horizon
        base_bx = torch.zeros(b, n * g, dtype=torch.int64)
        states, actions, logps = self.sample_paths(p_bsk, base_bx, generator, sampler)
        shape = (b, n, g, t_max)
        return Rollout(
            prompts=torch.zeros(b, n, dtype=torch.int64),
            states=states.reshape(shape),
            actions=actions.reshape(shape),
            mask=torch.ones(shape, dtype=torch.float64),
            sampler_logp=None if logps is None else logps.reshape(shape),
        )

    def sample_paths(
        self, p_bsk: torch.Tensor, base_bx: torch.Tensor, generator: torch.Generator | None,
        sampler: TokenSampler | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Sample one sequence per entry of ``base_bx`` ``[B, X]``, level by level.

        ``base_bx`` is the state id of each sequence's tree root in ``p_bsk`` ``[B, S', V]`` (0
        for this tree; a multi-prompt tree stacks C trees and passes c·S); ``p_bsk`` holds π, or
        the logits when a ``sampler`` draws (:func:`~entropy_lab.problems.base.draw_tokens`).
        Returns states and tokens ``[B, X, T]`` (one vectorised draw per position) and the
        sampler's log-probs ``[B, X, T]`` (None without a sampler).
        """
        v = self.vocab_size
        code_bx = torch.zeros_like(base_bx)
        states, actions, logps = [], [], []
        for t in range(self.horizon):
            state_bx = base_bx + self.offsets[t] + code_bx
            rows = p_bsk.gather(1, state_bx[..., None].expand(-1, -1, v))
            token_bx, logp_bx = draw_tokens(rows, generator, sampler)
            states.append(state_bx)
            actions.append(token_bx)
            logps.append(logp_bx)
            code_bx = code_bx * v + token_bx
        logp = None if sampler is None else torch.stack(logps, -1)
        return torch.stack(states, -1), torch.stack(actions, -1), logp

    def sequence_ids(self, rollout: Rollout) -> torch.Tensor:
        """``[B, N, G]`` leaf index of each sampled sequence."""
        last_state = rollout.states[..., -1] - self.offsets[self.horizon - 1]
        return last_state * self.vocab_size + rollout.actions[..., -1]

    def reward(self, rollout: Rollout, generator: torch.Generator | None = None) -> torch.Tensor:
        """R(sequence), deterministic. ``[B, N, G]`` float64."""
        return self.leaf_rewards[self.sequence_ids(rollout)]


def leaf_index(tokens: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Base-V index Σ_i x_i V^(t−1−i) of ``tokens`` ``[..., t]`` (first token most significant)."""
    t = tokens.shape[-1]
    weights = vocab_size ** torch.arange(t - 1, -1, -1, dtype=torch.int64)
    return (tokens.to(torch.int64) * weights).sum(-1)


def all_sequences(vocab_size: int, horizon: int) -> torch.Tensor:
    """``[V^T, T]`` int64: every sequence, row l being the sequence with leaf index l."""
    idx = torch.arange(vocab_size**horizon, dtype=torch.int64)[:, None]
    weights = vocab_size ** torch.arange(horizon - 1, -1, -1, dtype=torch.int64)
    return (idx // weights) % vocab_size
