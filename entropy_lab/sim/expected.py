"""Exact expected updates: the expectation over a batch of the sampled policy-gradient estimator.

Expected mode replaces "sample N·G sequences, score, compute advantages, take the loss's gradient"
by the exact expectation of that gradient, so a run is deterministic and its dynamics are the
mean-field dynamics of the sampled run. Two estimators are exact:

``exact_pg`` (advantage ``reinforce`` or ``rloo``). With a baseline that does not depend on the
sample itself (none, a constant, or RLOO's leave-one-out mean) E[A·∇log π(y)] = ∇J, so

    vanilla:  g = c_agg·∇_z J                         (``problem.grad_J``)
    natural:  g = c_agg·(Q(s, a) − V(s))              (``problem.action_values``; V = E_π Q)

The natural form is the tabular Fisher-preconditioned step (Kakade 2001): the state-visitation
weights of ∇J cancel against those of the Fisher matrix.

``group_binary`` (any group advantage, e.g. ``grpo`` or ``dr_grpo``; rewards must be binary).
A sample's advantage depends only on its own reward and on X, the number of correct samples among
the other G − 1 of its group: A = a⁺(X + 1) if it is correct, a⁻(X) if not, where a⁺(c), a⁻(c) are
the advantages of a correct / incorrect sample in a group with c correct ones. Conditioning on the
other samples (independent of y), Σ_y π(y)·A(y)·∇log π(y) = a⁺·∇p + a⁻·∇(1 − p) = (a⁺ − a⁻)·∇p, so

    E[A·∇log π(y)] = w(p)·∇p,    w(p) = Σ_{j=0}^{G−1} Binom(j; G − 1, p)·(a⁺(j + 1) − a⁻(j)),

with p = P(correct | prompt). Summing over prompts: g = c_agg·Σ_c P(prompt c)·w(p_c)·∇p_c, one
backward pass through ``problem.success_prob`` with w detached. a⁺ and a⁻ are read off the
algorithm's own advantage function applied to the G + 1 canonical groups (c ones, G − c zeros), so
any permutation-equivariant group estimator is covered (all-equal groups give their own value,
e.g. 0 for GRPO).

c_agg converts the per-sequence surrogate (1/G)·Σ_i A_i·Σ_t ∇log π to the loss's aggregation: 1
for ``seq-mean-token-sum``, 1/norm for ``seq-mean-token-sum-norm`` (norm = T when unset), and
1/T for the mean aggregations where every sequence has length T (bandits, token trees). On
variable-length problems (an MDP with terminal states) the mean aggregations weight a sequence
by its length: ``seq-mean-token-mean`` by 1/len (exact, through the problem's dynamic
programme) and ``token-mean`` by 1/E_π[len] (its large-batch limit); c_agg is then a
``LengthWeighting`` evaluated at every step (entropy_lab/sim/aggregation_weights.py).
"""

from __future__ import annotations

from math import comb

import torch

from entropy_lab.algorithms.recipe import Algorithm
from entropy_lab.registry import Registry
from entropy_lab.sim.aggregation_weights import PER_BATCH, LengthWeighting, sequence_weighting
from entropy_lab.validation import InputError, fail

# estimator name -> fn(problem, algorithm, logits [B, S, K] leaf, config, scale, before)
#   -> grad [B, S, K]; before: the loop's Snapshot at these logits (or None)
EXPECTED = Registry("expected-mode estimator")
# advantage name -> the estimator whose expectation it is
ESTIMATOR_FOR_ADVANTAGE = {
    "reinforce": "exact_pg",
    "rloo": "exact_pg",
    "grpo": "group_binary",
    "dr_grpo": "group_binary",
}


def aggregation_factor(
    algorithm: Algorithm, problem, geometry: str = "vanilla"
) -> float | LengthWeighting:
    """c_agg: a float where the aggregation weights every sequence alike (always on fixed-length
    problems), else a ``LengthWeighting`` (module docstring and
    entropy_lab/sim/aggregation_weights.py).

    Raises:
        InputError: no exact expected form of the aggregation on this problem (and geometry).
    """
    return sequence_weighting(algorithm, problem, geometry)


