"""The tabular problem interface: a policy is a logits tensor ``logits_bsk`` of shape ``[B, S, K]``.

B = seeds (independent replicas), S = states (bandit arm-set, contexts, token-tree prefixes, MDP
states), K = actions (vocab V for a token tree). Every problem gives exact quantities of the
softmax policy π(·|s) = softmax(logits[b, s]):

    H_s            = −Σ_a π(a|s) log π(a|s)                 state_entropy   [B, S]
    visits_s       = E[#times s is visited in one episode]  visits          [B, S]
    token entropy  = Σ_s visits_s H_s / Σ_s visits_s        entropy         [B]
    sequence entr. = Σ_s visits_s H_s  (chain rule)         sequence_entropy[B]
    J              = E[episode reward]                      expected_reward [B]
    pass@k         = Σ_c w_c (1 − (1 − p_c)^k)              pass_at_k       [B]

with p_c = P(one episode from prompt c is correct) and w_c the prompt distribution. The generic
parts live here; subclasses supply ``visits``, ``expected_reward``, ``action_values``,
``success_prob``, ``sample`` and ``reward`` (and a closed-form ``grad_J`` where one exists; the
fallback here differentiates ``expected_reward`` with autograd, which is exact too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from entropy_lab import passk
from entropy_lab.theory import entropy as _entropy
from entropy_lab.validation import check_number, check_tensor, fail

LOGITS_AXES = "[B, S, K]"


@dataclass(frozen=True)
class Rollout:
    """A batch of sampled episodes, N prompts × G samples per prompt, per seed.

    Attributes:
        prompts: ``[B, N]`` prompt index c in ``[0, C)`` of each group.
        states: ``[B, N, G, T]`` state index (prefix id / context / MDP state) at each step.
        actions: ``[B, N, G, T]`` taken action (token).
        mask: ``[B, N, G, T]`` float64, 1.0 for real steps and 0.0 for padding.
        final_states: ``[B, N, G]`` state reached after the last step, or None where the problem
            does not need it (an MDP uses it for rewards r(s, a, s') and goal checks).
        sampler_logp: ``[B, N, G, T]`` float64 log π_s of each taken action on the sampler path
            that drew it (0 on padding), or None where the tokens were drawn from the exact π
            (no ``sampler`` was given to ``sample``).
    """

    prompts: torch.Tensor
    states: torch.Tensor
    actions: torch.Tensor
    mask: torch.Tensor
    final_states: torch.Tensor | None = None
    sampler_logp: torch.Tensor | None = None

    @property
    def lengths(self) -> torch.Tensor:
        """``[B, N, G]`` number of real steps of each episode."""
        return self.mask.sum(-1)


def sample_categorical(
    probs_xk: torch.Tensor, generator: torch.Generator | None, draws: int | None = None
) -> torch.Tensor:
    """One draw per row of ``probs_xk`` (``[..., K]``, rows summing to 1) by inverse CDF.

    Inverse-CDF sampling with one uniform per row keeps the draw reproducible for a given
    generator and vectorises over any leading dims (``torch.multinomial`` wants 2-D input).
    With ``draws=G`` each row is sampled G times from one CDF (the same uniforms, in the same
    order, as expanding the rows G-fold first, without G copies of the cumulative sum).

    The index is found by binary search (``torch.searchsorted``, left side) over the cumulative
    sum: the first i with cdf_i >= u·cdf_K. Because a cumulative sum of non-negative terms is
    non-decreasing in floating point, that is exactly the count #{i : cdf_i < u·cdf_K} — the
    same draw as a comparison count, for the same uniforms, in O(log K) per draw instead of O(K).

    Returns:
        ``[...]`` int64 indices in ``[0, K)``, or ``[..., G]`` with ``draws=G``.
    """
    cdf = probs_xk.cumsum(-1)
    shape = probs_xk.shape[:-1] + ((draws,) if draws is not None else (1,))
    u = torch.rand(shape, generator=generator, dtype=probs_xk.dtype, device=probs_xk.device)
    idx = torch.searchsorted(cdf, u * cdf[..., -1:])
    if draws is None:
        idx = idx.squeeze(-1)
    return idx.clamp_max(probs_xk.shape[-1] - 1)


TokenSampler = Callable[[torch.Tensor, "torch.Generator | None"], tuple[torch.Tensor, torch.Tensor]]
"""``(logits rows [..., K] float64, generator) -> (tokens [...] long, log π_s [...] float64)``:
draws one token per row from a sampler path's own distribution π_s and reports its log-prob from
the same pass (``PrecisionPipeline.sample_tokens``; docs/precision.md, "Faithful sampling in the
simulator")."""


def draw_tokens(rows_xk: torch.Tensor, generator: torch.Generator | None,
                sampler: TokenSampler | None = None, draws: int | None = None):
    """One token per row of ``rows_xk`` ``[..., K]`` (``draws=G``: G per row, ``[..., G]``).

    Without a ``sampler`` the rows are probabilities π and the draw is :func:`sample_categorical`
    (log-probs None). With one the rows are logits and each token is a separate forward pass of
    the sampler path (rows expanded G-fold for ``draws``): returns (tokens, log π_s of each).
    """
    if sampler is None:
        return sample_categorical(rows_xk, generator, draws), None
    if draws is not None:
        rows_xk = rows_xk.unsqueeze(-2).expand(*rows_xk.shape[:-1], draws, rows_xk.shape[-1])
    return sampler(rows_xk, generator)


def check_count(name: str, value: int, lo: int = 1) -> int:
    """An integer >= ``lo`` (sizes, horizons, k, seeds)."""
    return int(check_number(name, value, lo=lo, integer=True))


@dataclass
class ExactTerms:
    """Closed forms of the snapshot's quantities at one policy state, from a problem that has
    them (:meth:`TabularProblem.exact_terms`): the same numbers as the interface's definitions
    differentiated by autograd, without a ``[B, S, K]`` backward pass.

    Attributes:
        entropy, entropy_seq, J: ``[B]`` token-averaged entropy, Σ_s visits_s H_s, E[reward].
        success: ``[B, C]`` p_c (as ``success_prob``).
        grad_entropy: ``[B, S, K]`` ∂entropy/∂logits.
        weights: ``[B, S]`` visits_s / Σ_s visits_s.
        p_centred: ``[B, S, K]`` π ⊙ (log π + H_s).
        success_grad: ``coef [B, C] -> [B, S, K]``, ∂(Σ_c coef_bc p_bc)/∂logits at this state
            (coef held fixed; seeds separate).
        state_entropy: ``[B, S]`` H_s.
        spare: the ``[B, S, K]`` buffers ``success_grad`` reads (π, log π), free for reuse
            once it is no longer called.
    """

    entropy: torch.Tensor
    entropy_seq: torch.Tensor
    J: torch.Tensor
    success: torch.Tensor
    grad_entropy: torch.Tensor
    weights: torch.Tensor
    p_centred: torch.Tensor
    success_grad: Callable[[torch.Tensor], torch.Tensor]
    state_entropy: torch.Tensor
    spare: tuple[torch.Tensor, ...] = ()


def take_buffer(workspace: list[torch.Tensor] | None, like: torch.Tensor,
                new: bool = False) -> torch.Tensor | None:
    """A contiguous buffer of ``like``'s size and dtype popped from ``workspace`` (viewed as
    ``like``'s shape); else a new one with ``new=True``, None (the op allocates its own)
    without. Reusing buffers spares the page faults of memory the allocator has returned to
    the system between steps."""
    for i, buf in enumerate(workspace or ()):
        if (buf.numel() == like.numel() and buf.dtype == like.dtype
                and buf.device == like.device and buf.is_contiguous()):
            return workspace.pop(i).view(like.shape)
    return torch.empty(like.shape, dtype=like.dtype, device=like.device) if new else None


class TabularProblem:
    """Base class of the tabular worlds (see the module docstring for the quantities).

    Attributes:
        num_states: S.
        num_actions: K (vocab V for a token tree).
        horizon: T, the most steps of one episode (1 for bandits).
        num_prompts: C, contexts / initial states.
        prompt_probs: ``[C]`` float64 distribution of prompts.
        base_logits: ``[S, K]`` float64 initial logits of the preset (what ``init_logits`` repeats).
        init_noise: std of Gaussian noise ``init_logits`` adds per seed when given a generator.
        success_threshold: an episode is *correct* when its reward is >= this (problems may
            define correctness otherwise and say so, e.g. the MDP's goal states).
        task: the reward variant this instance carries ("A" unless built by ``with_task``).
        name: a readable id (the preset id where built by ``get_problem``).
        fixed_length: every episode takes exactly T steps (bandits, token trees); problems with
            variable-length episodes set it False and give :meth:`length_moments`.
        task_builder: ``task -> problem`` of the same structure with another reward (set by
            ``get_problem``; :meth:`with_task` needs it).

    ``name``, ``task`` and ``task_builder`` are constructor arguments of every problem class.
    """

    num_states: int
    num_actions: int
    horizon: int
    num_prompts: int
    prompt_probs: torch.Tensor
    base_logits: torch.Tensor
    init_noise: float = 0.0
    success_threshold: float = 1.0
    task: str = "A"
    name: str = "problem"
    fixed_length: bool = True
    task_builder: Callable[[str], TabularProblem] | None = None
    has_entropy_ceiling: bool = False
    """Whether the problem defines ``entropy_ceiling(success [...]) -> [...]``: H_max(J), the most
    token entropy of any policy with success J (multi-prompt bandits with 0/1 correctness, token
    trees, multi-prompt trees)."""

    def _setup(
        self,
        num_states: int,
        num_actions: int,
        horizon: int,
        prompt_probs: torch.Tensor,
        base_logits: torch.Tensor | None,
        init_noise: float,
        success_threshold: float,
        name: str,
        task: str = "A",
        task_builder: Callable[[str], TabularProblem] | None = None,
    ) -> None:
        self.num_states = check_count("num_states", num_states)
        self.num_actions = check_count("num_actions", num_actions, lo=2)
        self.horizon = check_count("horizon", horizon)
        self.prompt_probs = check_distribution("prompt_probs", prompt_probs)
        self.num_prompts = int(self.prompt_probs.shape[0])
        if base_logits is None:
            base_logits = torch.zeros(num_states, num_actions, dtype=torch.float64)
        check_tensor("init_logits", base_logits, ndim=2, axes="[S, K]")
        if tuple(base_logits.shape) != (num_states, num_actions):
            raise fail("init_logits", base_logits, f"shape [S, K] = [{num_states}, {num_actions}]")
        self.base_logits = base_logits.to(torch.float64)
        self.init_noise = check_number("init_noise", init_noise, lo=0.0)
        self.success_threshold = check_number("success_threshold", success_threshold)
        self.name = name
        self.task = task
        self.task_builder = task_builder

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, task={self.task!r}, S={self.num_states}, "
            f"K={self.num_actions}, T={self.horizon}, C={self.num_prompts})"
        )

    # ---------------------------------------------------------------- input checks
    def check_logits(
        self, logits: torch.Tensor, name: str = "logits", finite: bool = True
    ) -> torch.Tensor:
        """Check ``logits`` is a (finite) float ``[B, S, K]`` tensor for this problem; return it.

        ``finite=False`` skips the finiteness scan for callers that detect NaN in their (much
        smaller) results and then call again with ``finite=True`` for the message.
        """
        shape_txt = f"[B, S, K] = [B, {self.num_states}, {self.num_actions}]"
        check_tensor(name, logits, ndim=3, axes=shape_txt, finite=finite)
        if logits.shape[0] < 1 or tuple(logits.shape[1:]) != (self.num_states, self.num_actions):
            raise fail(name, logits, f"shape {shape_txt} with B >= 1")
        return logits

    # ---------------------------------------------------------------- initialisation
    def init_logits(self, seeds: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[B, S, K]`` float64: the preset's ``base_logits`` for each of B = ``seeds`` replicas.

        With a generator and ``init_noise > 0`` each replica gets its own N(0, init_noise²) noise;
        otherwise the replicas are identical (they differ only through sampling).
        """
        seeds = check_count("seeds", seeds)
        logits = self.base_logits.unsqueeze(0).repeat(seeds, 1, 1)
        if generator is not None and self.init_noise > 0:
            noise = torch.randn(logits.shape, generator=generator, dtype=torch.float64)
            logits = logits + self.init_noise * noise
        return logits

    # ---------------------------------------------------------------- entropy
    def state_entropy(self, logits: torch.Tensor) -> torch.Tensor:
        """H_s = −Σ_a π(a|s) log π(a|s). ``[B, S, K]`` -> ``[B, S]``."""
        return _entropy(self.check_logits(logits))

    def visits(self, logits: torch.Tensor) -> torch.Tensor:
        """``[B, S]`` expected visits of each state per episode (sum = expected length)."""
        raise NotImplementedError

    def sequence_entropy(self, logits: torch.Tensor) -> torch.Tensor:
        """Σ_s visits_s H_s: entropy of the episode's action sequence (chain rule). ``[B]``."""
        return (self.visits(logits) * self.state_entropy(logits)).sum(-1)

    def entropy(self, logits: torch.Tensor) -> torch.Tensor:
        """Token-averaged Σ_s visits_s H_s / Σ_s visits_s (what LLM trainers log). ``[B]``."""
        v_bs = self.visits(logits)
        return (v_bs * self.state_entropy(logits)).sum(-1) / v_bs.sum(-1)

    # ---------------------------------------------------------------- reward
    def expected_reward(self, logits: torch.Tensor) -> torch.Tensor:
        """J = E[episode reward], ``[B]``, differentiable (autograd gives the exact gradient)."""
        raise NotImplementedError

    def grad_J(self, logits: torch.Tensor) -> torch.Tensor:
        """``[B, S, K]`` exact ∂J/∂logits (autograd through ``expected_reward``; seeds separate)."""
        z = self.check_logits(logits).detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.expected_reward(z).sum(), z)
        return g

    def reward_and_success(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(J ``[B]``, p_c ``[B, C]``): :meth:`expected_reward` and :meth:`success_prob` of the
        same logits together, for callers that need both (the simulator's exact columns); a
        problem whose two share work overrides it with the same numbers."""
        return self.expected_reward(logits), self.success_prob(logits)

    def action_values(self, logits: torch.Tensor) -> torch.Tensor:
        """``[B, S, K]`` Q(s, a): expected reward collected from taking a in s on, under π."""
        raise NotImplementedError

    def exact_terms(self, logits: torch.Tensor,
                    workspace: list[torch.Tensor] | None = None) -> ExactTerms | None:
        """Closed forms of one policy state's entropy, its gradient, J and p_c with their
        gradient (:class:`ExactTerms`), where the problem has them; None (the default): callers
        use the differentiable definitions above. ``logits`` ``[B, S, K]``; ``workspace``:
        spare ``[B, S, K]`` buffers the closed forms may take (:func:`take_buffer`)."""
        return None

    def success_prob(self, logits: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` P(one episode from prompt c is correct)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- episode lengths
    def expected_length(self, logits: torch.Tensor) -> torch.Tensor:
        """E_π[len], the expected number of steps of one episode (prompts drawn from
        ``prompt_probs``): Σ_s visits_s. ``[B]``."""
        return self.visits(logits).sum(-1)

    def length_moments(
        self, logits: torch.Tensor, weights: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Per-prompt expectations weighted by a function f of the episode length.

        Args:
            logits: ``[B, S, K]``.
            weights: ``[T + 1]`` f(ℓ) for ℓ = 0..T.
        Returns:
            ``weight`` E_c[f(len)], ``success`` E_c[f(len)·1{correct}], ``reward``
            E_c[f(len)·R], each ``[B, C]`` and differentiable in ``logits``.
        """
        raise fail("problem", self.name, "a problem with variable-length episodes that "
                   "implements length_moments (fixed-length problems need no length weights)")

    def pass_at_k(self, logits: torch.Tensor, k: int) -> torch.Tensor:
        """Exact pass@k = Σ_c w_c (1 − (1 − p_c)^k), k i.i.d. episodes per prompt. ``[B]``."""
        k = check_count("k", k)
        return passk.exact_pass_at_k(self.success_prob(logits), k, self.prompt_probs)

    # ---------------------------------------------------------------- sampling
    def sample_prompts(
        self, seeds: int, n_prompts: int, generator: torch.Generator | None
    ) -> torch.Tensor:
        """``[B, N]`` prompt indices drawn i.i.d. from ``prompt_probs``. With one prompt the
        uniforms are still drawn (the stream advances as for any C) and every index is 0, what
        the inverse CDF of a one-point distribution returns."""
        if self.num_prompts == 1:
            torch.rand((seeds, n_prompts, 1), generator=generator, dtype=torch.float64)
            return torch.zeros(seeds, n_prompts, dtype=torch.long)
        w = self.prompt_probs.expand(seeds, n_prompts, self.num_prompts)
        return sample_categorical(w, generator)

    def sample(
        self,
        logits: torch.Tensor,
        n_prompts: int,
        group_size: int,
        generator: torch.Generator | None,
        sampler: TokenSampler | None = None,
    ) -> Rollout:
        """Sample N = ``n_prompts`` prompts and G = ``group_size`` episodes per prompt.

        Tokens come from the exact π = softmax(logits), or, with a ``sampler``
        (:data:`TokenSampler`), from that sampler path's own distribution, each token's log π_s
        stored in ``Rollout.sampler_logp``."""
        raise NotImplementedError

    def _sampling_policy(
        self, logits: torch.Tensor, n_prompts: int, group_size: int, sampler=None
    ) -> tuple[torch.Tensor, int, int]:
        """Check the arguments of :meth:`sample`; return (the rows tokens are drawn from
        ``[B, S, K]``, detached: π = softmax(logits), or the logits themselves when a ``sampler``
        draws (:func:`draw_tokens`); N, G)."""
        logits, n, g = self._sampling_args(logits, n_prompts, group_size)
        if sampler is not None:
            return logits, n, g
        return torch.softmax(logits, dim=-1), n, g

    def _sampling_args(
        self, logits: torch.Tensor, n_prompts: int, group_size: int
    ) -> tuple[torch.Tensor, int, int]:
        """Check the arguments of :meth:`sample`; return (detached logits, N, G)."""
        logits = self.check_logits(logits)
        n = check_count("n_prompts", n_prompts)
        g = check_count("group_size", group_size)
        return logits.detach(), n, g

    def reward(self, rollout: Rollout, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[B, N, G]`` float64 episode rewards (the generator draws stochastic rewards)."""
        raise NotImplementedError

    def correct(self, rollout: Rollout, rewards: torch.Tensor) -> torch.Tensor:
        """``[B, N, G]`` bool: which episodes count as correct for pass@k (reward >= threshold)."""
        return rewards >= self.success_threshold

    def logprobs(self, logits: torch.Tensor, rollout: Rollout) -> torch.Tensor:
        """``[B, N, G, T]`` log π(action|state), differentiable, 0 where mask == 0."""
        logits = self.check_logits(logits)
        b, s, k = logits.shape
        if rollout.states.shape[0] != b:
            raise fail("rollout.states", rollout.states, f"leading dim B = {b} (as logits)")
        logp_bx = torch.log_softmax(logits, dim=-1).reshape(b, s * k)
        flat_bx = (rollout.states * k + rollout.actions).reshape(b, -1)
        logp = logp_bx.gather(1, flat_bx).reshape(rollout.states.shape)
        return torch.where(rollout.mask > 0, logp, torch.zeros_like(logp))

    # ---------------------------------------------------------------- tasks
    def with_task(self, task: str) -> TabularProblem:
        """The same structure (states, actions, initial logits) with the reward of ``task``.

        Presets define task "A" (their own reward) and "B" (another, partly overlapping or
        disjoint correct set) for sequential-learning experiments.
        """
        if task == self.task:
            return self
        if self.task_builder is None:
            raise fail("task", task, f"{self.task!r} (this problem defines no other task)")
        return self.task_builder(task)


def check_distribution(name: str, probs: torch.Tensor, axes: str = "[C]") -> torch.Tensor:
    """A 1-D non-negative float tensor summing to 1 (tolerance 1e-9); returned as float64."""
    check_tensor(name, probs, ndim=1, axes=axes)
    probs = probs.to(torch.float64)
    total = float(probs.sum())
    if probs.numel() == 0 or bool((probs < 0).any()) or abs(total - 1.0) > 1e-9:
        raise fail(name, probs.tolist() if probs.numel() <= 8 else probs,
                   f"a non-empty probability vector {axes}: entries >= 0 summing to 1 "
                   f"(sum was {total:.12g})")
    return probs
