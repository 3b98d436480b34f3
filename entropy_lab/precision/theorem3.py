"""Theorem 3, precise form: what sampling, the old-log-prob convention and rounding do to E[r].

One context, K tokens. The trainer's distribution p = π_t, the sampler's q = π_s (q > 0 where
p > 0), the exact policy π. Reported log-probs ℓ̂_s(y) = log q(y) + e_s(y), ℓ̂_t(y) = log p(y) +
e_t(y), e the rounding of the stored value (0 if exact). The first-minibatch ratio is
r = exp(ℓ̂_θ − old) with ℓ̂_θ = ℓ̂_t at θ = θ_old (conventions in
:mod:`entropy_lab.algorithms.conventions`).

(i)  Bypass (``rollout``), faithful sampling y ~ q, exact log-probs:
         E_{y∼q}[p(y)/q(y)] = Σ_y p(y) = 1,
     exactly, for every q: no sampler/trainer mismatch, however large, moves the mean ratio.
(i') Normalisation. If the sampler draws from q = e^{λ_s}/Z_s and stores λ_s itself (no output
     cast), and the trainer stores λ_t, with Z = Σ_y e^{λ(y)} of each path's stored full-vocab
     log-probs: E_{y∼q}[e^{λ_t − λ_s}] = Z_t/Z_s. Bypass is unbiased iff both stored
     log-prob vectors are equally normalised. A low-precision unfused kernel z − logsumexp(z)
     rounds the logsumexp once per row, a row-shared error that is not mean-zero on peaked rows
     (lse − z_top = −log p_top is below the bf16 spacing at |z_top|): the bf16 end-to-end
     pipeline's measured bypass bias is this term, downward (``normalisation_ratio``).
(ii) Rounding on top of (i): E_{y∼q}[r] = Σ_y p(y)·E[e^{e_t(y) − e_s(y)}]. Under the rounding
     model e = u·s_y (u ~ U[−½, ½], s_y the dtype's spacing at |ℓ(y)|, independent sides):
         E[r] − 1 = Σ_y p(y)·[Π_{rounded sides} sinh(s_y/2)/(s_y/2) − 1]
                  ≈ Σ_y p(y)·k·s_y²/24        (k = number of sides that round: 1 or 2),
     upward and second order; s = ε·2^⌊log2|ℓ|⌋ grows with |ℓ| (bf16, ε = 2^-7: s = 2^-4 for
     ℓ ∈ [−16, −8), k = 2 gives 3.3e-4 on those tokens). Two roundings of values only δ apart
     (one network, two reduction orders) coincide except with probability ≈ |δ|/s: smaller
     (``predict.correlated_bias``).
(iii) Diagnostic sampling y ~ π (``exact_pi_diagnostic``): with a = log p − log π,
     b = log q − log π,
         E_{y∼π}[p/q] = Σ_y π e^{a−b} = 1 + E_π[b²] − E_π[ab] + O(|a|³ + |b|³),
     and for p = π exactly Σ π²/q − 1 = χ²(π‖q) ≥ 0. The upward bias is the sampler's mean
     squared log-prob error: an artefact of drawing tokens from a distribution the sampler
     does not have. (Proof: Σ π e^a = 1 gives E_π a = −½E_π a² + O(a³), likewise b; expand.)
(iv) ``recompute``: old = the trainer's own forward at θ_old, so r = exp(e_A − e_B) for the
     update's and the recompute's reduction orders A, B, independent of q: r = 1 *exactly* when
     the recompute is the update's layout (A = B), and otherwise
     E[r] − 1 = E[e_A − e_B] + ½E[(e_A − e_B)²] + O(|e|³) (upward when the orders' errors have
     equal means).
     The mismatch q ≠ p is then not in r at all: the update is off-policy by the missing weight
     ρ = p/q.
(v)  ``recompute+tis`` (w = min(ρ, C)) and ``recompute+icepop`` (w = 1[α ≤ ρ ≤ β]), exact
     log-probs, y ~ q:
         E_q[min(ρ, C)] = 1 − E_q[(ρ − C)₊] ≤ 1,      E_q[1[α ≤ ρ ≤ β]] = 1 − q(ρ ∉ [α, β]),
     downward by the truncated excess / the masked sampler mass (min(ρ, C) = ρ − (ρ − C)₊ and
     E_q ρ = Σ p = 1).
(vi) Selection, bin-conditional: over a population of contexts whose paths' errors are random
     (network noise, independent between the paths), and any token set B fixed without the noise
     (e.g. a bin of exact log π), faithful sampling gives
         E[r | y ∈ B] = E[p(B)] / E[q(B)],
     since the noise given that y was drawn is tilted by q(y): tokens whose sampler probability is
     over-estimated are over-sampled and then carry r < 1. Identically distributed errors on the
     two paths give 1 in every bin; otherwise, to second order in independent logit errors of
     variance v_b, log E[q(y)]/π(y) = m + V_y/2 with m = −½Σ_b π_b(1 − π_b)v_b and
     V_y = v_y(1 − π_y)² + Σ_{b≠y} π_b² v_b (log-normal approximation of the expanded
     log-softmax), so E[r | y] − 1 ≈ exp((m + V_y/2)_t − (m + V_y/2)_s) − 1: a noisier sampler
     biases a token down where m + V_y/2 > 0, e.g. the rare tokens of a peaked row, whose
     log-prob carries the top logit's error (V_y ≥ π_top²·v_top while m is small), and up
     where m dominates.

What the summarised paper claim ("computing r in bf16 biases it upward") is consistent with:
(ii), independent rounding of stored log-probs, upward by Σ p·k·s²/24 and larger on rare tokens
— a second-order term. The larger network-level "upward bias" seen when tokens are drawn from the
exact π is (iii), absent from an engine that samples its own distribution (i); a bf16 kernel that
stores unnormalised log-probs gives (i'), whose sign is set by the kernels, not by Jensen. See
``docs/theory.md``, "Theorem 3"; checked by ``claim08_theorem3``.
"""