def estimator_for(algorithm: Algorithm, geometry: str = "vanilla") -> str:
    """The expected-mode estimator for an algorithm, or an InputError saying why there is none."""
    adv, name = algorithm.advantage, algorithm.name
    if adv not in ESTIMATOR_FOR_ADVANTAGE:
        raise fail("algorithm", name, "in expected mode an advantage among "
                   f"{sorted(ESTIMATOR_FOR_ADVANTAGE)} (got advantage {adv!r})")
    if algorithm.shaping is not None:
        raise fail("algorithm", name, "no advantage shaping in expected mode (got "
                   f"{algorithm.shaping!r}); use mode='sampled'")
    if not algorithm.on_policy:
        raise fail("algorithm", name, "epochs × minibatches == 1 in expected mode (got "
                   f"{algorithm.epochs * algorithm.minibatches}); off-policy steps need "
                   "mode='sampled'")
    if not algorithm.pg_at_ratio_one:
        raise fail("algorithm", name, "in expected mode a loss whose gradient at ratio 1 is the "
                   f"policy gradient (a loss declaring pg_limit; got {algorithm.loss_name!r} "
                   "with its hyperparameters); use mode='sampled'")
    estimator = ESTIMATOR_FOR_ADVANTAGE[adv]
    if geometry == "natural" and estimator != "exact_pg":
        raise fail("geometry", geometry, f"'vanilla' for advantage {adv!r} (the natural "
                   "geometry is defined for exact-advantage REINFORCE: reinforce, rloo)")
    return estimator


def binomial_pmf(p: torch.Tensor, n: int) -> torch.Tensor:
    """Binom(j; n, p) for j = 0..n.

    Args:
        p: ``[...]`` probabilities.
    Returns:
        ``[..., n + 1]``.
    """
    j = torch.arange(n + 1, dtype=p.dtype, device=p.device)
    coef = torch.tensor([float(comb(n, i)) for i in range(n + 1)], dtype=p.dtype, device=p.device)
    p_ = p.unsqueeze(-1)
    return coef * p_.pow(j) * (1.0 - p_).pow(n - j)


