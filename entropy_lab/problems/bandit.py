"""Bandits: one step per episode. A contextual bandit has C contexts (= states = prompts).

Context c is drawn with probability w_c, then arm a ~ π(·|c) and the reward has mean μ(c, a)
(Bernoulli(μ) draws or the deterministic value μ). With Q(c, a) = μ(c, a), V_c = Σ_a π(a|c) μ(c, a):

    J            = Σ_c w_c V_c
    ∂J/∂z(c, a)  = w_c π(a|c) (μ(c, a) − V_c)
    p_c          = Σ_a π(a|c) P(reward(c, a) >= threshold)       (correct = reward 1 by default)
    visits_c     = w_c
"""

from __future__ import annotations

import torch

from entropy_lab.problems.base import (
    Rollout,
    TabularProblem,
    TokenSampler,
    draw_tokens,
)
from entropy_lab.validation import check_tensor, fail


class ContextualBandit(TabularProblem):
    """C contexts × K arms with per-context arm means.

    Args:
        means: ``[C, K]`` reward mean of each (context, arm); in [0, 1] when ``bernoulli``.
        prompt_probs: ``[C]`` context distribution (uniform when None).
        bernoulli: rewards are Bernoulli(μ) draws (else deterministic, equal to μ).
        init_logits: ``[C, K]`` initial logits (zeros when None).
        init_noise: per-seed Gaussian noise std added by ``init_logits(seeds, generator)``.
        success_threshold: a reward >= this is *correct* (default 1: "correct = reward 1").
        name: readable id.
    """

    def __init__(
        self,
        means: torch.Tensor,
        prompt_probs: torch.Tensor | None = None,
        *,
        bernoulli: bool = False,
        init_logits: torch.Tensor | None = None,
        init_noise: float = 0.0,
        success_threshold: float = 1.0,
        name: str = "cbandit",
        task: str = "A",
        task_builder=None,
    ):
        check_tensor("means", means, ndim=2, axes="[C, K]")
        means = means.to(torch.float64)
        num_contexts, num_arms = means.shape
        if num_arms < 2:
            raise fail("means", means, "[C, K] with K >= 2 arms")
        if bernoulli and bool(((means < 0) | (means > 1)).any()):
            raise fail("means", means, "Bernoulli means in [0, 1]")
        if prompt_probs is None:
            prompt_probs = torch.full((num_contexts,), 1.0 / num_contexts, dtype=torch.float64)
        self._setup(
            num_contexts, num_arms, 1, prompt_probs, init_logits, init_noise,
            success_threshold, name, task=task, task_builder=task_builder,
        )
        if self.num_prompts != num_contexts:
            raise fail("prompt_probs", prompt_probs, f"shape [C] = [{num_contexts}] (as means)")
        self.means = means
        self.bernoulli = bool(bernoulli)
        self.success_ck = self._success_per_arm()

    def _success_per_arm(self) -> torch.Tensor:
        """``[C, K]`` P(reward >= threshold | c, a)."""
        thr = self.success_threshold
        if not self.bernoulli:
            return (self.means >= thr).to(torch.float64)
        # reward ∈ {0, 1}: it reaches thr when it is 1 (thr in (0, 1]), always (thr <= 0), never.
        if thr <= 0:
            return torch.ones_like(self.means)
        return self.means.clone() if thr <= 1 else torch.zeros_like(self.means)

    @property
    def correct_arms(self) -> torch.Tensor:
        """``[C, K]`` bool: arms whose reward is correct with probability 1."""
        return self.success_ck >= 1.0

    def visits(self, logits: torch.Tensor) -> torch.Tensor:
        """visits_c = w_c. ``[B, C]``."""
        logits = self.check_logits(logits)
        return self.prompt_probs.to(logits.dtype).expand(logits.shape[0], -1)

    def _context_values(self, logits: torch.Tensor, table_ck: torch.Tensor) -> torch.Tensor:
        """Σ_a π(a|c) table(c, a), ``[B, C]``; without a gradient to keep, π ⊙ table is formed
        in π's own buffer (the same numbers, one ``[B, C, K]`` buffer fewer)."""
        p_bck = torch.softmax(self.check_logits(logits), dim=-1)
        table = table_ck.to(p_bck.dtype)
        if p_bck.requires_grad:
            return (p_bck * table).sum(-1)
        return p_bck.mul_(table).sum(-1)

    def expected_reward(self, logits: torch.Tensor) -> torch.Tensor:
        """J = Σ_c w_c Σ_a π(a|c) μ(c, a). ``[B]``, differentiable."""
        v_bc = self._context_values(logits, self.means)
        return (v_bc * self.prompt_probs.to(v_bc.dtype)).sum(-1)

    def reward_and_success(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(J ``[B]``, p_c ``[B, C]``) from one softmax (the numbers of :meth:`expected_reward`
        and :meth:`success_prob`: the same products and sums); without a gradient to keep,
        π ⊙ P(correct) is formed in π's own buffer."""
        p_bck = torch.softmax(self.check_logits(logits), dim=-1)
        if p_bck.requires_grad:
            return super().reward_and_success(logits)
        v_bc = (p_bck * self.means.to(p_bck.dtype)).sum(-1)
        j_b = (v_bc * self.prompt_probs.to(v_bc.dtype)).sum(-1)
        return j_b, p_bck.mul_(self.success_ck.to(p_bck.dtype)).sum(-1)

    def action_values(self, logits: torch.Tensor) -> torch.Tensor:
        """Q(c, a) = μ(c, a), the same for every seed. ``[B, C, K]``."""
        logits = self.check_logits(logits)
        return self.means.to(logits.dtype).expand(logits.shape[0], -1, -1)

    def grad_J(self, logits: torch.Tensor) -> torch.Tensor:
        """∂J/∂z(c, a) = w_c π(a|c) (μ(c, a) − V_c). ``[B, C, K]``."""
        p_bck = torch.softmax(self.check_logits(logits), dim=-1)
        mu_ck = self.means.to(p_bck.dtype)
        v_bc1 = (p_bck * mu_ck).sum(-1, keepdim=True)
        w_c1 = self.prompt_probs.to(p_bck.dtype)[:, None]
        return w_c1 * p_bck * (mu_ck - v_bc1)

    def success_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """p_c = Σ_a π(a|c) P(reward(c, a) >= threshold). ``[B, C]``."""
        return self._context_values(logits, self.success_ck)

    def sample(
        self,
        logits: torch.Tensor,
        n_prompts: int,
        group_size: int,
        generator: torch.Generator | None,
        sampler: TokenSampler | None = None,
    ) -> Rollout:
        """Contexts i.i.d. from ``prompt_probs``, then G arms per context; T = 1 (tokens from π,
        or from ``sampler``'s distribution: :meth:`TabularProblem.sample`). π is taken only on
        the N drawn contexts' rows (softmax is row-wise: the same numbers as the rows of the full
        ``[B, C, K]`` softmax)."""
        z_bsk, n, g = self._sampling_args(logits, n_prompts, group_size)
        b = z_bsk.shape[0]
        prompts_bn = self.sample_prompts(b, n, generator)
        rows_bnk = z_bsk.gather(1, prompts_bn[..., None].expand(-1, -1, self.num_actions))
        if sampler is None:  # a sampler draws from the logits rows themselves (draw_tokens)
            rows_bnk = torch.softmax(rows_bnk, dim=-1)
        actions_bng, logp_bng = draw_tokens(rows_bnk, generator, sampler, draws=g)
        states = prompts_bn[:, :, None, None].expand(-1, -1, g, 1).contiguous()
        mask = torch.ones(b, n, g, 1, dtype=torch.float64)
        logp = None if logp_bng is None else logp_bng[..., None]
        return Rollout(prompts_bn, states, actions_bng[..., None], mask, sampler_logp=logp)

    def reward(self, rollout: Rollout, generator: torch.Generator | None = None) -> torch.Tensor:
        """Bernoulli(μ) draws (or μ itself when deterministic). ``[B, N, G]`` float64."""
        mu_bng = self.means[rollout.states[..., 0], rollout.actions[..., 0]]
        if not self.bernoulli:
            return mu_bng.clone()
        u = torch.rand(mu_bng.shape, generator=generator, dtype=torch.float64)
        return (u < mu_bng).to(torch.float64)


class Bandit(ContextualBandit):
    """K arms, one state (S = C = 1); ``means`` ``[K]`` (several correct arms allowed).

    Args:
        means: ``[K]`` arm means (Bernoulli probabilities when ``bernoulli``).
        init_logits: ``[K]`` or ``[1, K]`` initial logits.
        Other arguments as :class:`ContextualBandit`.
    """

    def __init__(
        self,
        means: torch.Tensor,
        *,
        bernoulli: bool = False,
        init_logits: torch.Tensor | None = None,
        init_noise: float = 0.0,
        success_threshold: float = 1.0,
        name: str = "bandit",
        task: str = "A",
        task_builder=None,
    ):
        check_tensor("means", means, ndim=1, axes="[K]")
        if init_logits is not None:
            check_tensor("init_logits", init_logits, min_ndim=1, axes="[K] or [1, K]")
            init_logits = init_logits.reshape(1, -1)
        super().__init__(
            means.reshape(1, -1), None, bernoulli=bernoulli, init_logits=init_logits,
            init_noise=init_noise, success_threshold=success_threshold, name=name, task=task,
            task_builder=task_builder,
        )
