"""Named problem presets with stable ids: ``get_problem("tree/calibrated", vocab_size=8)``.

An id is ``<family>/<initialisation>``; the family may carry a size (``bandit64``, ``tree8x6``).
The initialisation says how the initial logits relate to the reward (docs/theory.md, "Closed
forms", sign law):

- ``calibrated``: the high-probability actions are the rewarded ones (A and log π positively
  correlated: exact policy gradient lowers the entropy);
- ``uncorrelated``: built so that Cov_π(log π, A) = 0 at every state (bandits exactly in both
  geometries; token tree and MDP in the natural geometry, Cov_π(log π, Q));
- ``anti``: the rewarded actions are the low-probability ones (entropy rises).

Each preset also defines task "B" (``problem.with_task("B")``): the same states, actions and
initial logits with another correct set, for sequential-learning experiments. Keyword overrides
(sizes, construction ``seed``, ...) are the keyword arguments of the family's builder; an unknown
one raises an error listing the allowed keys. Initial numbers of each preset (pass@1, pass@k,
entropy) are in the builder docstrings; ``describe(problem)`` recomputes them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from entropy_lab.problems.bandit import Bandit, ContextualBandit
from entropy_lab.problems.base import TabularProblem, check_count
from entropy_lab.problems.initialisation import (
    decorrelate,
    neutral_logits,
    on_path,
    ranked_arms,
)
from entropy_lab.problems.mdp import TabularMDP
from entropy_lab.problems.prompt_presets import build_bottleneck, build_llm, build_many
from entropy_lab.problems.prompt_tree import PromptTree
from entropy_lab.problems.tree import TokenTree
from entropy_lab.registry import Registry
from entropy_lab.validation import check_choice, check_number, fail

MODES = ("calibrated", "uncorrelated", "anti")
TASKS = ("A", "B")


@dataclass(frozen=True)
class Preset:
    """A registered problem id: ``builder(mode, **defaults, **overrides, name=id,
    task_builder=...)`` makes the problem; every builder passes ``task`` and its ``**meta``
    (``name``, ``task_builder``) to the problem's constructor."""

    problem_id: str
    builder: Callable[..., TabularProblem]
    mode: str
    defaults: dict = field(default_factory=dict)

    @property
    def doc(self) -> str:
        """The builder's docstring (what is rewarded, the initial numbers)."""
        return inspect.getdoc(self.builder) or ""

    def allowed_overrides(self) -> list[str]:
        params = inspect.signature(self.builder).parameters
        return sorted(n for n, p in params.items() if p.kind is p.KEYWORD_ONLY)

    def __call__(self, **overrides) -> TabularProblem:
        allowed = self.allowed_overrides()
        for key in overrides:
            if key not in allowed:
                raise fail("override", key, f"one of {', '.join(allowed)} for {self.problem_id!r}")
        kwargs = {**self.defaults, **overrides}
        return self.builder(self.mode, **kwargs, name=self.problem_id,
                            task_builder=lambda task: self(**{**overrides, "task": task}))


PROBLEMS: Registry[Preset] = Registry("problem")


def _register(
    family: str, builder: Callable[..., TabularProblem], modes: tuple[str, ...] = MODES, **defaults
) -> None:
    for mode in modes:
        pid = f"{family}/{mode}"
        PROBLEMS.register(pid, Preset(pid, builder, mode, dict(defaults)))


def get_problem(problem_id: str, **overrides) -> TabularProblem:
    """Build the preset ``problem_id`` (see :func:`problem_names`) with keyword overrides."""
    return PROBLEMS.get(problem_id)(**overrides)


def problem_names() -> list[str]:
    """All preset ids, sorted."""
    return PROBLEMS.names()


def describe(problem: TabularProblem, ks: tuple[int, ...] = (1, 8, 64)) -> dict[str, float]:
    """Initial numbers of a problem at its ``base_logits``: J, entropy, sequence entropy, pass@k."""
    z = problem.init_logits(1)
    out = {
        "J": float(problem.expected_reward(z)[0]),
        "entropy": float(problem.entropy(z)[0]),
        "sequence_entropy": float(problem.sequence_entropy(z)[0]),
    }
    out.update({f"pass@{k}": float(problem.pass_at_k(z, k)[0]) for k in ks})
    return out


def _check_common(mode: str, task: str, seed: int) -> None:
    check_choice("mode", mode, MODES)
    check_choice("task", task, TASKS)
    check_count("seed", seed, lo=0)


