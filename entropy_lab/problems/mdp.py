"""Finite-horizon tabular MDP with a stationary softmax policy.

S states, K actions, transitions P(s'|s, a) ``[S, K, S]``, rewards r(s, a) ``[S, K]`` or
r(s, a, s') ``[S, K, S]``, horizon H (at most H actions per episode), discount γ ∈ (0, 1]
(γ = 1: plain episode return) and initial distribution μ ``[S]``. *Terminal* states end the
episode on entry (no action is taken there, like an end-of-sequence token); *goal* states are
terminal states that make the episode *correct* for pass@k. With d_t(s) = P(s_t = s, alive),
the exact quantities are finite-horizon dynamic programmes (one step per time step, vectorised
over seeds and states):

    forward    d_0 = μ,   d_{t+1}(s') = Σ_{s alive, a} d_t(s) π(a|s) P(s'|s, a)
    backward   V_H = 0,   Q_t(s, a) = r̄(s, a) + γ Σ_{s'} P(s'|s, a) V_{t+1}(s'),
               V_t(s) = Σ_a π(a|s) Q_t(s, a)   (0 at terminal states)
    J          = Σ_s μ(s) V_0(s)
    visits(s)  = Σ_{t<H} d_t(s)  (undiscounted: the actions actually taken; sums to E[length])
    occupancy  ρ(s) = Σ_{t<H} γ^t d_t(s)
    action values  Q̄(s, a) = Σ_t γ^t d_t(s) Q_t(s, a) / ρ(s)  (Q_0 where ρ(s) = 0)
    gradient   ∂J/∂z(s, a) = Σ_t γ^t d_t(s) π(a|s) (Q_t(s, a) − V_t(s)) = ρ(s) π(a|s) (Q̄ − Σ_b π Q̄)

With a stationary policy and a finite horizon Q depends on t; ``action_values`` returns the
occupancy-weighted Q̄, the one time-free table for which the gradient formula above is exact.
An infinite discounted problem is approximated by a horizon H with γ^H negligible.

Prompts are the initial states with μ(s) > 0 (C of them, ``prompt_states``), weighted by μ.
Correct (pass@k) = the episode enters a goal state within H steps: g_H = 1[goal], g_t(s) =
1[goal] at terminal s, Σ_a π(a|s) Σ_{s'} P(s'|s, a) g_{t+1}(s') elsewhere, p_c = g_0(prompt c).

Episode lengths vary (an episode entering a terminal state after its t-th action has t actions;
one still running after H actions has H), so ``fixed_length`` is False when any state is
terminal. ``length_moments`` gives E_c[f(len)·X] for X ∈ {1, 1[correct], R} by the forward
programme run per prompt, carrying beside d_t the return collected so far,
u_t(s) = E[Σ_{τ<t} γ^τ r_τ; s_t = s, alive]:

    u_{t+1}(s') = Σ_{s alive, a} π(a|s) P(s'|s, a) (u_t(s) + γ^t d_t(s) r(s, a, s'))

and adding f(t + 1)·(mass entering a terminal state at step t + 1), and f(H)·(all mass at H).
"""

from __future__ import annotations

import torch

from entropy_lab.problems.base import (
    Rollout,
    TabularProblem,
    TokenSampler,
    check_distribution,
    draw_tokens,
    sample_categorical,
)
from entropy_lab.validation import check_number, check_tensor, fail

ROW_TOL = 1e-9


def _check_mask(name: str, mask: torch.Tensor | None, num_states: int) -> torch.Tensor:
    if mask is None:
        return torch.zeros(num_states, dtype=torch.bool)
    mask = torch.as_tensor(mask)
    if mask.dtype != torch.bool or tuple(mask.shape) != (num_states,):
        raise fail(name, mask, f"a bool tensor of shape [S] = [{num_states}]")
    return mask


