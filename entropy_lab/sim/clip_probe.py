"""Clip diagnostics of a simulated minibatch: which tokens the clip stopped, whether they were
below typical probability, and the first-order entropy change their gradient would have made.

``SimConfig(clip_diagnostics=True)`` hands a :class:`ClipProbe` to the one RL step
(``rl_iteration(..., clip_probe=...)``); :func:`~entropy_lab.algorithms.step.stopped_gradient`
gives, per minibatch, the stopped tokens (A > 0: ``high``; A < 0: ``low``) and g_t = ∂S/∂log π_t,
the gradient of the unclipped surrogate S = aggregate(−A·r) on them. With π, H and
L = log π + H at each token's state under the minibatch's logits (the policy before this
minibatch's update, exact float64), the probe records per minibatch (then the iteration's mean,
as every minibatch metric):

    clip/frac_high_stopped  fraction of the minibatch's tokens stopped with A > 0 (for PPO
                          = clip/frac_high); clip/frac_low_stopped: with A < 0 (the lower and
                          the dual clip)
    clip/frac_high_Lneg   fraction of the tokens stopped with A > 0 and L(a_t|s_t) < 0 (below
                          typical probability); clip/frac_low_Lneg likewise for A < 0
    clip/share_Lneg_high  the iteration's share frac_high_Lneg / frac_high_stopped (NaN if none
    clip/share_Lneg_low   was clipped), written by the loop (:func:`add_shares`)
    clip/dH_removed_high  Σ_t w_{s_t} · (−Σ_a π_{t,a} L_{t,a} Δz_{t,a}) over the upper-clipped
    clip/dH_removed_low   tokens (lower: the stopped A < 0 tokens), Theorem 1 per state, with

        Δz_t = −P_{s_t} ⊙ g_t·(e_{a_t} − π_t)   the logit change token t's removed gradient would
                                                have made in this minibatch's step
        P    = η (SGD);  η·(1 − β₁)/(1 − β₁ᵗ) / (√(v_t/(1 − β₂ᵗ)) + ε) (Adam: the factor this
               step applies to a gradient entering its first moment, v_t its second moment after
               the step, held fixed; the momentum's carry into later steps is left out)
        w_s  = the state weights of the token-averaged entropy at the iteration's start
               (v_s / Σ v, as dH_pred_state; frozen over the iteration)

It is the entropy change the clip *removed*: > 0 means unclipping those tokens would have raised
the entropy (clip-higher helps entropy only then). On the tabular policy with SGD it is the exact
first-order difference between the unclipped and the clipped update
(tests/test_sim_clip_probe.py checks it against a finite difference). For a shared-parameter
policy the logit change of a token's gradient reaches every state through θ, so the per-token
form does not apply: ``clip/dH_removed_*`` are NaN there (the shares are exact).
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms.step import Stopped

NAN = float("nan")


def centred_logprobs(logits_nk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(π, L = log π + H) of softmax(logits) ``[..., K]`` row-wise, each ``[..., K]``."""
    logp = torch.log_softmax(logits_nk, -1)
    p = logp.exp()
    h = -(p * logp).sum(-1, keepdim=True)
    return p, logp + h


def removed_entropy_change(logits_bnk: torch.Tensor, actions_bn: torch.Tensor,
                           grad_bn: torch.Tensor, weights_bn: torch.Tensor,
                           step_bnk, centred: tuple[torch.Tensor, torch.Tensor] | None = None
                           ) -> torch.Tensor:
    """Σ_t w_t·(−Σ_a π_{t,a} L_{t,a} Δz_{t,a}) with Δz_t = −P_t ⊙ g_t·(e_{a_t} − π_t).

    Args:
        logits_bnk: ``[B, n, K]`` logits of each token's state (B replicas, n tokens).
        actions_bn: ``[B, n]`` long, the taken actions.
        grad_bn: ``[B, n]`` g_t = ∂S/∂log π_t (0 for tokens not counted).
        weights_bn: ``[B, n]`` the entropy weight w of each token's state.
        step_bnk: P, ``[B, n, K]`` or broadcastable to it (``[B, 1, 1]``): the optimizer's
            per-logit step factor at each token's state.
        centred: ``(π, L)`` = :func:`centred_logprobs` of ``logits_bnk`` where the caller has
            them (the probe's one evaluation per minibatch serves both sides), else computed.
    Returns:
        ``[B]`` the first-order entropy change (Theorem 1 per state, summed over the tokens).
    """
    p, centred = centred_logprobs(logits_bnk) if centred is None else centred
    direction = (-p).scatter_add(-1, actions_bn.unsqueeze(-1), torch.ones_like(p[..., :1]))
    delta = -(step_bnk * direction) * grad_bn.unsqueeze(-1)       # Δz_t, [B, n, K]
    return (weights_bn * -(p * centred * delta).sum(-1)).sum(-1)


