"""Closed-form dynamic programmes of a token tree, level by level, without autograd.

Rows x are independent trees of one shape (seeds, or seed × prompt rows of a multi-prompt tree),
logits ``[X, S, V]`` with the prefixes in the BFS order of :mod:`entropy_lab.problems.tree`
(level t holds V^t prefixes at ``offsets[t]:offsets[t + 1]``; the children of level-t prefix j are
the level-(t + 1) prefixes j·V + a). One :class:`TreePolicy` holds what every exact quantity of one
policy state needs, computed once:

    log π = z − m − log Σ_a exp(z_a − m),   π = exp(log π),   H(j) = −Σ_a π(a|j) log π(a|j)
    reach_0 = 1,   reach_{t+1}(j·V + a) = reach_t(j) π(a|j)           (visits = reach)

and the gradients are written by hand per level (each level's slice of the output once, no
full-size zero-filled tensor per level as autograd's slice backward makes):

    E[f]       = Σ_x P(x) f(x)
    ∂E[f]/∂z   = reach(j) π(a|j) (Q(j, a) − V(j)),   Q_{T−1}(j, a) = f(j·V + a),
                 V_t(j) = Σ_a π(a|j) Q_t(j, a),      Q_{t−1}(i, a) = V_t(i·V + a)
    ∂H_seq/∂z  = reach(j) [π(a|j) (W_c(j, a) − W̄(j)) − π(a|j) (log π(a|j) + H(j))]
                 W_t(j) = H(j) + W̄(j),  W̄(j) = Σ_a π(a|j) W_c(j, a),  W_c(j, a) = W_{t+1}(j·V + a),
                 W_T = 0 (so on the last level only the second term remains)

H_seq = Σ_j reach(j) H(j) (chain rule). The entropy gradient is the policy-gradient theorem with
the "reward" H collected at every prefix plus the direct term ∂H(j)/∂z(j, a) = −π_a (log π_a + H);
Σ_j reach(j) = T for every policy, so the token-averaged entropy H_seq / Σ_j reach(j) has the
gradient ∂H_seq/∂z / Σ_j reach(j).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from entropy_lab.problems.base import ExactTerms, take_buffer


@dataclass
class TreePolicy:
    """One policy state of X trees.

    Attributes:
        logp, p: ``[X, S, V]`` log π and π.
        h: ``[X, S]`` per-prefix entropy H(j).
        reach: ``[X, S]`` P(prefix j is generated) (each level sums to 1).
        leaves: ``[X, V^T]`` P(complete sequence) (in :func:`exact_terms` a scratch slice,
            overwritten once the expectations are taken).
        offsets: level offsets (T + 1 entries; ``offsets[T]`` = S).
        plogp: ``[X, S, V]`` π ⊙ log π (a buffer :func:`centred_from_plogp` may take over).
    """

    logp: torch.Tensor
    p: torch.Tensor
    h: torch.Tensor
    reach: torch.Tensor
    leaves: torch.Tensor
    offsets: list[int]
    plogp: torch.Tensor

    @property
    def horizon(self) -> int:
        return len(self.offsets) - 1

    def level(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """The level-t slice ``[X, V^t, ...]`` of an ``[X, S, ...]`` tensor."""
        return x[:, self.offsets[t]:self.offsets[t + 1]]


def log_softmax(z_xsk: torch.Tensor, out: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π, π) over the last dim: log π = (z − m) − log Σ exp(z − m), π = exp(z − m) / Σ.

    Written out because torch's fused softmax kernels are slow over a last dim of a few entries
    (measured 10–14 ms against ~3 ms for these passes on a ``[64, 1555, 6]`` float64 tensor).
    Broadcasting results go into given buffers (``out``, contiguous, ``z_xsk``'s shape) or
    ``empty_like`` ones: a broadcasting op that allocates its own output page-faults on it.
    """
    logp, p = out if out is not None else (torch.empty_like(z_xsk), torch.empty_like(z_xsk))
    shifted = torch.sub(z_xsk, z_xsk.amax(-1, keepdim=True), out=logp)
    e_xsk = torch.exp(shifted, out=p)
    total = e_xsk.sum(-1)[..., None]
    p_xsk = e_xsk.div_(total)
    return shifted.sub_(total.log_()), p_xsk