class TabularMDP(TabularProblem):
    """Finite-horizon MDP (see the module docstring for the exact recursions).

    Args:
        transitions: ``[S, K, S]`` P(s'|s, a); non-negative, rows summing to 1 (tol 1e-9).
        rewards: ``[S, K]`` r(s, a) or ``[S, K, S]`` r(s, a, s').
        horizon: H >= 1, the most actions per episode.
        initial: ``[S]`` initial distribution μ.
        discount: γ ∈ (0, 1].
        terminal: ``[S]`` bool, states that end the episode on entry (none when None).
        goal: ``[S]`` bool, states whose entry makes the episode correct; they are terminal.
        init_logits: ``[S, K]`` initial logits (zeros when None).
        init_noise: per-seed Gaussian noise std added by ``init_logits(seeds, generator)``.
        name: readable id.
    """

    def __init__(
        self,
        transitions: torch.Tensor,
        rewards: torch.Tensor,
        horizon: int,
        initial: torch.Tensor,
        *,
        discount: float = 1.0,
        terminal: torch.Tensor | None = None,
        goal: torch.Tensor | None = None,
        init_logits: torch.Tensor | None = None,
        init_noise: float = 0.0,
        name: str = "mdp",
        task: str = "A",
        task_builder=None,
    ):
        check_tensor("transitions", transitions, ndim=3, axes="[S, K, S]")
        s, k, s2 = transitions.shape
        if s != s2 or s < 1:
            raise fail("transitions", transitions, "shape [S, K, S] (same S on both state axes)")
        if k < 2:
            raise fail("transitions", transitions, "[S, K, S] with K >= 2 actions")
        p_sks = transitions.to(torch.float64)
        row_err = (p_sks.sum(-1) - 1.0).abs()
        if bool((p_sks < 0).any()) or float(row_err.max()) > ROW_TOL:
            bad = int(row_err.reshape(-1).argmax())
            raise fail(
                "transitions", transitions,
                f"non-negative rows P(.|s, a) summing to 1 within {ROW_TOL:g} (row s={bad // k},"
                f" a={bad % k} sums to {float(p_sks.sum(-1).reshape(-1)[bad]):.12g})",
            )
        check_tensor("rewards", rewards, min_ndim=2, axes="[S, K] or [S, K, S]")
        if tuple(rewards.shape) not in ((s, k), (s, k, s)):
            raise fail("rewards", rewards, f"shape [S, K] = [{s}, {k}] or [S, K, S]")
        initial = check_distribution("initial", initial, axes=f"[S] = [{s}]")
        if initial.shape[0] != s:
            raise fail("initial", initial, f"shape [S] = [{s}]")
        self.discount = check_number("discount", discount, lo=0.0, hi=1.0, lo_open=True)
        self.goal = _check_mask("goal", goal, s)
        self.terminal = _check_mask("terminal", terminal, s) | self.goal
        self.prompt_states = torch.nonzero(initial > 0).reshape(-1)
        self._setup(
            s, k, horizon, initial[self.prompt_states], init_logits, init_noise, 1.0, name,
            task=task, task_builder=task_builder,
        )
        self.transitions = p_sks
        self.initial = initial
        self.rewards = rewards.to(torch.float64)
        self.mean_rewards = (
            self.rewards if self.rewards.ndim == 2 else (p_sks * self.rewards).sum(-1)
        )

    # ------------------------------------------------------------------ dynamic programmes
    def _alive(self, dtype: torch.dtype) -> torch.Tensor:
        return (~self.terminal).to(dtype)

    def state_distributions(self, logits: torch.Tensor) -> torch.Tensor:
        """``[H, B, S]`` d_t(s) = P(s_t = s and the episode still running), t = 0..H−1."""
        p_bsk = torch.softmax(self.check_logits(logits), dim=-1)
        return self._forward(p_bsk)

    def _forward(self, p_bsk: torch.Tensor) -> torch.Tensor:
        alive_s = self._alive(p_bsk.dtype)
        p_sks = self.transitions.to(p_bsk.dtype)
        d_bs = (self.initial.to(p_bsk.dtype) * alive_s).expand(p_bsk.shape[0], -1)
        out = []
        for _ in range(self.horizon):
            out.append(d_bs)
            d_bs = torch.einsum("bs,bsa,sat->bt", d_bs, p_bsk, p_sks) * alive_s
        return torch.stack(out)

    def _backward(self, p_bsk: torch.Tensor) -> torch.Tensor:
        """``[H, B, S, K]`` Q_t(s, a) by backward induction."""
        alive_s = self._alive(p_bsk.dtype)
        p_sks = self.transitions.to(p_bsk.dtype)
        r_sk = self.mean_rewards.to(p_bsk.dtype)
        v_bs = torch.zeros(p_bsk.shape[:2], dtype=p_bsk.dtype)
        out = []
        for _ in range(self.horizon):
            q_bsk = r_sk + self.discount * torch.einsum("sat,bt->bsa", p_sks, v_bs)
            v_bs = (p_bsk * q_bsk).sum(-1) * alive_s
            out.append(q_bsk)
        return torch.stack(out[::-1])

    def state_values(self, logits: torch.Tensor) -> torch.Tensor:
        """``[B, S]`` V_0(s): expected (discounted) return of an episode started in s."""
        p_bsk = torch.softmax(self.check_logits(logits), dim=-1)
        return (p_bsk * self._backward(p_bsk)[0]).sum(-1) * self._alive(p_bsk.dtype)

    def occupancy(self, logits: torch.Tensor) -> torch.Tensor:
        """``[B, S]`` discounted occupancy ρ(s) = Σ_t γ^t d_t(s)."""
        d_hbs = self.state_distributions(logits)
        return (self._discounts(d_hbs.dtype)[:, None, None] * d_hbs).sum(0)

    def _discounts(self, dtype: torch.dtype) -> torch.Tensor:
        return self.discount ** torch.arange(self.horizon, dtype=dtype)

    # ------------------------------------------------------------------ interface
    def visits(self, logits: torch.Tensor) -> torch.Tensor:
        """visits(s) = Σ_{t<H} d_t(s) (actions taken in s per episode). ``[B, S]``."""
        return self.state_distributions(logits).sum(0)

    def expected_reward(self, logits: torch.Tensor) -> torch.Tensor:
        """J = Σ_s μ(s) V_0(s). ``[B]``, differentiable."""
        return self.state_values(logits) @ self.initial.to(logits.dtype)

    def action_values(self, logits: torch.Tensor) -> torch.Tensor:
        """Occupancy-weighted Q̄(s, a) (Q_0 at states never reached). ``[B, S, K]``."""
        p_bsk = torch.softmax(self.check_logits(logits), dim=-1)
        return self._qbar(p_bsk)[0]

    def _qbar(self, p_bsk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q_hbsk = self._backward(p_bsk)
        w_hbs = self._discounts(p_bsk.dtype)[:, None, None] * self._forward(p_bsk)
        rho_bs = w_hbs.sum(0)
        qbar = (w_hbs[..., None] * q_hbsk).sum(0) / rho_bs.clamp_min(1e-300)[..., None]
        return torch.where(rho_bs[..., None] > 0, qbar, q_hbsk[0]), rho_bs

    def grad_J(self, logits: torch.Tensor) -> torch.Tensor:
        """∂J/∂z(s, a) = ρ(s) π(a|s) (Q̄(s, a) − Σ_b π(b|s) Q̄(s, b)). ``[B, S, K]``."""
        p_bsk = torch.softmax(self.check_logits(logits), dim=-1)
        qbar, rho_bs = self._qbar(p_bsk)
        return rho_bs[..., None] * p_bsk * (qbar - (p_bsk * qbar).sum(-1, keepdim=True))

    def success_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """P(reach a goal within H steps | prompt c). ``[B, C]``."""
        if not bool(self.goal.any()):
            raise fail("goal", self.goal, "at least one goal state to define pass@k")
        p_bsk = torch.softmax(self.check_logits(logits), dim=-1)
        alive_s = self._alive(p_bsk.dtype)
        goal_s = self.goal.to(p_bsk.dtype)
        p_sks = self.transitions.to(p_bsk.dtype)
        g_bs = goal_s.expand(p_bsk.shape[0], -1)
        for _ in range(self.horizon):
            cont_bs = torch.einsum("bsa,sat,bt->bs", p_bsk, p_sks, g_bs)
            g_bs = alive_s * cont_bs + goal_s
        return g_bs[:, self.prompt_states]

    @property
    def fixed_length(self) -> bool:
        """True when no state is terminal (every episode takes H actions)."""
        return not bool(self.terminal.any())

    def length_moments(
        self, logits: torch.Tensor, weights: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """E_c[f(len)], E_c[f(len)·1{correct}], E_c[f(len)·R] per prompt (module docstring).

        Args:
            logits: ``[B, S, K]``.
            weights: ``[H + 1]`` f(ℓ) for ℓ = 0..H actions.
        Returns:
            ``weight``, ``success``, ``reward``: ``[B, C]`` each, differentiable in ``logits``.
        """
        check_tensor("weights", weights, ndim=1, axes=f"[H + 1] = [{self.horizon + 1}]")
        if weights.shape[0] != self.horizon + 1:
            raise fail("weights", weights, f"shape [H + 1] = [{self.horizon + 1}]")
        p_bsk = torch.softmax(self.check_logits(logits), dim=-1)
        dt = p_bsk.dtype
        f_l = weights.to(dt)
        alive_s, term_s, goal_s = self._alive(dt), self.terminal.to(dt), self.goal.to(dt)
        p_sks = self.transitions.to(dt)
        r_sks = self.rewards.to(dt)
        if r_sks.ndim == 2:
            r_sks = r_sks[:, :, None].expand_as(p_sks)
        pr_sks = p_sks * r_sks
        b, c = p_bsk.shape[0], self.prompt_states.shape[0]
        d_bcs = torch.zeros(b, c, self.num_states, dtype=dt)
        d_bcs[:, torch.arange(c), self.prompt_states] = 1.0
        u_bcs = torch.zeros_like(d_bcs)
        out = {  # a prompt state that is terminal: an episode of 0 actions
            "weight": f_l[0] * (d_bcs * term_s).sum(-1),
            "success": f_l[0] * (d_bcs * goal_s).sum(-1),
            "reward": torch.zeros(b, c, dtype=dt),
        }
        d_bcs = d_bcs * alive_s
        for t in range(self.horizon):
            flow_bcsk = d_bcs[..., None] * p_bsk[:, None]
            d_next = torch.einsum("bcsa,sat->bct", flow_bcsk, p_sks)
            u_next = (self.discount**t) * torch.einsum("bcsa,sat->bct", flow_bcsk, pr_sks) \
                + torch.einsum("bcs,bsa,sat->bct", u_bcs, p_bsk, p_sks)
            ends_s = term_s if t + 1 < self.horizon else torch.ones_like(term_s)
            out["weight"] = out["weight"] + f_l[t + 1] * (d_next * ends_s).sum(-1)
            out["success"] = out["success"] + f_l[t + 1] * (d_next * goal_s).sum(-1)
            out["reward"] = out["reward"] + f_l[t + 1] * (u_next * ends_s).sum(-1)
            d_bcs, u_bcs = d_next * alive_s, u_next * alive_s
        return out

    def sample(
        self,
        logits: torch.Tensor,
        n_prompts: int,
        group_size: int,
        generator: torch.Generator | None,
        sampler: TokenSampler | None = None,
    ) -> Rollout:
        """Prompts (initial states) i.i.d. from μ, then G episodes of at most H steps each
        (actions from π, or from ``sampler``'s distribution: :meth:`TabularProblem.sample`)."""
        p_bsk, n, g = self._sampling_policy(logits, n_prompts, group_size, sampler)
        b, k = p_bsk.shape[0], self.num_actions
        prompts_bn = self.sample_prompts(b, n, generator)
        s_bx = self.prompt_states[prompts_bn][:, :, None].expand(-1, -1, g).reshape(b, n * g)
        alive_bx = ~self.terminal[s_bx]
        states, actions, masks, logps = [], [], [], []
        for _ in range(self.horizon):
            a_bx, logp_bx = draw_tokens(p_bsk.gather(1, s_bx[..., None].expand(-1, -1, k)),
                                        generator, sampler)
            nxt_bx = sample_categorical(self.transitions[s_bx, a_bx], generator)
            states.append(s_bx)
            actions.append(a_bx)
            masks.append(alive_bx.to(torch.float64))
            logps.append(logp_bx)
            s_bx = torch.where(alive_bx, nxt_bx, s_bx)
            alive_bx = alive_bx & ~self.terminal[s_bx]
        shape = (b, n, g, self.horizon)
        mask = torch.stack(masks, -1).reshape(shape)
        logp = None if sampler is None else torch.stack(logps, -1).reshape(shape) * mask
        return Rollout(
            prompts=prompts_bn,
            states=torch.stack(states, -1).reshape(shape),
            actions=torch.stack(actions, -1).reshape(shape),
            mask=mask,
            final_states=s_bx.reshape(b, n, g),
            sampler_logp=logp,
        )

    def _next_states(self, rollout: Rollout) -> torch.Tensor:
        return torch.cat([rollout.states[..., 1:], rollout.final_states[..., None]], -1)

    def reward(self, rollout: Rollout, generator: torch.Generator | None = None) -> torch.Tensor:
        """Σ_t mask_t γ^t r(s_t, a_t[, s_{t+1}]). ``[B, N, G]`` float64."""
        if self.rewards.ndim == 2:
            r = self.rewards[rollout.states, rollout.actions]
        else:
            r = self.rewards[rollout.states, rollout.actions, self._next_states(rollout)]
        return (r * rollout.mask * self._discounts(torch.float64)).sum(-1)

    def correct(self, rollout: Rollout, rewards: torch.Tensor) -> torch.Tensor:
        """``[B, N, G]`` bool: the episode entered a goal state (the rewards are not used)."""
        return self.goal[rollout.final_states]