def canonical_group_advantages(advantage_fn, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """a⁺(c) for c = 1..G and a⁻(c) for c = 0..G−1, from the estimator on c ones and G − c zeros.

    Args:
        advantage_fn: ``rewards [..., N, G] -> advantages [..., N, G]``.
    Returns:
        ``(a_pos [G], a_neg [G])`` float64 with a_pos[j] = a⁺(j + 1), a_neg[j] = a⁻(j).
    """
    g = group_size
    c = torch.arange(g + 1).unsqueeze(-1)
    rewards_cg = (torch.arange(g).unsqueeze(0) < c).to(torch.float64)  # row c: c ones first
    adv_cg = advantage_fn(rewards_cg).to(torch.float64)
    return adv_cg[1:, 0], adv_cg[:-1, g - 1]


def group_binary_weight(p: torch.Tensor, a_pos: torch.Tensor, a_neg: torch.Tensor) -> torch.Tensor:
    """w(p) = Σ_j Binom(j; G − 1, p)·(a⁺(j + 1) − a⁻(j)), so that E[A·∇log π] = w(p)·∇p.

    Args:
        p: ``[...]`` success probabilities.
        a_pos, a_neg: ``[G]`` from :func:`canonical_group_advantages`.
    Returns:
        ``[...]``.
    """
    pmf = binomial_pmf(p, a_pos.shape[0] - 1)
    return (pmf * (a_pos - a_neg)).sum(-1)


def mean_group_advantages(
    p: torch.Tensor, a_pos: torch.Tensor, a_neg: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """ā⁺ = Σ_j Binom(j; G − 1, p)·a⁺(j + 1) and ā⁻ = Σ_j Binom(j; G − 1, p)·a⁻(j): the expected
    advantage of a correct / incorrect sample (w(p) = ā⁺ − ā⁻).

    Args:
        p: ``[...]`` success probabilities.
        a_pos, a_neg: ``[G]`` from :func:`canonical_group_advantages`.
    Returns:
        ``(ā⁺ [...], ā⁻ [...])``.
    """
    pmf = binomial_pmf(p, a_pos.shape[0] - 1)
    return (pmf * a_pos).sum(-1), (pmf * a_neg).sum(-1)


def check_binary_rewards(problem, logits: torch.Tensor) -> None:
    """J = Σ_c P(c)·p_c holds for binary rewards; the group estimator's expectation needs it."""
    with torch.no_grad():
        j_b = problem.expected_reward(logits)
        p_b = (problem.success_prob(logits) * problem.prompt_probs.to(logits.dtype)).sum(-1)
    if not torch.allclose(j_b, p_b, rtol=1e-9, atol=1e-12):
        raise InputError(
            f"mode='expected' with a group advantage needs binary rewards: the problem's "
            f"J={j_b[0].item():.6g} differs from its success probability {p_b[0].item():.6g}; "
            "use mode='sampled'"
        )


@EXPECTED.register("exact_pg")
def exact_pg_grad(problem, algorithm, logits, config, scale: float, before=None) -> torch.Tensor:
    """Loss gradient −c_agg·∇J (vanilla) or −c_agg·(Q − V) (natural); ``[B, S, K]``
    (``before`` unused: the problem's ∇J is already closed-form where it has one).

    With a ``LengthWeighting`` (variable lengths): the per-batch limit or the per-sequence form
    of entropy_lab/sim/aggregation_weights.py.
    """
    if isinstance(scale, LengthWeighting):
        if scale.kind == PER_BATCH:
            unit = exact_pg_grad(problem, algorithm, logits, config, 1.0)
            return scale.per_batch(problem, logits, unit)
        return scale.exact_pg(problem, algorithm.advantages, logits, config)
    with torch.no_grad():
        if config.geometry == "natural":
            q_bsk = problem.action_values(logits)
            v_bs = (torch.softmax(logits, -1) * q_bsk).sum(-1, keepdim=True)
            return -scale * (q_bsk - v_bs)
        return -scale * problem.grad_J(logits)


@EXPECTED.register("group_binary")
def group_binary_grad(problem, algorithm, logits, config, scale: float,
                      before=None) -> torch.Tensor:
    """Loss gradient −c_agg·Σ_c P(c)·w(p_c)·∇p_c by one backward pass; ``[B, S, K]``.

    ``before``: the snapshot at ``logits``; where it carries the problem's closed forms
    (``success``, ``success_grad``: token trees) p_c and the gradient come from them, no
    autograd pass.

    With a ``LengthWeighting`` (variable lengths): the per-batch limit or the per-sequence form
    of entropy_lab/sim/aggregation_weights.py.
    """
    a_pos, a_neg = canonical_group_advantages(algorithm.advantages, config.group_size)
    if isinstance(scale, LengthWeighting):
        if scale.kind == PER_BATCH:
            unit = group_binary_grad(problem, algorithm, logits, config, 1.0)
            return scale.per_batch(problem, logits, unit)
        with torch.no_grad():
            mean_pos, mean_neg = mean_group_advantages(problem.success_prob(logits), a_pos, a_neg)
        return scale.group_binary(problem, logits, config, mean_pos, mean_neg)
    if before is not None and before.success_grad is not None:
        w_bc = group_binary_weight(before.success, a_pos, a_neg)
        return before.success_grad(-scale * w_bc * problem.prompt_probs.to(w_bc.dtype))
    z = logits.detach().requires_grad_(True)
    with torch.enable_grad():
        p_bc = problem.success_prob(z)
        w_bc = group_binary_weight(p_bc.detach(), a_pos, a_neg)
        coef_bc = w_bc * problem.prompt_probs.to(p_bc.dtype)
        surrogate = (coef_bc * p_bc).sum()  # seeds never interact: a sum of per-seed terms
        (grad,) = torch.autograd.grad(surrogate, z)
    return -scale * grad