def tree_policy(logits_xsk: torch.Tensor, offsets: list[int],
                out: tuple[torch.Tensor, ...] | None = None,
                leaves_out: torch.Tensor | None = None) -> TreePolicy:
    """π, log π, H and the reach probabilities of ``logits_xsk`` ``[X, S, V]`` (detached);
    ``out``: three contiguous ``[X, S, V]`` buffers for log π, π and π ⊙ log π;
    ``leaves_out``: an ``[X, V^(T−1), V]`` buffer (a scratch slice) for the leaf
    probabilities."""
    z = logits_xsk.detach().contiguous()
    x, s, v = z.shape
    logp, p = log_softmax(z, None if out is None else out[:2])
    plogp = torch.mul(p, logp, out=None if out is None else out[2])
    h = plogp.sum(-1).neg_()
    reach = torch.empty(x, s, dtype=z.dtype, device=z.device)
    reach[:, 0] = 1.0
    horizon = len(offsets) - 1
    for t in range(horizon - 1):
        torch.mul(reach[:, offsets[t]:offsets[t + 1], None], p[:, offsets[t]:offsets[t + 1]],
                  out=reach[:, offsets[t + 1]:offsets[t + 2]].view(x, -1, v))
    last = slice(offsets[horizon - 1], offsets[horizon])
    leaves = torch.mul(reach[:, last, None], p[:, last], out=leaves_out)
    return TreePolicy(logp, p, h, reach, leaves.view(x, -1), list(offsets), plogp)


def expectation(pol: TreePolicy, leaf_values: torch.Tensor) -> torch.Tensor:
    """E[f] = Σ_x P(x) f(x) for ``leaf_values`` ``[V^T]`` (every row) or ``[X, V^T]``. ``[X]``."""
    return (pol.leaves * leaf_values.to(pol.leaves.dtype)).sum(-1)


