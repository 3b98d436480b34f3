"""Theorem 2: how far entropy can move when every importance ratio stays in the clip band.

Premise: π_new = r·π with every r_a ∈ [1 − ε_low, 1 + ε_high] (and Σ_a r_a π_a = 1).

Exact identity (docs/theory.md, "Theorem 2"), with h_a = −π_a log π_a ≥ 0 and KL(π_new‖π) = Σ_a π_a
r_a log r_a:

    H(π_new) = Σ_a r_a h_a − KL(π_new‖π).                                             (1)

Upper end. Σ r_a h_a ≤ (1 + ε_high)·H and KL ≥ 0, so H(π_new) ≤ (1 + ε_high)·H.

Lower end from (1) (the "rigorous" form). Σ r_a h_a ≥ (1 − ε_low)·H and
KL = E_{π_new}[log r] ≤ log(1 + ε_high), so H(π_new) ≥ (1 − ε_low)·H − log(1 + ε_high).

The paper's lower end (1 − ε_low)·H always holds — proof by concavity. Since r_a ≥ 1 − ε_low,

    q = (π_new − (1 − ε_low)·π) / ε_low

is a probability vector (non-negative, sums to (1 − (1 − ε_low))/ε_low = 1), and
π_new = (1 − ε_low)·π + ε_low·q is a mixture. H is concave, so

    H(π_new) ≥ (1 − ε_low)·H(π) + ε_low·H(q) ≥ (1 − ε_low)·H(π).                       (2)

Symmetrically π = π_new/(1 + ε_high) + (ε_high/(1 + ε_high))·q' with q' ≥ 0, giving the upper
end again with a slack: H(π_new) ≤ (1 + ε_high)·H(π) − ε_high·H(q'). Neither proof uses the
other side of the band. Both ends are sharp: with π_j = 1 − δ, every other action at
r = 1 − ε_low (resp. 1 + ε_high) and δ → 0, H(π_new)/H(π) → 1 − ε_low (resp. 1 + ε_high),
slowly (the gap shrinks like 1/log(1/δ)). So the paper form is the tight, valid bound and the
form derived from (1) is looser by log(1 + ε_high) at the bottom. A numerical search (SLSQP
from many starts over π and r for K ≤ 8, and exhaustive grids for K = 2, 3) finds no violation
of either end of the paper form; see ``paper_checks/claim06_theorem2_bounds.py``.

Both forms hold only under the premise on *every* action's ratio; clipped PPO does not enforce
it for unsampled actions or after several minibatch steps (a separate, empirical question).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from entropy_lab.registry import Registry
from entropy_lab.validation import (
    InputError,
    check_choice,
    check_number,
    check_same_shape,
    check_tensor,
)

BOUND_FORMS: Registry = Registry("form")


@BOUND_FORMS.register("paper")
def _paper(h, eps_low, eps_high):
    return (1.0 - eps_low) * h, (1.0 + eps_high) * h


@BOUND_FORMS.register("rigorous")
def _rigorous(h, eps_low, eps_high):
    lo = (1.0 - eps_low) * h - torch.log1p(torch.as_tensor(eps_high, dtype=h.dtype))
    return lo.clamp_min(0.0), (1.0 + eps_high) * h


def entropy_bounds_under_ratio_clip(
    entropy, eps_low: float, eps_high: float, form: str = "paper"
):
    """[lo, hi] for H(π_new) when every ratio π_new/π lies in [1 − ε_low, 1 + ε_high].

    ``"paper"``: [(1 − ε_low)·H, (1 + ε_high)·H] — proven in this module's docstring (2).
    ``"rigorous"``: [max(0, (1 − ε_low)·H − log(1 + ε_high)), (1 + ε_high)·H], read off the
    identity H(π_new) = Σ r_a(−π_a log π_a) − KL(π_new‖π); valid but looser at the bottom.

    Args:
        entropy: H(π) >= 0, a float or a tensor ``[...]``.
        eps_low: ε_low in [0, 1].
        eps_high: ε_high >= 0.
        form: ``"paper"`` or ``"rigorous"``.
    Returns:
        ``(lo, hi)`` as floats for a float input, else tensors ``[...]`` of the input's dtype.
    """
    bound = BOUND_FORMS.get(form)
    check_number("eps_low", eps_low, lo=0.0, hi=1.0)
    check_number("eps_high", eps_high, lo=0.0)
    is_float = not isinstance(entropy, torch.Tensor)
    if is_float:
        check_number("entropy", entropy, lo=0.0)
        h = torch.tensor(float(entropy), dtype=torch.float64)
    else:
        h = check_tensor("entropy", entropy, axes="[...]")
        if bool((h < 0).any()):
            raise InputError(f"entropy has {int((h < 0).sum())} negative entries: expected >= 0")
    lo, hi = bound(h, float(eps_low), float(eps_high))
    return (lo.item(), hi.item()) if is_float else (lo, hi)


@dataclass(frozen=True)
class RatioEntropyTerms:
    """The exact pieces of H(π_new) for π_new = r·π (all ``[...]``, float64).

    Attributes:
        entropy_old: H(π).
        entropy_new: H(π_new), computed directly from π_new.
        weighted: Σ_a r_a·(−π_a log π_a).
        kl: KL(π_new‖π) = Σ_a π_a r_a log r_a.
        mixture_entropy: H(q) of q = (π_new − (1 − ε_low)π)/ε_low, the slack in proof (2).
    """

    entropy_old: torch.Tensor
    entropy_new: torch.Tensor
    weighted: torch.Tensor
    kl: torch.Tensor
    mixture_entropy: torch.Tensor


def _neg_xlogx(x: torch.Tensor) -> torch.Tensor:
    return -torch.special.xlogy(x, x)


def ratio_entropy_terms(
    probs: torch.Tensor, ratios: torch.Tensor, eps_low: float | None = None, atol: float = 1e-9
) -> RatioEntropyTerms:
    """The terms of H(π_new) = Σ r_a(−π_a log π_a) − KL(π_new‖π), with π_new = r·π.

    Args:
        probs: ``[..., K]`` π, non-negative, rows summing to 1 (within ``atol``); 0·log 0 = 0.
        ratios: ``[..., K]`` r >= 0 with Σ_a r_a π_a = 1 (within ``atol``).
        eps_low: ε_low in (0, 1] for the mixture slack H(q); default 1 − min_a r_a over the
            support of π (the tightest band the ratios satisfy), clamped to at least 1e-12.
        atol: tolerance on both normalisations.
    Returns:
        :class:`RatioEntropyTerms`.
    """
    p = check_tensor("probs", probs, min_ndim=1, last_dim_min=2, axes="[..., K]").double()
    r = check_tensor("ratios", ratios, min_ndim=1, axes="[..., K]").double()
    check_same_shape(("probs", "ratios"), (p, r))
    check_number("atol", atol, lo=0.0)
    if bool((p < 0).any()) or bool(((p.sum(-1) - 1).abs() > atol).any()):
        raise InputError("probs must be non-negative with rows summing to 1 (within atol)")
    if bool((r < 0).any()) or bool((((p * r).sum(-1) - 1).abs() > atol).any()):
        raise InputError("ratios must be non-negative with Σ_a ratios_a·probs_a = 1 (within atol)")
    new = p * r
    if eps_low is None:
        r_min = torch.where(p > 0, r, torch.full_like(r, float("inf"))).amin(-1, keepdim=True)
        eps = (1.0 - r_min).clamp(min=1e-12, max=1.0)
    else:
        eps = torch.tensor(check_number("eps_low", eps_low, lo=0.0, lo_open=True, hi=1.0))
        if bool(((p > 0) & (r < 1 - eps_low - atol)).any()):
            raise InputError(
                f"eps_low={eps_low!r} is not allowed: expected every ratio on the support of "
                f"probs to be >= 1 − eps_low (smallest is {float(r[p > 0].min()):.6g})"
            )
    q = ((new - (1.0 - eps) * p) / eps).clamp_min(0.0)
    return RatioEntropyTerms(
        entropy_old=_neg_xlogx(p).sum(-1),
        entropy_new=_neg_xlogx(new).sum(-1),
        weighted=(r * _neg_xlogx(p)).sum(-1),
        kl=(p * torch.special.xlogy(r, r)).sum(-1),
        mixture_entropy=_neg_xlogx(q / q.sum(-1, keepdim=True)).sum(-1),
    )


# --- searching for a violation (evidence beside the proof; used by the claim 6 check)


@dataclass(frozen=True)
class BoundSearchResult:
    """Extreme H(π_new)/H(π) found over ratio-bounded pairs, and where.

    Attributes:
        min_ratio / max_ratio: smallest and largest H(π_new)/H(π) seen (feasible points only).
        argmin / argmax: ``(probs, ratios)`` lists at those points.
        evaluated: number of feasible (π, r) pairs evaluated.
    """

    min_ratio: float
    max_ratio: float
    argmin: tuple[list[float], list[float]]
    argmax: tuple[list[float], list[float]]
    evaluated: int


def _entropy_ratio_rows(p: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    return _neg_xlogx(p * r).sum(-1) / _neg_xlogx(p).sum(-1)


def _summarise(p, r, ratio) -> BoundSearchResult:
    lo, hi = int(ratio.argmin()), int(ratio.argmax())
    return BoundSearchResult(
        min_ratio=float(ratio[lo]),
        max_ratio=float(ratio[hi]),
        argmin=(p[lo].tolist(), r[lo].tolist()),
        argmax=(p[hi].tolist(), r[hi].tolist()),
        evaluated=int(ratio.numel()),
    )


def grid_search_entropy_ratio(
    k: int, eps_low: float, eps_high: float, n_probs: int = 60, n_ratios: int = 40
) -> BoundSearchResult:
    """Exhaustive grid over π (simplex grid, step 1/n_probs, vertices excluded) and r (K = 2, 3).

    r_1..r_{K−1} run over a uniform grid of the band, r_K = (1 − Σ_{a<K} r_a π_a)/π_K is solved
    from the normalisation and the pair kept only if r_K is in the band too.
    """
    check_number("k", k, lo=2, hi=3, integer=True)
    check_number("eps_low", eps_low, lo=0.0, lo_open=True, hi=1.0)
    check_number("eps_high", eps_high, lo=0.0, lo_open=True)
    f64 = torch.float64
    ticks = torch.arange(1, n_probs, dtype=f64) / n_probs
    if k == 2:
        p = torch.stack([ticks, 1 - ticks], -1)
    else:
        a, b = torch.meshgrid(ticks, ticks, indexing="ij")
        keep = (a + b) < 1 - 0.5 / n_probs
        p = torch.stack([a[keep], b[keep], 1 - a[keep] - b[keep]], -1)
    band = torch.linspace(1 - eps_low, 1 + eps_high, n_ratios, dtype=f64)
    free = torch.cartesian_prod(*([band] * (k - 1))).reshape(-1, k - 1)
    p_all = p[:, None, :].expand(-1, free.shape[0], -1).reshape(-1, k)
    r_free = free[None].expand(p.shape[0], -1, -1).reshape(-1, k - 1)
    r_last = (1 - (p_all[:, :-1] * r_free).sum(-1)) / p_all[:, -1]
    ok = (r_last >= 1 - eps_low - 1e-12) & (r_last <= 1 + eps_high + 1e-12)
    r_all = torch.cat([r_free, r_last[:, None]], -1)[ok]
    p_all = p_all[ok]
    return _summarise(p_all, r_all, _entropy_ratio_rows(p_all, r_all))


def optimise_entropy_ratio(
    k: int, eps_low: float, eps_high: float, starts: int, generator: torch.Generator
) -> BoundSearchResult:
    """Local optimisation (SLSQP) of H(π_new)/H(π) from random starts, minimum and maximum.

    Variables: logits u of π (in [−30, 30]) and ratios r in the band, with the equality
    constraint Σ_a r_a softmax(u)_a = 1. Each optimum is renormalised, checked against the band
    (1e-9) and kept only if feasible.
    """
    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import xlogy

    check_number("k", k, lo=2, integer=True)
    check_number("starts", starts, lo=1, integer=True)
    lo_r, hi_r = 1 - eps_low, 1 + eps_high

    def split(x):
        u = x[:k] - x[:k].max()
        p = np.exp(u) / np.exp(u).sum()
        return p, x[k:]

    def ratio(x, sign):
        p, r = split(x)
        new = p * r
        return sign * float(xlogy(new, new).sum() / xlogy(p, p).sum())

    bounds = [(-30.0, 30.0)] * k + [(lo_r, hi_r)] * k
    cons = {"type": "eq", "fun": lambda x: float((split(x)[0] * split(x)[1]).sum() - 1.0)}
    ps, rs = [], []
    for i in range(starts):
        scale = float(torch.empty(()).uniform_(0.5, 12.0, generator=generator))
        u0 = scale * torch.randn(k, generator=generator, dtype=torch.float64)
        r0 = torch.ones(k, dtype=torch.float64)
        x0 = np.concatenate([u0.numpy(), r0.numpy()])
        sign = 1.0 if i % 2 == 0 else -1.0
        res = minimize(
            ratio, x0, args=(sign,), method="SLSQP", bounds=bounds, constraints=cons,
            options={"maxiter": 80, "ftol": 1e-12},
        )
        p, r = split(res.x)
        r = r / float((p * r).sum())
        if np.all(r >= lo_r - 1e-9) and np.all(r <= hi_r + 1e-9) and p.min() < 1.0:
            ps.append(p)
            rs.append(r)
    if not ps:
        raise ArithmeticError("no feasible optimum found; increase starts")
    p_t, r_t = torch.tensor(np.array(ps)), torch.tensor(np.array(rs))
    return _summarise(p_t, r_t, _entropy_ratio_rows(p_t, r_t))


def sharp_family_ratio(eps: float, deltas, side: str = "lower") -> list[float]:
    """H(π_new)/H(π) on the family that makes the paper's constants sharp (K = 3).

    π = (1 − δ, δ/2, δ/2); the two small actions get r = 1 − ε (``side="lower"``, ε = ε_low) or
    r = 1 + ε (``"upper"``, ε = ε_high) and the large one the r that keeps Σ r·π = 1 (it stays
    within 1 ± ε·δ/(1 − δ) of 1, inside the band for small δ). As δ → 0 the ratio tends to
    1 − ε_low (resp. 1 + ε_high), slowly, like 1/log(1/δ). Evaluated with ``log1p`` so that
    δ down to 1e-300 is exact in float64.
    """
    sign = {"lower": -1.0, "upper": 1.0}[check_choice("side", side, ("lower", "upper"))]
    out = []
    for delta in deltas:
        d = torch.tensor(float(delta), dtype=torch.float64)
        d_new = d * (1 + sign * eps)

        def h(small):  # H of (1 − small, small/2, small/2)
            return -(1 - small) * torch.log1p(-small) - small * torch.log(small / 2)

        out.append(float(h(d_new) / h(d)))
    return out
