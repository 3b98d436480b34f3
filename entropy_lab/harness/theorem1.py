"""Theorem 1 at scale: predicted ΔH = ∇_θ H · Δθ against the measured change, same prefixes.

    H_eval(θ) = (1/|S|) Σ_{s∈S} H(π_θ(·|s))        S = every response prefix of a fixed batch
    dH_pred     = ∇_θ H_eval(θ) · (θ' − θ)           (autograd over the trainable parameters)
    dH_measured = H_eval(θ') − H_eval(θ)

The evaluation batch is sampled once, from the initial policy, and kept for the whole run, so the
prefixes do not move (docs/theory.md, "Theorem 1": the per-state form; the change of the state
distribution is
deliberately excluded). H is computed with the trainer path in plain fp32 (no autocast) and the
entropy itself in float64, whatever the training precision, so the measurement is not rounding.
The gap dH_measured − dH_pred is the second-order (and higher) remainder, O(|Δθ|²).
"""

from __future__ import annotations

import torch

from entropy_lab.harness.policy import Rollout, trainer_logits
from entropy_lab.theory import entropy


def eval_entropy(model, batch: Rollout) -> torch.Tensor:
    """H_eval: mean exact token entropy over the masked positions of ``batch`` (float64 0-d).

    Differentiable in the model parameters.
    """
    logits_btv = trainer_logits(model, batch.prompt_bp, batch.tokens_bt, None)
    h_bt = entropy(logits_btv.to(torch.float64))
    mask = batch.mask_bt.to(torch.float64)
    return (h_bt * mask).sum() / mask.sum()


def entropy_gradient(model, batch: Rollout, params: list[torch.Tensor]):
    """(H_eval as a float, ∇_θ H_eval for each of ``params`` as a list of float64 tensors)."""
    h = eval_entropy(model, batch)
    grads = torch.autograd.grad(h, params, allow_unused=True)
    grads = [torch.zeros_like(p, dtype=torch.float64) if g is None else g.to(torch.float64)
             for p, g in zip(params, grads)]
    return h.item(), grads


def snapshot(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """A float64 copy of the parameters (θ before the step)."""
    return [p.detach().to(torch.float64).clone() for p in params]


def predicted_change(grads: list[torch.Tensor], before: list[torch.Tensor],
                     params: list[torch.Tensor]) -> float:
    """dH_pred = Σ_i ∇_i H · (θ'_i − θ_i), in float64."""
    return float(sum((g * (p.detach().to(torch.float64) - b)).sum()
                     for g, b, p in zip(grads, before, params)))


class Theorem1Probe:
    """Measure one update: call :meth:`before` ahead of the optimizer steps, :meth:`after` once
    they are done; ``after`` returns the metrics row fragment."""

    def __init__(self, model, batch: Rollout, params: list[torch.Tensor]):
        self.model, self.batch, self.params = model, batch, params

    def before(self) -> None:
        self.h0, self.grads = entropy_gradient(self.model, self.batch, self.params)
        self.theta0 = snapshot(self.params)

    def after(self) -> dict[str, float]:
        with torch.no_grad():
            h1 = eval_entropy(self.model, self.batch).item()
        step = float(sum(((p.detach().to(torch.float64) - b) ** 2).sum()
                         for p, b in zip(self.params, self.theta0))) ** 0.5
        return {"thm1/H_eval": self.h0, "thm1/dH_pred": predicted_change(
            self.grads, self.theta0, self.params), "thm1/dH_measured": h1 - self.h0,
            "thm1/step_norm": step}
