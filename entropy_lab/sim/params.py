"""What the simulator's optimizer trains: the tabular logits leaf, or a parameterised policy
θ -> logits ``[B, S, K]`` (:mod:`entropy_lab.policies`: loglinear, lowrank, mlp).

Every exact quantity stays exact because a policy gives the logits of *all* states; what changes
with shared parameters is that an update on one state's samples moves the others. Two extra
first-order predictions measure how much (docs/theory.md, "Theorem 1"), per seed:

    dH_pred_param = ∇_θH·Δθ                  the chain rule through z(θ) (a JVP at θ_before)
    dH_pred_orth  = ∇_zH·(−η Σ_m g_z^(m))    SGD only: the logit step a tabular policy would take
                                             on the same minibatch gradients g_z = ∂loss/∂z, i.e.
                                             each state's logits moved only by its own samples
                                             (the paper's orthogonality assumption)

beside ``dH_pred`` = ∇_zH·Δz with the actual logit change. For the tabular policy all three
coincide (the columns are then not written; ``tabular`` frames are as before).
"""

from __future__ import annotations

import torch

from entropy_lab.policies import make_policy
from entropy_lab.validation import fail

NAN = float("nan")


class SimParams:
    """The trainable policy of one run.

    Args:
        init_logits: ``[B, S, K]`` float64 initial logits (the problem's, with per-seed noise).
        name: a registered policy (``entropy_lab.policies.policy_names()``).
        options: the policy builder's keyword options (``rank``, ``dim``, ...).
        seed: seeds the policy's own random initialisation (features, U, W1), drawn for all B
            seeds at once and apart from the sampling streams.
    """

    def __init__(self, init_logits: torch.Tensor, name: str = "tabular",
                 options: dict | None = None, seed: int = 0):
        self.name = name
        self.tabular = name == "tabular"
        if self.tabular and options:
            raise fail("policy options", sorted(options), "none for the tabular policy")
        gen = torch.Generator().manual_seed(1_000_003 + seed)
        self.policy = make_policy(name, init_logits, gen, **(options or {}))
        for p in self.policy.parameters():
            p.requires_grad_(True)
        self._z_grad = None

    def parameters(self) -> list[torch.Tensor]:
        return self.policy.parameters()

    def logits(self) -> torch.Tensor:
        """``[B, S, K]``, differentiable w.r.t. :meth:`parameters` (the tabular policy's is its
        parameter itself)."""
        return self.policy.logits()

    def current(self) -> torch.Tensor:
        """``[B, S, K]`` detached logits now."""
        with torch.no_grad():
            return self.policy.logits().detach()

    def set_logit_gradient(self, grad_bsk: torch.Tensor) -> None:
        """Write ∂loss/∂z into the parameters' ``.grad`` (expected mode): its pull-back Jᵀg
        through z(θ) (g itself for the tabular policy)."""
        for p in self.parameters():
            p.grad = None
        self.logits().backward(grad_bsk)
        if not self.tabular:
            self.add_logit_gradient(grad_bsk)

    # ------------------------------------------------------------ first-order predictions
    def begin_step(self) -> dict | None:
        """θ before the update (None for the tabular policy)."""
        self._z_grad = None
        if self.tabular:
            return None
        return {k: v.detach().clone() for k, v in self.policy.params.items()}

    def add_logit_gradient(self, grad_bsk: torch.Tensor | None) -> None:
        """Accumulate one minibatch's ∂loss/∂z (for dH_pred_orth)."""
        if grad_bsk is None:
            return
        g = grad_bsk.detach()
        self._z_grad = g.clone() if self._z_grad is None else self._z_grad + g

    def predictions(self, theta_before: dict | None, grad_entropy_bsk: torch.Tensor,
                    lr: float, optimizer: str) -> dict:
        """``dH_pred_param`` and ``dH_pred_orth`` ``[B]`` (empty for the tabular policy)."""
        if theta_before is None:
            return {}
        names = list(theta_before)
        delta = tuple(self.policy.params[k].detach() - theta_before[k] for k in names)

        def forward(*values):
            return self.policy.forward(dict(zip(names, values)), self.policy.fixed)

        _, jvp = torch.func.jvp(forward, tuple(theta_before[k] for k in names), delta)
        out = {"dH_pred_param": (grad_entropy_bsk * jvp).sum((1, 2))}
        b = grad_entropy_bsk.shape[0]
        if optimizer == "sgd" and self._z_grad is not None:
            out["dH_pred_orth"] = (grad_entropy_bsk * (-lr * self._z_grad)).sum((1, 2))
        else:  # Adam's step is not a fixed linear map of g_z: no tabular counterpart
            out["dH_pred_orth"] = torch.full((b,), NAN, dtype=torch.float64)
        return out
