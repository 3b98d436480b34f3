"""What the simulator's optimizer trains: the tabular logits leaf, or a parameterised policy
θ -> logits ``[B, S, K]`` (:mod:`entropy_lab.policies`: loglinear, lowrank, mlp).

Every exact quantity stays exact because a policy gives the logits of *all* states; what changes
with shared parameters is that an update on one state's samples moves the others. Two extra
first-order predictions measure how much (docs/theory.md, "Theorem 1"), per seed:

    dH_pred_param = ∇_θH·Δθ = (J_θᵀ ∇_zH)·Δθ   the chain rule through z(θ): one backward pass
                                             of z(θ_before) with cotangent ∇_zH (a VJP; no
                                             [B, S, K] tangent), then a dot product with Δθ
    dH_pred_orth  = ∇_zH·(−η Σ_m g_z^(m))    SGD only: the logit step a tabular policy would take
                                             on the same minibatch gradients g_z = ∂loss/∂z, i.e.
                                             each state's logits moved only by its own samples
                                             (the paper's orthogonality assumption)

beside ``dH_pred`` = ∇_zH·Δz with the actual logit change. For the tabular policy all three
coincide (the columns are then not written; ``tabular`` frames are as before).

A sampled minibatch's g_z is nonzero only on the rows of its tokens' states: it is kept as
``(states [B, n], ∂loss/∂z_tokens [B, n, K])`` and ∇_zH·g_z = Σ_i ⟨∇_zH[b, states_i], g_i⟩ is
taken on those rows (expected mode's dense ``[B, S, K]`` gradient is kept as it is). At large
S·K (the LLM-like preset at C = K = 1024) every avoided ``[B, S, K]`` buffer counts
(benchmarks/README.md, "Shared-parameter policy").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from entropy_lab.policies import gather_rows, make_policy
from entropy_lab.validation import fail

NAN = float("nan")


@dataclass
class _Evaluation:
    """One forward z(θ) ``[B, S, K]`` on leaves ``theta`` (copies of θ) with its graph."""

    key: tuple
    theta: dict
    logits: torch.Tensor
    detached: dict = field(init=False)

    def __post_init__(self):
        self.detached = {k: v.detach() for k, v in self.theta.items()}

    @classmethod
    def at(cls, policy, theta: dict) -> _Evaluation:
        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in theta.items()}
        with torch.enable_grad():
            return cls((), leaves, policy.forward(leaves, policy.fixed))


class SimParams:
    """The trainable policy of one run.

    Args:
        init_logits: ``[B, S, K]`` float64 initial logits (the problem's, with per-seed noise).
        name: a registered policy (``entropy_lab.policies.policy_names()``).
        options: the policy builder's keyword options (``rank``, ``dim``, ...).
        seed: seeds the policy's own random initialisation (features, U, W1), drawn for all B
            seeds at once and apart from the sampling streams.
        orthogonal: whether to keep the minibatches' logit gradients for dH_pred_orth (only an
            SGD step has the tabular counterpart it needs; the loop passes
            ``optimizer == "sgd"``).
    """

    def __init__(self, init_logits: torch.Tensor, name: str = "tabular",
                 options: dict | None = None, seed: int = 0, orthogonal: bool = True):
        self.name = name
        self.tabular = name == "tabular"
        if self.tabular and options:
            raise fail("policy options", sorted(options), "none for the tabular policy")
        gen = torch.Generator().manual_seed(1_000_003 + seed)
        self.policy = make_policy(name, init_logits, gen, **(options or {}))
        for p in self.policy.parameters():
            p.requires_grad_(True)
        self.orthogonal = orthogonal and not self.tabular
        self._z_grads: list[tuple[torch.Tensor | None, torch.Tensor]] = []
        self._at: _Evaluation | None = None      # the forward at the current θ
        self._before: _Evaluation | None = None  # the one begin_step handed out

    def parameters(self) -> list[torch.Tensor]:
        return self.policy.parameters()

    def logits(self) -> torch.Tensor:
        """``[B, S, K]``, differentiable w.r.t. :meth:`parameters` (the tabular policy's is its
        parameter itself)."""
        return self.policy.logits()

    def state_logits(self, states_bn: torch.Tensor) -> torch.Tensor:
        """``[B, n, K]`` logits of the states ``states_bn`` ``[B, n]``, differentiable w.r.t.
        :meth:`parameters` (``policies.Policy.rows``: no ``[B, S, K]`` tensor for a
        parameterised policy; for the tabular one the gather of its parameter). Their gradient
        is kept for dH_pred_orth."""
        z_bnk = self.policy.state_logits(states_bn)
        if self.orthogonal:
            z_bnk.register_hook(lambda g: self._keep(states_bn, g))
        return z_bnk

    def current(self, frozen: bool = False, out: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, S, K]`` detached logits now. A parameterised policy's forward is evaluated once
        per θ (cached on the parameters' in-place version counters) and is a fresh tensor that
        later updates do not change; the tabular policy's is a view of its parameter, which the
        optimizer overwrites, so ``frozen=True`` copies it (into ``out`` where given)."""
        if self.tabular:
            z = self.policy.logits().detach()
            if not frozen:
                return z
            return z.clone() if out is None else out.copy_(z)
        return self._evaluate().logits.detach()

    def _evaluate(self) -> _Evaluation:
        """The forward at the current θ, on a copy of θ with its autograd graph kept (the
        graph holds θ-sized tensors only), so :meth:`predictions` can pull ∇_zH back through
        it without a second ``[B, S, K]`` forward."""
        key = tuple((id(p), p._version) for p in self.parameters())
        if self._at is None or self._at.key != key:
            theta = {k: v.detach().clone().requires_grad_(True)
                     for k, v in self.policy.params.items()}
            with torch.enable_grad():
                z_bsk = self.policy.forward(theta, self.policy.fixed)
            self._at = _Evaluation(key, theta, z_bsk)
        return self._at

    def set_logit_gradient(self, grad_bsk: torch.Tensor) -> None:
        """Write ∂loss/∂z into the parameters' ``.grad`` (expected mode): its pull-back Jᵀg
        through z(θ) (g itself for the tabular policy)."""
        if self.tabular:  # z = θ_z: the gradient itself (the same tensor autograd would copy)
            (z,) = self.parameters()
            z.grad = grad_bsk.detach().to(z.dtype)
            return
        for p in self.parameters():
            p.grad = None
        self.logits().backward(grad_bsk)
        self.add_logit_gradient(grad_bsk)

    # ------------------------------------------------------------ first-order predictions
    def begin_step(self) -> dict | None:
        """θ before the update (None for the tabular policy): detached copies."""
        self._z_grads = []
        if self.tabular:
            return None
        self._before = self._evaluate()
        return self._before.detached

    def add_logit_gradient(self, grad_bsk: torch.Tensor | None) -> None:
        """Keep one minibatch's dense ∂loss/∂z ``[B, S, K]`` (for dH_pred_orth)."""
        if grad_bsk is not None and self.orthogonal:
            self._keep(None, grad_bsk)

    def _keep(self, states_bn: torch.Tensor | None, grad: torch.Tensor) -> None:
        self._z_grads.append((states_bn, grad.detach()))

    def predictions(self, theta_before: dict | None, grad_entropy_bsk: torch.Tensor,
                    lr: float | torch.Tensor, optimizer: str) -> dict:
        """``dH_pred_param`` and ``dH_pred_orth`` ``[B]`` (empty for the tabular policy); ``lr`` a
        float or one value per replica ``[B]``."""
        if theta_before is None:
            return {}
        names = list(theta_before)
        ev = self._before
        if ev is None or ev.detached is not theta_before:  # a θ begin_step did not hand out
            ev = _Evaluation.at(self.policy, theta_before)
        self._before = None  # its graph is consumed: never reused
        if self._at is ev:
            self._at = None
        with torch.enable_grad():
            pulled = torch.autograd.grad(ev.logits, [ev.theta[k] for k in names],
                                         grad_entropy_bsk, allow_unused=True)
        b = grad_entropy_bsk.shape[0]
        param = torch.zeros(b, dtype=torch.float64)
        for k, g in zip(names, pulled):
            if g is not None:  # (J_θᵀ ∇_zH)·Δθ, per seed
                delta = self.policy.params[k].detach() - theta_before[k]
                param = param + (g * delta).reshape(b, -1).sum(-1)
        out = {"dH_pred_param": param}
        if optimizer == "sgd" and self._z_grads:
            dot = torch.zeros(b, dtype=torch.float64)
            for states, g in self._z_grads:
                rows = grad_entropy_bsk if states is None else \
                    gather_rows(grad_entropy_bsk, states)
                dot = dot + (rows * g).reshape(b, -1).sum(-1)
            out["dH_pred_orth"] = -lr * dot  # lr: a float or [B]
        else:  # Adam's step is not a fixed linear map of g_z: no tabular counterpart
            out["dH_pred_orth"] = torch.full((b,), NAN, dtype=torch.float64)
        return out
