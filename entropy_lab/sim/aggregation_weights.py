"""How a loss aggregation weights each sequence, and the exact expected update it implies.

At ratio 1 every policy-gradient loss has per-token gradient −A_i·∇log π(a_t|s_t), so an
aggregation (entropy_lab/algorithms/aggregation.py) turns a batch of B sequences into

    seq-mean-token-sum       −(1/B) Σ_i A_i ∇log π(y_i)                 weight 1
    seq-mean-token-sum-norm  −(1/B) Σ_i A_i ∇log π(y_i) / norm          weight 1/norm (T if None)
    seq-mean-token-mean      −(1/B) Σ_i A_i ∇log π(y_i) / len(y_i)      weight 1/len: per sequence
    token-mean               −Σ_i A_i ∇log π(y_i) / Σ_i len(y_i)        weight 1/Σ len: per batch

The first two are constants, so the expected update is c·E[A ∇log π(y)] (entropy_lab/sim/expected.py
gives E[A ∇log π(y)] in closed form). The last two are constants only where every episode has
length T (bandits, token trees: c = 1/T, exact). On variable-length problems:

- ``seq-mean-token-mean`` is exact: f(len) = 1/len is a function of the sequence, so
  E[A·f(len)·∇log π(y)] is a policy gradient of length-weighted expectations, computed by the
  problem's dynamic programme (``problem.length_moments``). With X the number of correct samples
  among the other G − 1 of the group and a±, w as in entropy_lab/sim/expected.py,

      group advantages:  E[A f ∇log π] = ā⁺·∇E[f·1{correct}] + ā⁻·∇E[f·1{incorrect}],
                         ā⁺ = Σ_j Binom(j; G−1, p)·a⁺(j+1),  ā⁻ = Σ_j Binom(j; G−1, p)·a⁻(j);
      affine advantages  A_i = a₀ + α r_i + Σ_{j≠i} M_ij r_j  (reinforce, rloo):
                         E[A f ∇log π] = α·∇E[f·R] + (a₀ + J_c·Σ_{j≠i} M_ij)·∇E[f],

  per prompt c, weighted by P(c) (with f ≡ 1/T these reduce to the fixed-length forms). The
  natural geometry (the tabular Fisher step on Q − V) has no such form and is refused.
- ``token-mean`` uses the large-batch limit Σ_i len(y_i)/B → E_π[len], i.e. the weight 1/E_π[len]
  recomputed at every step. It is the expectation of the sampled update only as the batch grows:
  at a finite batch E[Σ A ∇log π / Σ len] differs by O(1/B) (docs/algorithms.md,
  "Aggregation in expected mode").

An aggregation registered in entropy_lab/algorithms/aggregation.py without an entry here is
refused in expected mode on variable-length problems, naming the aggregation and the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from entropy_lab.registry import Registry
from entropy_lab.validation import InputError, fail

CONSTANT, PER_SEQUENCE, PER_BATCH = "constant", "per-sequence", "per-batch"


@dataclass(frozen=True)
class AggregationWeight:
    """How one aggregation weights a sequence of length ℓ.

    Attributes:
        kind: ``constant`` (``weight(ℓ, T, norm)`` does not depend on ℓ), ``per-sequence`` (a
            function of the sequence's own length) or ``per-batch`` (1/E_π[len] in the
            large-batch limit).
        weight: ``(lengths [L] float64, horizon T, norm) -> [L]`` f(ℓ); unused for per-batch.
    """

    kind: str
    weight: Callable[[torch.Tensor, int, float | None], torch.Tensor] | None = None


AGG_WEIGHTS: Registry[AggregationWeight] = Registry("aggregation weight")
AGG_WEIGHTS.register("seq-mean-token-sum", AggregationWeight(
    CONSTANT, lambda ell, t, norm: torch.ones_like(ell)))
AGG_WEIGHTS.register("seq-mean-token-sum-norm", AggregationWeight(
    CONSTANT, lambda ell, t, norm: torch.full_like(ell, 1.0 / float(t if norm is None else norm))))
AGG_WEIGHTS.register("seq-mean-token-mean", AggregationWeight(
    PER_SEQUENCE, lambda ell, t, norm: torch.where(ell > 0, 1.0 / ell.clamp(min=1), 0.0)))
AGG_WEIGHTS.register("token-mean", AggregationWeight(PER_BATCH))


@dataclass(frozen=True)
class LengthWeighting:
    """The per-step weighting of a length-dependent aggregation on a variable-length problem.

    Attributes:
        agg: the aggregation name.
        kind: ``per-sequence`` or ``per-batch`` (see :class:`AggregationWeight`).
        weights: ``[T + 1]`` f(ℓ) for ℓ = 0..T (per-sequence only).
        problem: the problem's name (for messages).
    """

    agg: str
    kind: str
    weights: torch.Tensor | None
    problem: str

    def check_geometry(self, geometry: str) -> None:
        """Per-sequence weights have no natural-geometry form: refuse it."""
        if self.kind == PER_SEQUENCE and geometry != "vanilla":
            raise fail("geometry", geometry, f"'vanilla' with aggregation {self.agg!r} on the "
                       f"variable-length problem {self.problem!r} (the natural step is defined "
                       "for constant sequence weights: use agg='seq-mean-token-sum', "
                       "'seq-mean-token-sum-norm' or 'token-mean')")

    def per_batch(self, problem, logits: torch.Tensor, grad_unit: torch.Tensor) -> torch.Tensor:
        """``token-mean``'s large-batch limit: the weight-1 gradient ``[B, S, K]`` / E_π[len]."""
        with torch.no_grad():
            mean_len_b = problem.expected_length(logits)
        return grad_unit / mean_len_b[:, None, None]

    def exact_pg(self, problem, advantage_fn, logits: torch.Tensor, config) -> torch.Tensor:
        """Loss gradient −Σ_c P(c)·∇[α·E_c[f·R] + (a₀ + m·J_c)·E_c[f]] (module docstring) for an
        affine advantage; ``[B, S, K]``."""
        self.check_geometry(config.geometry)
        alpha, m, a0 = affine_advantage(advantage_fn, config.group_size)
        with torch.no_grad():
            j_bc = problem.length_moments(logits, torch.ones_like(self.weights))["reward"]
        return self._grad(problem, logits, lambda mom: alpha * mom["reward"]
                          + (a0 + m * j_bc) * mom["weight"])

    def group_binary(self, problem, logits: torch.Tensor, config, mean_pos: torch.Tensor,
                     mean_neg: torch.Tensor) -> torch.Tensor:
        """Loss gradient −Σ_c P(c)·∇[(ā⁺ − ā⁻)·E_c[f·1{correct}] + ā⁻·E_c[f]] (module
        docstring); ``mean_pos``, ``mean_neg``: ``[B, C]`` ā⁺, ā⁻ at the current p_c.
        Returns ``[B, S, K]``."""
        self.check_geometry(config.geometry)
        return self._grad(problem, logits, lambda mom: (mean_pos - mean_neg) * mom["success"]
                          + mean_neg * mom["weight"])

    def _grad(self, problem, logits: torch.Tensor, surrogate_fn) -> torch.Tensor:
        """−∇ Σ_c P(c)·surrogate_fn(length moments)_c by one backward pass (seeds separate)."""
        z = logits.detach().requires_grad_(True)
        with torch.enable_grad():
            surrogate_bc = surrogate_fn(problem.length_moments(z, self.weights))
            surrogate = (surrogate_bc * problem.prompt_probs.to(z.dtype)).sum()
            (grad,) = torch.autograd.grad(surrogate, z)
        return -grad