from __future__ import annotations

import torch

from entropy_lab.precision.predict import one_sided_bias
from entropy_lab.validation import InputError, check_number

F64 = torch.float64


def _lp(name: str, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim < 1 or x.shape[-1] < 2:
        raise InputError(f"{name} must be a tensor [..., K] with K >= 2 of log-probs; got "
                         f"{type(x).__name__}{list(getattr(x, 'shape', []))}")
    return x.to(F64)


def population_ratio_mean(logp_t: torch.Tensor, logp_s: torch.Tensor,
                          logp_draw: torch.Tensor | None = None) -> torch.Tensor:
    """E_{y∼d}[exp(ℓ_t(y) − ℓ_s(y))] ``[...]`` summed over the vocabulary in float64.

    Args:
        logp_t, logp_s: ``[..., K]`` the trainer's and sampler's (reported) log-probs.
        logp_draw: ``[..., K]`` log-weights of the distribution y is drawn from (normalised
            here); default: the sampler's own, ``logp_s`` (faithful sampling).
    """
    t, s = _lp("logp_t", logp_t), _lp("logp_s", logp_s)
    d = torch.log_softmax(s if logp_draw is None else _lp("logp_draw", logp_draw), -1)
    return (torch.exp(d) * torch.exp(t - s)).sum(-1)


def normalisation_ratio(sampler_all: torch.Tensor, trainer_all: torch.Tensor) -> torch.Tensor:
    """Z_t/Z_s ``[...]``, Z = Σ_y exp(ℓ(y)) of each path's stored log-probs ``[..., K]`` (any
    dtype, summed in float64): E_{y∼q}[r] under bypass when q = e^{ℓ_s}/Z_s, (i')."""
    z_s = torch.exp(_lp("sampler_all", sampler_all)).sum(-1)
    return torch.exp(_lp("trainer_all", trainer_all)).sum(-1) / z_s


def chi_square(logp_pi: torch.Tensor, logp_q: torch.Tensor) -> torch.Tensor:
    """χ²(π‖q) = Σ_y (π − q)²/q ``[...]`` for log-probs ``[..., K]`` (float64)."""
    p, q = torch.exp(_lp("logp_pi", logp_pi)), torch.exp(_lp("logp_q", logp_q))
    return ((p - q) ** 2 / q).sum(-1)


def diagnostic_leading_order(logp_pi, logp_t, logp_s) -> torch.Tensor:
    """E_π[b²] − E_π[ab] ``[...]``: the leading order of E_{y∼π}[p/q] − 1, (iii).

    a = log p − log π, b = log q − log π, all ``[..., K]``.
    """
    lpi = _lp("logp_pi", logp_pi)
    a, b = _lp("logp_t", logp_t) - lpi, _lp("logp_s", logp_s) - lpi
    pi = torch.exp(lpi)
    return (pi * (b * b - a * b)).sum(-1)


def rounding_population_bias(logp_t: torch.Tensor, spacing_s: torch.Tensor | None,
                             spacing_t: torch.Tensor | None) -> torch.Tensor:
    """Σ_y p(y)·[Π_sides sinh(s/2)/(s/2) − 1] ``[...]``: (ii) under the rounding model.

    ``spacing_*`` ``[..., K]`` (None: that side does not round) are the spacings at each token's
    stored log-prob; ``logp_t`` ``[..., K]`` the trainer's exact log-probs.
    """
    p = torch.exp(_lp("logp_t", logp_t))
    factor = torch.ones_like(p)
    for s in (spacing_s, spacing_t):
        if s is not None:
            factor = factor * (1 + one_sided_bias(s.to(F64)))
    return (p * (factor - 1)).sum(-1)


def tis_population_mean(logp_old: torch.Tensor, logp_s: torch.Tensor, cap: float):
    """(E_q[min(ρ, C)], 1 − E_q[(ρ − C)₊]) ``[...]`` with ρ = exp(ℓ_old − ℓ_s), y ~ q = e^{ℓ_s}:
    the two sides of (v) for TIS, computed independently."""
    check_number("cap", cap, lo=0.0, lo_open=True)
    old, s = _lp("logp_old", logp_old), _lp("logp_s", logp_s)
    q, rho = torch.exp(s), torch.exp(old - s)
    return (q * rho.clamp(max=cap)).sum(-1), 1 - (q * (rho - cap).clamp(min=0)).sum(-1)


def icepop_population_mean(logp_old: torch.Tensor, logp_s: torch.Tensor, band=(0.5, 5.0)):
    """(E_q[1[α ≤ ρ ≤ β]], 1 − q(ρ ∉ [α, β])) ``[...]``: the two sides of (v) for IcePop."""
    lo, hi = band
    if not 0 <= lo < 1 < hi:
        raise InputError(f"band={band!r} is not allowed: expected (α, β) with 0 ≤ α < 1 < β")
    old, s = _lp("logp_old", logp_old), _lp("logp_s", logp_s)
    q, rho = torch.exp(s), torch.exp(old - s)
    keep = (rho >= lo) & (rho <= hi)
    return (q * keep).sum(-1), 1 - (q * ~keep).sum(-1)


def selection_log_mean(logits: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """m + V_y/2 ``[..., K]``: the second-order log E[q(y)]/π(y) for independent logit errors of
    variance ``var`` ``[..., K]`` on logits ``[..., K]`` ((vi); m = −½Σ_b π_b(1 − π_b)v_b,
    V_y = v_y(1 − π_y)² + Σ_{b≠y} π_b² v_b)."""
    pi = torch.softmax(logits.to(F64), -1)
    v = var.to(F64)
    m = -0.5 * (pi * (1 - pi) * v).sum(-1, keepdim=True)
    big_v = v * (1 - pi) ** 2 + (pi**2 * v).sum(-1, keepdim=True) - pi**2 * v
    return m + big_v / 2


def selection_bias(logits: torch.Tensor, var_s: torch.Tensor, var_t: torch.Tensor):
    """E[r | y] − 1 ``[..., K]`` to second order under faithful sampling, (vi):
    exp(selection_log_mean(var_t) − selection_log_mean(var_s)) − 1."""
    return torch.expm1(selection_log_mean(logits, var_t) - selection_log_mean(logits, var_s))
