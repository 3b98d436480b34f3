"""The simulator's optimizers, with one learning rate per replica where asked.

``make_optimizer(name, params, lr)``: a float ``lr`` gives ``torch.optim.SGD`` /
``torch.optim.Adam`` (their default hyperparameters otherwise). A per-replica ``lr`` — a float64
tensor ``[B]`` whose entry b is the step size of replica b, i.e. of row b of every parameter
``[B, ...]`` — gives :class:`ReplicaSGD` / :class:`ReplicaAdam`, the same updates with η
broadcast over the replica dim:

    SGD:   θ_b ← θ_b − η_b·g_b
    Adam:  m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,
           θ_b ← θ_b − (η_b / (1 − β₁ᵗ))·m_b / (√v_b / √(1 − β₂ᵗ) + ε)

with torch's operation order (``addcmul_`` / ``addcdiv_`` for the final update), so a replica's
trajectory is the one ``torch.optim`` gives it alone with ``lr = η_b`` (bitwise on CPU; tested).
"""

from __future__ import annotations

import torch

from entropy_lab.registry import Registry
from entropy_lab.validation import fail

OPTIMIZERS = Registry("optimizer")


def _per_replica(lr: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """``lr`` ``[B]`` viewed as ``[B, 1, ...]`` against ``param`` ``[B, ...]``."""
    if param.ndim == 0 or param.shape[0] != lr.shape[0]:
        raise fail("lr", lr.tolist(), f"one value per replica of a parameter with leading dim "
                   f"{lr.shape[0]} (got a parameter of shape {list(param.shape)})")
    return lr.to(param.dtype).view(-1, *([1] * (param.ndim - 1)))


class ReplicaSGD(torch.optim.Optimizer):
    """Plain SGD (no momentum) with a ``[B]`` learning rate: θ_b ← θ_b − η_b·g_b."""

    def __init__(self, params, lr: torch.Tensor):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.addcmul_(p.grad, -_per_replica(group["lr"], p))


class ReplicaAdam(torch.optim.Optimizer):
    """``torch.optim.Adam`` (β = (0.9, 0.999), ε = 1e-8) with a ``[B]`` learning rate."""

    def __init__(self, params, lr: torch.Tensor, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
                m.lerp_(grad, 1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step_size = _per_replica(group["lr"], p) / (1 - beta1 ** t)
                denom = (v.sqrt() / (1 - beta2 ** t) ** 0.5).add_(group["eps"])
                p.addcdiv_(m * -step_size, denom)


OPTIMIZERS.register("sgd", lambda params, lr: (
    torch.optim.SGD(params, lr=lr) if isinstance(lr, float) else ReplicaSGD(params, lr)))
OPTIMIZERS.register("adam", lambda params, lr: (
    torch.optim.Adam(params, lr=lr) if isinstance(lr, float) else ReplicaAdam(params, lr)))


def make_optimizer(name: str, params, lr) -> torch.optim.Optimizer:
    """The optimizer ``name`` over ``params``; ``lr`` a float or a float64 tensor ``[B]``."""
    return OPTIMIZERS.get(name)(params, lr)