def sequence_weighting(algorithm, problem, geometry: str = "vanilla") -> float | LengthWeighting:
    """The aggregation's weight of a sequence: a float where it is a constant, else a
    :class:`LengthWeighting` evaluated at every step.

    Fixed-length problems (``problem.fixed_length``) always get the float f(T) (1/T for the
    length-normalised modes), so their expected mode is what it was before lengths were weighted.

    Raises:
        InputError: an aggregation without a registered weight on a variable-length problem, or
            the natural geometry with a per-sequence weight.
    """
    agg = algorithm.agg
    norm = (algorithm.loss_hp or {}).get("agg_norm")
    if agg == "seq-mean-token-sum":
        return 1.0
    if agg == "seq-mean-token-sum-norm" and norm is not None:
        return 1.0 / float(norm)
    if problem.fixed_length:
        return 1.0 / problem.horizon
    name = problem.name
    if agg not in AGG_WEIGHTS:
        raise InputError(
            f"mode='expected' has no exact form of aggregation {agg!r} on the variable-length "
            f"problem {name!r}: use one of {AGG_WEIGHTS.names()}, or mode='sampled'")
    entry = AGG_WEIGHTS.get(agg)
    if entry.kind == CONSTANT:
        return float(entry.weight(torch.ones(1, dtype=torch.float64), problem.horizon, norm)[0])
    lengths = torch.arange(problem.horizon + 1, dtype=torch.float64)
    weights = entry.weight(lengths, problem.horizon, norm) if entry.kind == PER_SEQUENCE else None
    out = LengthWeighting(agg, entry.kind, weights, name)
    out.check_geometry(geometry)
    return out


def affine_advantage(advantage_fn, group_size: int) -> tuple[float, float, float]:
    """(α, m, a₀) with A_i = a₀ + α·r_i + Σ_{j≠i} M_ij·r_j and m = Σ_{j≠i} M_ij, the same for
    every i (a permutation-equivariant affine estimator: reinforce, rloo).

    Read off the estimator on the zero group and the G unit groups, then checked on a random
    group.

    Args:
        advantage_fn: ``rewards [..., N, G] -> advantages [..., N, G]``.
    Returns:
        ``(α, m, a₀)`` floats.
    Raises:
        InputError: the estimator is not of that form (its expectation is then not the one of
            the module docstring).
    """
    g = group_size
    groups = torch.cat([torch.zeros(1, g, dtype=torch.float64),
                        torch.eye(g, dtype=torch.float64)], 0)
    adv = advantage_fn(groups).to(torch.float64)
    a0_i = adv[0]
    m_ji = adv[1:] - a0_i  # m_ji[j, i] = ∂A_i/∂r_j
    alpha_i = m_ji.diagonal()
    off_i = m_ji.sum(0) - alpha_i
    probe = torch.rand(1, g, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    affine = torch.allclose(advantage_fn(probe).to(torch.float64)[0], a0_i + probe[0] @ m_ji,
                            rtol=0, atol=1e-10)
    for values in (a0_i, alpha_i, off_i):
        affine = affine and torch.allclose(values, values[:1].expand_as(values), rtol=0,
                                           atol=1e-12)
    if not affine:
        raise InputError("mode='expected' with a per-sequence length weight needs an advantage "
                         "affine in the rewards (reinforce, rloo) or a group advantage on binary "
                         "rewards; use mode='sampled'")
    return float(alpha_i[0]), float(off_i[0]), float(a0_i[0])
