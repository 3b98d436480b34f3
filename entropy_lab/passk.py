"""Unbiased pass@k from n samples of which c are correct (Chen et al. 2021, "Codex" paper).

    pass@k = 1 − C(n − c, k) / C(n, k)

computed in log space (exactly 0 when c = 0, exactly 1 when n − c < k). The ratio is the product
Π_{j<m} (1 − x/(n − j)) with m = min(c, k) and x = max(c, k), summed as log1p terms, which keeps
full relative accuracy even for pass rates of 1e-7; past m = 4096 terms log-beta functions take
over (there the result is far from 0, so their cancellation no longer matters).

It is the probability that a uniformly random k-subset of the n samples contains at least one
correct one, so it is an unbiased estimate of 1 − (1 − p)^k when the samples are i.i.d. with
success probability p.
"""

from __future__ import annotations

import numpy as np
import torch

from entropy_lab.validation import InputError

_PRODUCT_TERMS = 4096


def _log_comb_ratio(n, c, k):
    """log C(n − c, k) − log C(n, k) for int64 arrays with 0 <= c <= n, 1 <= k <= n."""
    from scipy.special import betaln

    n_f, c_f, k_f = (x.astype(np.float64) for x in (n, c, k))
    feasible = (n - c) >= k
    m = np.minimum(c, k)
    x = np.maximum(c_f, k_f)
    short = feasible & (m <= _PRODUCT_TERMS)
    out = np.zeros(n.shape)
    for j in range(int(m[short].max()) if short.any() else 0):
        live = short & (j < m)
        out[live] += np.log1p(-x[live] / (n_f[live] - j))
    c_safe = np.maximum(c_f, 1.0)
    long = feasible & ~short
    out[long] = (betaln(n_f - c_f + 1, c_safe) - betaln(n_f - c_f - k_f + 1, c_safe))[long]
    out[~feasible] = -np.inf
    return out


def pass_at_k(n, c, k):
    """Unbiased pass@k, vectorised over broadcastable ``n``, ``c``, ``k``.

    Args:
        n: samples per problem (int or integer array/tensor), n >= 1.
        c: correct samples, 0 <= c <= n.
        k: budget, 1 <= k <= n.
    Returns:
        float64 numpy array (or a Python float for scalar inputs) of the estimates.
    Raises:
        InputError: non-integer values, c outside [0, n], or k outside [1, n].
    """
    arrays = []
    for name, v in (("n", n), ("c", c), ("k", k)):
        a = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
                raise InputError(f"{name}={v!r} is not allowed: expected whole numbers")
            a = a.astype(np.int64)
        elif a.dtype.kind not in "iu":
            raise InputError(f"{name}={v!r} is not allowed: expected whole numbers")
        arrays.append(a.astype(np.int64))
    n_a, c_a, k_a = np.broadcast_arrays(*arrays)
    if np.any(n_a < 1):
        raise InputError(f"n={n!r} is not allowed: expected n >= 1")
    if np.any((c_a < 0) | (c_a > n_a)):
        raise InputError(f"c={c!r} is not allowed: expected 0 <= c <= n (n={n!r})")
    if np.any((k_a < 1) | (k_a > n_a)):
        raise InputError(f"k={k!r} is not allowed: expected 1 <= k <= n (n={n!r})")
    log_ratio = _log_comb_ratio(n_a, c_a, k_a)
    out = np.where(c_a == 0, 0.0, -np.expm1(log_ratio))
    return float(out) if out.ndim == 0 else out


def exact_pass_at_k(
    success_prob: torch.Tensor, k: int, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Exact pass@k from per-prompt success probabilities: the one definition of the simulator
    (every problem's ``pass_at_k`` and the frame's pass@k columns) and the harness
    (``exact/pass@k``).

        pass@k = Σ_c w_c (1 − (1 − p_c)^k)      (k i.i.d. samples per prompt)

    computed as −expm1(k·log1p(−p)) so p near 0 keeps its relative precision; pass@1 = Σ_c w_c
    p_c exactly.

    Args:
        success_prob: ``[..., C]`` p_c, clamped to [0, 1] (float rounding of a sum of
            probabilities may leave it a few ulps outside).
        k: budget, an integer >= 1.
        weights: ``[C]`` prompt weights w (uniform when None).
    Returns:
        ``[...]`` tensor of success_prob's dtype.
    """
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise InputError(f"k={k!r} is not allowed: expected an integer >= 1")
    p = torch.as_tensor(success_prob).clamp(0.0, 1.0)
    if p.ndim == 0:
        raise InputError(f"success_prob={success_prob!r} is not allowed: expected [..., C]")
    if weights is None:
        w = torch.full((p.shape[-1],), 1.0 / p.shape[-1], dtype=p.dtype, device=p.device)
    else:
        w = torch.as_tensor(weights).to(p.dtype)
        if w.shape != p.shape[-1:]:
            raise InputError(f"weights of shape {list(w.shape)} are not allowed: expected "
                             f"[C] = [{p.shape[-1]}] (as success_prob)")
    hit = p if k == 1 else -torch.expm1(int(k) * torch.log1p(-p))
    return (hit * w).sum(-1)
