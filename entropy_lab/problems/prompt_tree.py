"""Multi-prompt token trees: C prompts, each a vocab-V depth-T token tree with its own rewards.

States are (prompt, prefix) pairs, prompt-major: state c·S_T + j is prefix j (the
:class:`~entropy_lab.problems.tree.TokenTree` BFS index, S_T = (V^T − 1)/(V − 1)) of prompt c's
tree, so S = C·S_T and logits are ``[B, C·S_T, V]``. Every exact quantity is the token tree's
dynamic programme run on each prompt's tree as one row (logits viewed as ``[B·C, S_T, V]``, leaf
rewards ``[C, V^T]`` repeated over seeds), then weighted by the prompt distribution w:

    visits(c, j)  = w_c reach_c(j)            (each prompt's levels sum to w_c; Σ_s visits = T)
    J             = Σ_c w_c J_c,    ∂J/∂z(c, j, a) = w_c reach_c(j) π(a|c, j) (Q_c(j, a) − V_c(j))
    p_c           = Σ_{x correct for c} P_c(x)                      success_prob   [B, C]
    pass@k        = Σ_c w_c (1 − (1 − p_c)^k)                       (the base class, any k)
    entropy       = Σ_c w_c H_seq,c / T                             (token average)

A batch holds N distinct prompts (drawn without replacement, N <= C, as
:class:`~entropy_lab.problems.prompts.PromptBandit`), then G sequences per prompt sampled level
by level from that prompt's tree. With one prompt no prompt is drawn, so a one-prompt
:class:`PromptTree` samples exactly as the :class:`TokenTree` with the same rewards and logits.

Entropy ceiling. Any distribution over the V^T sequences of a prompt is an autoregressive policy,
so among policies with success p_c the sequence entropy is at most the bandit ceiling over V^T
answers with m_c correct (entropy_lab/problems/prompts.py), and with fixed length T the token
entropy is the sequence entropy over T:

    H_max(J) = max Σ_c w_c H_c^max(p_c) / T  subject to Σ_c w_c p_c = J   (prompts.entropy_ceiling)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from entropy_lab.problems import tree_dp
from entropy_lab.problems.base import ExactTerms, Rollout, TabularProblem, TokenSampler, check_count
from entropy_lab.problems.prompts import entropy_ceiling, sample_distinct_prompts
from entropy_lab.problems.tree import TokenTree
from entropy_lab.validation import check_tensor, fail


class PromptTree(TabularProblem):
    """C prompts × a vocab-V depth-T token tree per prompt; N distinct prompts per batch.

    Args:
        vocab_size: V >= 2.
        horizon: T >= 1.
        leaf_rewards: ``[C, V^T]`` reward of each complete sequence of each prompt (leaf index as
            in :mod:`entropy_lab.problems.tree`).
        prompt_probs: ``[C]`` prompt distribution (uniform when None).
        init_logits: ``[C·S_T, V]`` initial logits, prompt-major (zeros when None).
        init_noise, success_threshold, name, task, task_builder: as :class:`TokenTree`.
    """

    def __init__(
        self,
        vocab_size: int,
        horizon: int,
        leaf_rewards: torch.Tensor,
        prompt_probs: torch.Tensor | None = None,
        *,
        init_logits: torch.Tensor | None = None,
        init_noise: float = 0.0,
        success_threshold: float = 1.0,
        name: str = "prompt-tree",
        task: str = "A",
        task_builder: Callable[[str], TabularProblem] | None = None,
    ):
        v = check_count("vocab_size", vocab_size, lo=2)
        t = check_count("horizon", horizon)
        check_tensor("leaf_rewards", leaf_rewards, ndim=2, axes=f"[C, V^T] = [C, {v**t}]")
        if leaf_rewards.shape[1] != v**t or leaf_rewards.shape[0] < 1:
            raise fail("leaf_rewards", leaf_rewards, f"shape [C, V^T] = [C, {v**t}] with C >= 1")
        c = int(leaf_rewards.shape[0])
        self.tree = TokenTree(v, t, torch.zeros(v**t, dtype=torch.float64),
                              success_threshold=success_threshold)
        """The shared structure (indexing and dynamic programmes); its own rewards are unused."""
        self.vocab_size = v
        self.tree_states = self.tree.num_states
        if prompt_probs is None:
            prompt_probs = torch.full((c,), 1.0 / c, dtype=torch.float64)
        self._setup(c * self.tree_states, v, t, prompt_probs, init_logits, init_noise,
                    success_threshold, name, task=task, task_builder=task_builder)
        if self.num_prompts != c:
            raise fail("prompt_probs", prompt_probs, f"shape [C] = [{c}] (as leaf_rewards)")
        self.leaf_rewards = leaf_rewards.to(torch.float64)
        self.leaf_correct = (self.leaf_rewards >= self.success_threshold).to(torch.float64)

    # ------------------------------------------------------------------ rows
    def _rows(self, logits: torch.Tensor, finite: bool = True) -> torch.Tensor:
        """``[B, C·S_T, V]`` -> ``[B·C, S_T, V]``: each prompt's tree as one row."""
        z = self.check_logits(logits, finite=finite)
        return z.reshape(z.shape[0] * self.num_prompts, self.tree_states, self.vocab_size)

    def _per_row(self, table_cl: torch.Tensor, seeds: int) -> torch.Tensor:
        """``[C, V^T]`` -> ``[B·C, V^T]`` (row b·C + c holds prompt c)."""
        return table_cl.repeat(seeds, 1)

    def _weights(self, dtype: torch.dtype) -> torch.Tensor:
        return self.prompt_probs.to(dtype)

    # ------------------------------------------------------------------ interface
    def visits(self, logits: torch.Tensor) -> torch.Tensor:
        """visits(c, j) = w_c P_c(prefix j). ``[B, C·S_T]``."""
        b = logits.shape[0]
        v_xs = torch.cat(self.tree.reach_by_level(self._rows(logits))[:-1], dim=1)
        v_bcs = v_xs.reshape(b, self.num_prompts, -1) * self._weights(v_xs.dtype)[:, None]
        return v_bcs.reshape(b, -1)

    def leaf_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """``[B, C, V^T]`` probability of each complete sequence of each prompt."""
        b = logits.shape[0]
        return self.tree.leaf_probs(self._rows(logits)).reshape(b, self.num_prompts, -1)

    def expected_reward(self, logits: torch.Tensor) -> torch.Tensor:
        """J = Σ_c w_c Σ_x P_c(x) R_c(x). ``[B]``, differentiable."""
        probs = self.leaf_probs(logits)
        j_bc = (probs * self.leaf_rewards.to(probs.dtype)).sum(-1)
        return (j_bc * self._weights(j_bc.dtype)).sum(-1)

    def success_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """p_c = P(a sequence sampled for prompt c is correct). ``[B, C]``, differentiable."""
        probs = self.leaf_probs(logits)
        return (probs * self.leaf_correct.to(probs.dtype)).sum(-1)

    def action_values(self, logits: torch.Tensor) -> torch.Tensor:
        """Q_c(prefix, a) by each prompt's backward DP. ``[B, C·S_T, V]``."""
        b = logits.shape[0]
        p_xsk = torch.softmax(self._rows(logits), dim=-1)
        q = torch.cat(self.tree._q_levels(p_xsk, self._per_row(self.leaf_rewards, b)), dim=1)
        return q.reshape(b, self.num_states, self.vocab_size)

    def grad_J(self, logits: torch.Tensor) -> torch.Tensor:
        """∂J/∂z(c, j, a) = w_c reach_c(j) π(a|c, j) (Q_c(j, a) − V_c(j)). ``[B, C·S_T, V]``."""
        return self.evaluate(logits, ks=())["grad_J"]

    def evaluate(self, logits: torch.Tensor, ks: Sequence[int] = (1,)) -> dict[str, torch.Tensor]:
        """The tree's one-pass evaluation per prompt, weighted by w.

        Returns:
            ``entropy``, ``sequence_entropy``, ``J`` ``[B]``; ``grad_J`` ``[B, C·S_T, V]``;
            ``pass@k`` ``[B]`` for each k in ``ks``; ``success`` ``[B, C]`` (p_c).
        """
        b, c = logits.shape[0], self.num_prompts
        rows = self.tree.evaluate_rows(self._rows(logits, finite=False),
                                       self._per_row(self.leaf_rewards, b),
                                       self._per_row(self.leaf_correct, b), ks=(1, *ks))
        w_1c = self._weights(rows["J"].dtype)[None, :]
        seq_h = (rows["sequence_entropy"].reshape(b, c) * w_1c).sum(-1)
        out = {
            "entropy": seq_h / self.horizon,
            "sequence_entropy": seq_h,
            "J": (rows["J"].reshape(b, c) * w_1c).sum(-1),
            "grad_J": (rows["grad_J"].reshape(b, c, -1, self.vocab_size)
                       * w_1c[..., None, None]).reshape(logits.shape),
            "success": rows["pass@1"].reshape(b, c),
        }
        for k in ks:
            out[f"pass@{k}"] = (rows[f"pass@{k}"].reshape(b, c) * w_1c).sum(-1)
        return out

    def exact_terms(self, logits: torch.Tensor,
                    workspace: list[torch.Tensor] | None = None) -> ExactTerms:
        """The snapshot's quantities in closed form, each prompt's tree as one row
        (:func:`~entropy_lab.problems.tree_dp.exact_terms`)."""
        b = logits.shape[0]
        return tree_dp.exact_terms(self._rows(logits), self.tree.offsets, self.prompt_probs,
                                   self._per_row(self.leaf_rewards, b),
                                   self._per_row(self.leaf_correct, b), workspace)

    # ------------------------------------------------------------------ entropy ceiling
    @property
    def num_correct(self) -> torch.Tensor:
        """``[C]`` m_c: correct sequences of each prompt."""
        return self.leaf_correct.sum(-1)

    @property
    def has_entropy_ceiling(self) -> bool:
        """Whether :meth:`entropy_ceiling` is defined: 1 <= m_c <= V^T − 1 on every prompt."""
        m = self.num_correct
        return bool(((m >= 1) & (m <= self.tree.num_leaves - 1)).all())

    def entropy_ceiling(self, success: float | torch.Tensor) -> torch.Tensor:
        """H_max(J): the most token entropy of any policy with prompt-averaged success J
        (module docstring). ``[...]`` for ``success`` ``[...]``."""
        return entropy_ceiling(success, self.num_correct, self.tree.num_leaves,
                               self.prompt_probs) / self.horizon

    # ------------------------------------------------------------------ sampling
    def sample_prompts(
        self, seeds: int, n_prompts: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        """``[B, N]`` distinct prompts per seed (N <= C); no draw when C = 1."""
        if self.num_prompts == 1 and n_prompts == 1:
            return torch.zeros(seeds, 1, dtype=torch.int64)
        return sample_distinct_prompts(self.prompt_probs, seeds, n_prompts, generator)

    def sample(
        self,
        logits: torch.Tensor,
        n_prompts: int,
        group_size: int,
        generator: torch.Generator | None,
        sampler: TokenSampler | None = None,
    ) -> Rollout:
        """N distinct prompts, then G sequences per prompt from its tree, level by level
        (tokens from π, or from ``sampler``'s distribution: :meth:`TabularProblem.sample`)."""
        p_bsk, n, g = self._sampling_policy(logits, n_prompts, group_size, sampler)
        b = p_bsk.shape[0]
        prompts_bn = self.sample_prompts(b, n, generator)
        base_bx = (prompts_bn * self.tree_states)[:, :, None].expand(-1, -1, g).reshape(b, -1)
        states, actions, logps = self.tree.sample_paths(p_bsk, base_bx, generator, sampler)
        shape = (b, n, g, self.horizon)
        return Rollout(prompts=prompts_bn, states=states.reshape(shape),
                       actions=actions.reshape(shape), mask=torch.ones(shape, dtype=torch.float64),
                       sampler_logp=None if logps is None else logps.reshape(shape))

    def sequence_ids(self, rollout: Rollout) -> torch.Tensor:
        """``[B, N, G]`` leaf index of each sampled sequence within its prompt's tree."""
        local = rollout.states[..., -1] % self.tree_states
        return self.tree.sequence_ids(Rollout(rollout.prompts, local[..., None],
                                              rollout.actions[..., -1:], rollout.mask[..., -1:]))

    def reward(self, rollout: Rollout, generator: torch.Generator | None = None) -> torch.Tensor:
        """R_c(sequence), deterministic. ``[B, N, G]`` float64."""
        c_bng = rollout.prompts[:, :, None].expand(-1, -1, rollout.states.shape[2])
        return self.leaf_rewards[c_bng, self.sequence_ids(rollout)]
