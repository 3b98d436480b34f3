"""Unbiased pass@k from n samples of which c are correct (Chen et al. 2021, "Codex" paper).

    pass@k = 1 − C(n − c, k) / C(n, k)

computed through log-gamma so large n never overflows (exactly 0 when c = 0, exactly 1 when
n − c < k). It is the probability
that a uniformly random k-subset of the n samples contains at least one correct one, so it is an
unbiased estimate of 1 − (1 − p)^k when the samples are i.i.d. with success probability p.
"""

from __future__ import annotations

import numpy as np
import torch

from entropy_lab.validation import InputError


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
    # log C(n-c, k) - log C(n, k) via lgamma; exact 0 where n - c < k.
    from scipy.special import gammaln

    n_f, c_f, k_f = (x.astype(np.float64) for x in (n_a, c_a, k_a))
    feasible = (n_a - c_a) >= k_a
    log_ratio = np.where(
        feasible,
        gammaln(np.maximum(n_f - c_f, 0) + 1) - gammaln(np.maximum(n_f - c_f - k_f, 0) + 1)
        - gammaln(n_f + 1) + gammaln(n_f - k_f + 1),
        -np.inf,
    )
    out = np.where(c_a == 0, 0.0, -np.expm1(log_ratio))
    return float(out) if out.ndim == 0 else out