class ClipProbe:
    """The ``clip_probe`` of :func:`~entropy_lab.algorithms.step.rl_iteration` for the
    simulator's :class:`~entropy_lab.sim.adapter.LogitsPolicy` (module docstring).

    Args:
        params: the run's :class:`~entropy_lab.sim.params.SimParams`.
        optimizer: its optimizer (read after each step for Adam's second moment).
        optimizer_name: ``"sgd"`` or ``"adam"``.
        lr: the learning rate, a float or ``[B]``.
        weights_bs: ``[B, S]`` state weights of the token-averaged entropy (iteration start).
    """

    def __init__(self, params, optimizer, optimizer_name: str, lr, weights_bs: torch.Tensor):
        self.params = params
        self.optimizer = optimizer
        self.optimizer_name = optimizer_name
        self.lr = lr
        self.weights_bs = weights_bs

    def _step_factor(self, tokens, idx) -> torch.Tensor:
        """P at every token's state of the minibatch, ``[B, n, K]`` (SGD: ``[B, 1, 1]``)."""
        (param,) = self.params.parameters()
        b, k = param.shape[0], param.shape[-1]
        lr = self.lr if isinstance(self.lr, float) else self.lr.view(b, 1, 1)
        if self.optimizer_name == "sgd":
            return lr * torch.ones(b, 1, 1, dtype=param.dtype)
        group = self.optimizer.param_groups[0]
        beta1, beta2 = group["betas"]
        state = self.optimizer.state[param]
        t = float(state["step"])
        denom = (state["exp_avg_sq"].sqrt() / (1 - beta2 ** t) ** 0.5).add_(group["eps"])
        factor = (1 - beta1) / (1 - beta1 ** t) / denom          # [B, S, K]
        return lr * tokens.token_logits(factor, idx).reshape(b, -1, k)

    def __call__(self, batch, idx, stopped: Stopped, logits_bqtk: torch.Tensor) -> dict:
        tokens = batch.data["tokens"]
        actions = tokens.actions[:, idx]
        real = tokens.real[:, idx]
        z = logits_bqtk.to(torch.float64)
        p, centred = centred_logprobs(z)  # once per minibatch: both sides' L and Δz take it
        below = centred.gather(-1, actions.unsqueeze(-1)).squeeze(-1) < 0
        n = real.sum((-2, -1)).to(torch.float64)
        out = {}
        for side, which in (("high", stopped.high), ("low", stopped.low)):
            out[f"clip/frac_{side}_stopped"] = which.sum((-2, -1)) / n
            out[f"clip/frac_{side}_Lneg"] = (which & below).sum((-2, -1)) / n
        if not self.params.tabular:
            nan = torch.full_like(n, NAN)
            return {**out, "clip/dH_removed_high": nan, "clip/dH_removed_low": nan}
        states = tokens.minibatch_states(idx)
        b = states.shape[0]
        w = self.weights_bs.gather(1, states.reshape(b, -1)).reshape(states.shape)
        step = self._step_factor(tokens, idx)
        k = z.shape[-1]
        tables = (p.reshape(b, -1, k), centred.reshape(b, -1, k))
        g = stopped.grad.to(torch.float64)
        zero = torch.zeros((), dtype=torch.float64)
        for side, which in (("high", stopped.high), ("low", stopped.low)):
            out[f"clip/dH_removed_{side}"] = removed_entropy_change(
                z.reshape(b, -1, k), actions.reshape(b, -1),
                torch.where(which, g, zero).reshape(b, -1), w.reshape(b, -1), step, tables)
        return out


def add_shares(metrics: dict) -> None:
    """``clip/share_Lneg_high`` / ``_low`` (in place): the iteration's L < 0 share of the
    upper-clipped (A > 0) and of the stopped A < 0 tokens, NaN where none was stopped."""
    for side in ("high", "low"):
        num, den = metrics.get(f"clip/frac_{side}_Lneg"), metrics.get(f"clip/frac_{side}_stopped")
        if num is not None and den is not None:
            metrics[f"clip/share_Lneg_{side}"] = torch.where(
                den > 0, num / den.clamp(min=1e-300), torch.full_like(num, NAN))