# ------------------------------------------------------------------------------------ bandits
def _check_bandit_sizes(num_arms: int, num_correct: int, skew: float) -> None:
    check_count("num_arms", num_arms, lo=2)
    check_number("num_correct", num_correct, lo=1, hi=num_arms // 2, integer=True)
    check_number("skew", skew, lo=0.0)


def _arm_means(correct: torch.Tensor, reward_hi: float, reward_lo: float) -> torch.Tensor:
    """Per-arm mean reward in float64 (never the global default dtype): hi where correct."""
    hi, lo = (torch.tensor(float(r), dtype=torch.float64) for r in (reward_hi, reward_lo))
    return torch.where(correct, hi, lo)


def build_bandit(
    mode: str,
    *,
    num_arms: int = 8,
    num_correct: int = 2,
    skew: float = 2.0,
    bernoulli: bool = False,
    reward_hi: float = 1.0,
    reward_lo: float = 0.0,
    init_noise: float = 0.0,
    seed: int = 0,
    task: str = "A",
    **meta,
) -> Bandit:
    """``bandit/<mode>`` (K = 8) and ``bandit64/<mode>`` (K = 64, 8 correct arms).

    Arm a (ranked by probability) has logit skew·(1 − 2a/(K − 1)); correct arms have mean
    ``reward_hi`` (1: reward 1 = correct), the others ``reward_lo``; deterministic rewards unless
    ``bernoulli``. calibrated rewards the m = ``num_correct`` most probable arms, anti the m least
    probable, uncorrelated one arm of each equal-logit pair (m = K/2; Cov_π(log π, μ) = 0).
    Task B: calibrated → ranks m..2m−1, anti → ranks K−2m..K−m−1, uncorrelated → the other arm of
    each pair (all disjoint from task A).

    Initial numbers (defaults; ``describe``):

    =====================  =====  =======  =======  =======
    id                     H      pass@1   pass@8   pass@64
    =====================  =====  =======  =======  =======
    bandit/calibrated      1.515  0.688    1.000    1.000
    bandit/uncorrelated    1.446  0.500    0.996    1.000
    bandit/anti            1.515  0.0223   0.165    0.764
    bandit64/calibrated    3.669  0.405    0.984    1.000
    bandit64/uncorrelated  3.658  0.500    0.996    1.000
    bandit64/anti          3.669  0.0116   0.0889   0.525
    =====================  =====  =======  =======  =======

    (J = pass@1: rewards are binary.)
    """
    _check_common(mode, task, seed)
    _check_bandit_sizes(num_arms, num_correct, skew)
    gen = torch.Generator().manual_seed(seed)
    logits, correct = ranked_arms(mode, num_arms, num_correct, skew, task, gen)
    means = _arm_means(correct, reward_hi, reward_lo)
    return Bandit(
        means.to(torch.float64), bernoulli=bernoulli, init_logits=logits, init_noise=init_noise,
        task=task, **meta,
    )


def build_cbandit(
    mode: str,
    *,
    num_contexts: int = 4,
    num_arms: int = 8,
    num_correct: int = 2,
    skew: float = 2.0,
    bernoulli: bool = False,
    reward_hi: float = 1.0,
    reward_lo: float = 0.0,
    init_noise: float = 0.0,
    seed: int = 0,
    task: str = "A",
    **meta,
) -> ContextualBandit:
    """``cbandit/<mode>``: C = 4 contexts × K = 8 arms, context weights ∝ C, C − 1, ..., 1.

    Each context is the bandit preset of the same mode with its arms permuted by a random
    permutation (construction ``seed``), so contexts prefer different arms; task B as for the
    bandit, per context.

    Initial numbers (defaults): every context has the bandit's logit profile, hence the
    ``bandit/<mode>`` numbers: calibrated H 1.515, pass@1 0.688; uncorrelated H 1.446, pass@1
    0.500; anti H 1.515, pass@1 0.0223, pass@8 0.165, pass@64 0.764.
    """
    _check_common(mode, task, seed)
    check_count("num_contexts", num_contexts)
    _check_bandit_sizes(num_arms, num_correct, skew)
    gen = torch.Generator().manual_seed(seed)
    logits_ck = torch.empty(num_contexts, num_arms, dtype=torch.float64)
    means_ck = torch.empty(num_contexts, num_arms, dtype=torch.float64)
    for c in range(num_contexts):
        logits, correct = ranked_arms(mode, num_arms, num_correct, skew, task, gen)
        perm = torch.randperm(num_arms, generator=gen)
        logits_ck[c, perm] = logits
        means_ck[c, perm] = _arm_means(correct, reward_hi, reward_lo)
    weights = torch.arange(num_contexts, 0, -1, dtype=torch.float64)
    return ContextualBandit(
        means_ck, weights / weights.sum(), bernoulli=bernoulli, init_logits=logits_ck,
        init_noise=init_noise, task=task, **meta,
    )


_register("bandit", build_bandit)
_register("bandit64", build_bandit, num_arms=64, num_correct=8)
_register("cbandit", build_cbandit)


# ------------------------------------------------------------------------------------ token tree
def build_tree(
    mode: str,
    *,
    vocab_size: int = 6,
    horizon: int = 5,
    num_correct: int = 8,
    noise: float = 1.0,
    bonus: float = 1.5,
    init_noise: float = 0.0,
    seed: int = 0,
    task: str = "A",
    **meta,
) -> TokenTree:
    """``tree/<mode>`` (V = 6, T = 5: 7,776 sequences, 1,555 prefixes) and ``tree8x6/<mode>``.

    ``num_correct`` distinct sequences (uniformly drawn with the construction ``seed``) have
    reward 1, all others 0. Initial logits: N(0, ``noise``²) at every prefix (a skewed,
    LLM-like distribution); then every (prefix, token) pair on the path to a correct sequence
    is set to c₀ + ``bonus`` (calibrated), c₀ (uncorrelated) or c₀ − ``bonus`` (anti), where c₀
    is the logit at which its centred log-prob L is 0. As c₀ is the only sign change of L(c),
    the on-path tokens then have L > 0, L = 0 or L < 0, and since off-path tokens have Q = 0,
    Cov_π(log π, Q) = Σ_a π_a L_a Q_a is > 0, exactly 0 or < 0 at every prefix on a correct path
    (and 0 elsewhere; a prefix whose every token is on a path keeps its noise logits). The
    vanilla-geometry covariance E_π[π L (Q − V)] of the uncorrelated preset is not zero.
    Task B keeps the first half of the correct sequences and replaces the others by fresh
    draws (partly overlapping); the initial logits stay those of task A.

    Initial numbers (defaults; ``describe``):

    ====================  =====  ======  =======  =======  =======
    id                    H      seq H   pass@1   pass@8   pass@64
    ====================  =====  ======  =======  =======  =======
    tree/calibrated       1.443  7.213   0.0987   0.565    0.999
    tree/uncorrelated     1.555  7.776   2.2e-3   0.0172   0.130
    tree/anti             1.486  7.432   6.2e-6   4.9e-5   3.9e-4
    tree8x6/calibrated    1.675  10.048  0.0261   0.191    0.816
    tree8x6/uncorrelated  1.770  10.618  1.3e-4   1.1e-3   8.4e-3
    tree8x6/anti          1.721  10.325  7.2e-8   5.8e-7   4.6e-6
    ====================  =====  ======  =======  =======  =======

    H is the token-averaged entropy (= seq H / T). Anti-calibrated trees almost never produce a
    correct sequence: on-path tokens are below typical probability at all T levels.
    """
    _check_common(mode, task, seed)
    check_count("vocab_size", vocab_size, lo=2)
    check_count("horizon", horizon)
    num_leaves = vocab_size**horizon
    check_number("num_correct", num_correct, lo=1, hi=num_leaves // 2, integer=True)
    check_number("noise", noise, lo=0.0)
    check_number("bonus", bonus, lo=0.0)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(num_leaves, generator=gen)[: 2 * num_correct]
    leaves_a = order[:num_correct]
    keep = num_correct // 2
    leaves = leaves_a if task == "A" else torch.cat([leaves_a[:keep], order[num_correct:][
        : num_correct - keep]])
    rewards = torch.zeros(num_leaves, dtype=torch.float64)
    rewards[leaves] = 1.0
    shell = TokenTree(vocab_size, horizon, rewards)
    logits = noise * torch.randn(shell.num_states, vocab_size, generator=gen, dtype=torch.float64)
    on = on_path(shell, leaves_a)
    rows = on.any(-1) & ~on.all(-1)
    shift = {"calibrated": bonus, "uncorrelated": 0.0, "anti": -bonus}[mode]
    c = neutral_logits(logits[rows], on[rows]) + shift
    logits[rows] = torch.where(on[rows], c[:, None], logits[rows])
    return TokenTree(vocab_size, horizon, rewards, init_logits=logits, init_noise=init_noise,
                     task=task, **meta)


# ------------------------------------------------------------------------------------ MDP
_DECORRELATED: dict[tuple, torch.Tensor] = {}  # the fixed-point search is the slow part


def build_mdp(
    mode: str,
    *,
    length: int = 7,
    start: int = 3,
    slip: float = 0.1,
    horizon: int = 10,
    noise: float = 0.5,
    bonus: float = 1.5,
    discount: float = 1.0,
    init_noise: float = 0.0,
    seed: int = 0,
    task: str = "A",
    **meta,
) -> TabularMDP:
    """``mdp/<mode>``: a slippery walk on positions 0..L−1 with a goal beyond one end.

    States 0..L−1 are positions; L is the terminal left exit, L+1 the right exit, L+2 "quit".
    Actions: 0 right, 1 left, 2 stay, 3 quit (→ terminal L+2, reward 0); a move slips with
    probability ``slip`` to a uniformly random one of {right, left, stay}. Episodes start at
    ``start`` (probability 0.7) or ``start`` − 1 (0.3): two prompts. Task A: entering the right
    exit gives reward 1 and is the goal (correct); the left exit is a failure. Task B: the other
    way round (disjoint). H = ``horizon`` actions, γ = ``discount``.

    Initial logits: N(0, ``noise``²) per (state, action); calibrated adds + ``bonus`` to "right"
    (the rewarded direction under task A), anti adds + ``bonus`` to "left"; uncorrelated moves
    the noise logits of each state along its advantage until Cov_π(log π, Q̄) = 0 at every state
    (|Cov| < 1e-14; a fixed-point search against task A's reward, cached per construction).
    Per-state signs of the calibrated and anti presets are not guaranteed (noise can flip a
    state); their visit-weighted covariance is positive and negative respectively.

    Initial numbers (defaults; ``describe``):

    ================  =====  =====  =======  =======  =======
    id                H      seq H  pass@1   pass@8   pass@64
    ================  =====  =====  =======  =======  =======
    mdp/calibrated    1.007  4.413  0.369    0.925    1.000
    mdp/uncorrelated  1.357  4.231  0.0158   0.119    0.608
    mdp/anti          1.135  4.520  3.6e-3   0.0284   0.199
    ================  =====  =====  =======  =======  =======

    (J = pass@1 with γ = 1: reward 1 exactly on entering the goal.)
    """
    _check_common(mode, task, seed)
    check_count("length", length, lo=2)
    check_number("start", start, lo=1, hi=length - 1, integer=True)
    check_number("slip", slip, lo=0.0, hi=1.0)
    check_number("noise", noise, lo=0.0)
    check_number("bonus", bonus, lo=0.0)
    n_s, left_exit, right_exit, quit_s = length + 3, length, length + 1, length + 2
    moves = (1, -1, 0)
    p = torch.zeros(n_s, 4, n_s, dtype=torch.float64)
    for pos in range(length):
        dest = [right_exit if pos + m >= length else left_exit if pos + m < 0 else pos + m
                for m in moves]
        for a, m in enumerate(moves):
            p[pos, a, dest[a]] += 1.0 - slip
            for d in dest:
                p[pos, a, d] += slip / len(moves)
            del m
        p[pos, 3, quit_s] = 1.0
    for s in (left_exit, right_exit, quit_s):
        p[s, :, s] = 1.0
    goal_state = right_exit if task == "A" else left_exit
    rewards = torch.zeros(n_s, 4, n_s, dtype=torch.float64)
    rewards[:length, :, goal_state] = 1.0
    initial = torch.zeros(n_s, dtype=torch.float64)
    initial[start], initial[start - 1] = 0.7, 0.3
    terminal = torch.zeros(n_s, dtype=torch.bool)
    terminal[[left_exit, right_exit, quit_s]] = True
    goal = torch.zeros(n_s, dtype=torch.bool)
    goal[goal_state] = True
    gen = torch.Generator().manual_seed(seed)
    logits = noise * torch.randn(n_s, 4, generator=gen, dtype=torch.float64)
    if mode == "calibrated":
        logits[:, 0] += bonus
    elif mode == "anti":
        logits[:, 1] += bonus

    def make(init: torch.Tensor) -> TabularMDP:
        return TabularMDP(
            p, rewards, horizon, initial, discount=discount, terminal=terminal, goal=goal,
            init_logits=init, init_noise=init_noise, task=task, **meta,
        )

    if mode == "uncorrelated":
        # decorrelated against task A's reward, so task B keeps the same initial logits
        key = (length, start, slip, horizon, noise, discount, seed)
        if key not in _DECORRELATED:
            task_a = make(logits) if task == "A" else build_mdp(
                mode, length=length, start=start, slip=slip, horizon=horizon, noise=noise,
                discount=discount, seed=seed)
            _DECORRELATED[key] = decorrelate(task_a, logits)
        logits = _DECORRELATED[key].clone()
    return make(logits)


_register("tree", build_tree)
_register("tree8x6", build_tree, vocab_size=8, horizon=6)


def build_prompt_tree(
    mode: str,
    *,
    num_prompts: int = 64,
    vocab_size: int = 4,
    horizon: int = 4,
    num_correct: int = 8,
    noise: float = 1.0,
    bonus: float = 1.5,
    init_noise: float = 0.0,
    seed: int = 0,
    task: str = "A",
    **meta,
) -> PromptTree:
    """``prompts-tree/<mode>``: C = 64 prompts, each a V = 4, T = 4 token tree (256 sequences).

    Why: the multi-prompt bandits have one step per episode, so an update on a prompt moves its
    answers only through the shared parameters; in a language model the same parameters also
    serve every prefix of every prompt, credit is assigned to whole sequences and the correct set
    is a set of sequences. Here prompt c is the ``tree/<mode>`` preset built with construction
    seed ``seed``·C + c (its own ``num_correct`` correct sequences and calibrated / uncorrelated
    / anti logits on their paths, see :func:`build_tree`), so prompts differ in difficulty, a
    shared-parameter policy (lowrank: U per (prompt, prefix) state × V per token; mlp over the
    state) couples prefixes across prompts, and H_max(J) (token entropy ceiling, the bandit
    ceiling over V^T sequences divided by T) is a column. ``mixed``: calibrated on a random half
    of the prompts and anti on the rest (construction ``seed``), so some prompts are solved
    early and others hold their correct sequences at p_c ~ 1e-3, the regime where pass@k can
    fall while pass@1 rises. Task B: each prompt's tree task B (half of the correct sequences
    kept, the rest fresh draws); the initial logits stay task A's.

    Initial numbers (defaults; ``describe``, p_c: 10/50/90% quantiles over prompts):

    ==========================  =====  =======  =======  ========  =====================
    id                          H      pass@1   pass@64  pass@256  p_c
    ==========================  =====  =======  =======  ========  =====================
    prompts-tree/calibrated     1.077  0.347    1.000    1.000     0.320 / 0.349 / 0.374
    prompts-tree/uncorrelated   1.194  0.0457   0.945    1.000     0.039 / 0.045 / 0.054
    prompts-tree/anti           1.097  1.4e-3   0.0874   0.300     9e-4 / 1.3e-3 / 2.2e-3
    prompts-tree/mixed          1.089  0.191    0.588    0.687     1e-3 / 0.314 / 0.365
    ==========================  =====  =======  =======  ========  =====================

    H_max(J = 1) = log 8 / 4 = 0.520 nats (defaults): a solved policy keeps at most half of the
    initial token entropy (the ceiling binds, unlike ``prompts-many``).
    """
    _check_common("calibrated" if mode == "mixed" else mode, task, seed)
    c = check_count("num_prompts", num_prompts)
    if mode == "mixed":
        calibrated = torch.rand(c, generator=torch.Generator().manual_seed(seed)) < 0.5
        modes = ["calibrated" if bool(x) else "anti" for x in calibrated]
    else:
        modes = [mode] * c
    trees = [build_tree(m, vocab_size=vocab_size, horizon=horizon, num_correct=num_correct,
                        noise=noise, bonus=bonus, seed=seed * c + i, task=task)
             for i, m in enumerate(modes)]
    rewards = torch.stack([t.leaf_rewards for t in trees])
    logits = torch.cat([t.base_logits for t in trees])
    return PromptTree(vocab_size, horizon, rewards, init_logits=logits, init_noise=init_noise,
                      task=task, **meta)


_register("prompts-tree", build_prompt_tree, modes=(*MODES, "mixed"))
_register("mdp", build_mdp)


# ------------------------------------------------------------------------------------ prompts
# Multi-prompt bandits (entropy_lab/problems/prompt_presets.py; the builders say why each exists).
_register("prompts-many", build_many)
_register("prompts-llm", build_llm, modes=("calibrated", "anti"))
_register("prompts-bottleneck", build_bottleneck, modes=("calibrated",))