def action_value_levels(
    p_xsk: torch.Tensor, leaf_values: torch.Tensor, offsets: list[int],
    scratch: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """Q_t ``[X, V^t, V]`` for t = 0..T−1 by the backward DP (module docstring) from π
    ``[X, S, V]`` and leaf values ``[V^T]`` (every row) or ``[X, V^T]`` (one per row).

    ``scratch``: an ``[X, S, V]`` buffer whose level-t slice may hold π ⊙ Q_t (overwritten)."""
    x, v = p_xsk.shape[0], p_xsk.shape[2]
    horizon = len(offsets) - 1
    q = leaf_values.to(p_xsk.dtype).reshape(-1, v ** (horizon - 1), v).expand(x, -1, -1)
    out = [q]
    for t in reversed(range(1, horizon)):
        p_t = p_xsk[:, offsets[t]:offsets[t + 1]]
        buf = torch.empty_like(p_t) if scratch is None else scratch[:, offsets[t]:offsets[t + 1]]
        q = torch.mul(p_t, q, out=buf).sum(-1).reshape(x, -1, v)
        out.append(q)
    return out[::-1]


def expectation_grad(
    pol: TreePolicy, leaf_values: torch.Tensor, scale_x: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """∂(scale_x · E[f])/∂z = scale_x reach(j) π(a|j) (Q(j, a) − V(j)) and the root value
    V_0 = E[f] (module docstring), each level's slice written once.

    Args:
        leaf_values: ``[V^T]`` (every row) or ``[X, V^T]`` f at the leaves.
        scale_x: ``[X]`` per-row factor of the gradient (1 when None).
        out: ``[X, S, V]`` buffer for the gradient (a new one when None).
    Returns:
        ``(grad [X, S, V], E[f] [X])``.
    """
    x = pol.p.shape[0]
    # each level's slice of grad holds π ⊙ Q first, then the gradient
    grad = torch.empty_like(pol.p) if out is None else out
    q_levels = action_value_levels(pol.p, leaf_values, pol.offsets, scratch=grad)
    # V at a level-t prefix is Q of its parent at level t − 1: only the root needs a sum.
    root = (pol.p[:, :1] * q_levels[0]).sum(-1)  # [X, 1]
    weight = pol.reach if scale_x is None else pol.reach * scale_x[:, None]
    for t, q_t in enumerate(q_levels):
        v_t = root if t == 0 else q_levels[t - 1].reshape(x, -1)
        g, p_t = pol.level(grad, t), pol.level(pol.p, t)
        if t == 0:  # the root level holds no π ⊙ Q yet
            torch.mul(p_t, q_t, out=g)
        # π ⊙ Q − π ⊙ V, then the row weight
        g.addcmul_(p_t, v_t[..., None], value=-1.0).mul_(pol.level(weight, t)[..., None])
    return grad, root[:, 0]


def centred_probs(pol: TreePolicy, out: torch.Tensor | None = None) -> torch.Tensor:
    """π ⊙ (log π + H) ``[X, S, V]``: minus the gradient of H(j) w.r.t. its own logits."""
    out = torch.empty_like(pol.p) if out is None else out
    return torch.add(pol.logp, pol.h[..., None], out=out).mul_(pol.p)


def centred_from_plogp(pol: TreePolicy, plogp: torch.Tensor) -> torch.Tensor:
    """:func:`centred_probs` in place of π ⊙ log π ``plogp``: π log π + π H (one pass)."""
    return plogp.addcmul_(pol.p, pol.h[..., None])


def sequence_entropy_grad(
    pol: TreePolicy, p_centred: torch.Tensor, scale_x: torch.Tensor,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """scale_x · ∂H_seq/∂z ``[X, S, V]`` (module docstring), from :func:`centred_probs`.

    Args:
        p_centred: ``[X, S, V]`` π ⊙ (log π + H).
        scale_x: ``[X]`` per-row factor (1 / Σ_j reach(j) for the token-averaged entropy).
        out: ``[X, S, V]`` buffer for the result (a new one when None).
    """
    x, _, v = pol.p.shape
    weight = pol.reach * scale_x[:, None]
    t_last = pol.horizon - 1
    grad = torch.empty_like(p_centred) if out is None else out
    last = pol.level(grad, t_last)
    torch.mul(pol.level(p_centred, t_last), pol.level(weight, t_last)[..., None].neg(), out=last)
    w_next = pol.level(pol.h, t_last)  # W on the last level: no descendants
    for t in reversed(range(t_last)):
        p_t = pol.level(pol.p, t)
        wc = w_next.reshape(x, -1, v)
        g = pol.level(grad, t)  # π ⊙ W_c first, then the gradient
        wbar = torch.mul(p_t, wc, out=g).sum(-1)
        torch.sub(wc, wbar[..., None], out=g).mul_(p_t).sub_(pol.level(p_centred, t))
        g.mul_(pol.level(weight, t)[..., None])
        w_next = pol.level(pol.h, t) + wbar
    return grad


CHUNK_BYTES = 1 << 20
"""Rows per pass of :func:`exact_terms`: about 1 MiB per ``[rows, S, V]`` buffer. The
temporaries of a pass (products, leaf probabilities, reach) are then chunk-sized whatever B;
the step time measured the same as one pass over whole tensors at 64 and 1,024 seeds."""


def exact_terms(
    logits_xsk: torch.Tensor, offsets: list[int], prompt_probs: torch.Tensor,
    leaf_rewards: torch.Tensor, leaf_correct: torch.Tensor,
    workspace: list[torch.Tensor] | None = None,
) -> ExactTerms:
    """The snapshot's closed forms for B seeds × C prompts, rows x = b·C + c of ``logits_xsk``
    ``[X, S, V]`` = ``[B·C, S, V]``, computed in chunks of whole seeds (:data:`CHUNK_BYTES`).

    With visits(c, j) = w_c reach_c(j): H_seq = Σ_c w_c H_seq,c, entropy = H_seq / Σ_{c,j}
    visits(c, j), ∂entropy/∂z(c, ·) = w_c ∂H_seq,c/∂z / Σ visits, J = Σ_c w_c E_c[R], p_c =
    E_c[correct] and ∂(Σ_c coef_c p_c)/∂z(c, ·) = coef_c ∂p_c/∂z.

    Args:
        prompt_probs: ``[C]`` w (``[1.0]`` for a single tree).
        leaf_rewards, leaf_correct: ``[V^T]`` (every row) or ``[X, V^T]``.
        workspace: spare ``[X, S, V]``-sized buffers (:func:`take_buffer`) for log π, π,
            π ⊙ (log π + H) and the entropy gradient.
    Returns:
        :class:`ExactTerms` with ``[B, C·S, V]`` / ``[B, C·S]`` tensors.
    """
    z = logits_xsk.detach().contiguous()
    x, s, v = z.shape
    c = prompt_probs.shape[0]
    b = x // c
    logp, p, p_centred, grad = (take_buffer(workspace, z, new=True) for _ in range(4))
    rows = c * max(1, CHUNK_BYTES // (c * s * v * z.element_size()))
    w_1c = prompt_probs.to(z.dtype)[None, :]
    chunks, parts = [], {"J": [], "success": [], "seq": [], "vsum": [], "weights": [], "h": []}
    for lo in range(0, x, rows):
        sl = slice(lo, min(lo + rows, x))
        # the leaves live in the last level of grad until the entropy gradient is written
        pol = tree_policy(z[sl], offsets, out=(logp[sl], p[sl], p_centred[sl]),
                          leaves_out=grad[sl, offsets[-2]:])
        rewards, correct = (f if f.ndim == 1 else f[sl] for f in (leaf_rewards, leaf_correct))
        parts["J"].append((expectation(pol, rewards).reshape(-1, c) * w_1c).sum(-1))
        parts["success"].append(expectation(pol, correct).reshape(-1, c))
        seq_b = ((pol.reach * pol.h).sum(-1).reshape(-1, c) * w_1c).sum(-1)
        vsum_b = (pol.reach.sum(-1).reshape(-1, c) * w_1c).sum(-1)
        scale_x = (w_1c / vsum_b[:, None]).reshape(-1)
        centred_from_plogp(pol, pol.plogp)
        sequence_entropy_grad(pol, pol.plogp, scale_x, out=grad[sl])
        parts["seq"].append(seq_b)
        parts["vsum"].append(vsum_b)
        parts["weights"].append(pol.reach * scale_x[:, None])
        parts["h"].append(pol.h)
        chunks.append((sl, pol, correct))
    j_b, success, seq_b, vsum_b, weights, h_xs = (torch.cat(parts[k]) for k in parts)

    def success_grad(coef_bc: torch.Tensor) -> torch.Tensor:
        coef_x = coef_bc.reshape(x)
        out = torch.empty_like(z)
        for sl, pol, correct in chunks:
            expectation_grad(pol, correct, coef_x[sl], out=out[sl])
        return out.reshape(b, c * s, v)

    return ExactTerms(
        entropy=seq_b / vsum_b,
        entropy_seq=seq_b,
        J=j_b,
        success=success,
        grad_entropy=grad.reshape(b, c * s, v),
        weights=weights.reshape(b, c * s),
        p_centred=p_centred.reshape(b, c * s, v),
        success_grad=success_grad,
        state_entropy=h_xs.reshape(b, c * s),
        spare=(logp, p),
    )
