"""Parameterised policies: θ -> logits of every state, ``[B, S, K]``, with a leading seeds dim.

A policy maps a parameter dict θ (every tensor with leading dim B = seeds, so replicas stay
independent) to the logits of all S states, so every exact quantity of a problem stays exact
(``forward``), and to the logits of n given states per seed, ``[B, n, K]`` (``rows``: what a
minibatch of sampled tokens needs, without the ``[B, S, K]`` tensor):

    tabular     z = θ_z                                         θ_z ``[B, S, K]``
    loglinear   z(s, a) = z0(s, a) + φ(s, a)·θ                  θ ``[B, D]``, φ ``[S, K, D]`` fixed
    lowrank     z(s, a) = z0(s, a) + w_a + U_s·V_a              w ``[B, K]``, U ``[B, S, r]``,
                                                                V ``[B, r, K]``
    mlp         z(s, ·) = z0(s, ·) + tanh(e_s W1 + b1) W2       e ``[S, d]`` fixed embeddings

Every non-tabular policy starts at z = z0 (the problem's initial logits): loglinear θ = 0,
lowrank w = 0, V = 0 (U random), mlp W2 = 0 (W1 random). A loglinear policy with one-hot
features φ(s, a) = e_{(s, a)} is the tabular one with z = z0 + θ (same frame); with shared
features an update on one state moves the others, the regime of shared parameters
(low-rank adapters: arXiv:2106.09685; softmax-linear policies: arXiv:1908.00261).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from entropy_lab.registry import Registry
from entropy_lab.validation import check_number, check_tensor, fail

F64 = torch.float64
Params = dict[str, torch.Tensor]


@dataclass
class Policy:
    """θ -> logits. ``params``: the trainable tensors (leading dim B); ``fixed``: constants.

    ``forward(params, fixed) -> [B, S, K]``; ``rows(params, fixed, states_bn) -> [B, n, K]``, the
    logits of states ``states_bn`` ``[B, n]`` (long), equal to ``forward(...)[b, states_bn[b]]``
    up to the summation order of the matrix products (tests/test_policies.py).
    """

    name: str
    params: Params
    fixed: Params
    forward: Callable[[Params, Params], torch.Tensor]
    rows: Callable[[Params, Params, torch.Tensor], torch.Tensor]

    def logits(self, params: Params | None = None) -> torch.Tensor:
        """``[B, S, K]`` logits of every state at θ = ``params`` (the policy's own when None)."""
        return self.forward(self.params if params is None else params, self.fixed)

    def state_logits(self, states_bn: torch.Tensor, params: Params | None = None) -> torch.Tensor:
        """``[B, n, K]`` logits of the states ``states_bn`` ``[B, n]`` at θ = ``params``."""
        return self.rows(self.params if params is None else params, self.fixed, states_bn)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    @property
    def num_parameters(self) -> int:
        """Trainable scalars per seed."""
        return sum(p[0].numel() for p in self.params.values())


POLICIES: Registry[Callable[..., Policy]] = Registry("policy")


def gather_rows(x_bsd: torch.Tensor, states_bn: torch.Tensor) -> torch.Tensor:
    """``x[b, states_bn[b, i], :]``: ``[B, S, D]`` (or ``[S, D]``, one table for every seed) and
    ``[B, n]`` -> ``[B, n, D]``."""
    if x_bsd.ndim == 2:
        x_bsd = x_bsd.expand(states_bn.shape[0], *x_bsd.shape)
    d = x_bsd.shape[-1]
    return x_bsd.gather(1, states_bn.unsqueeze(-1).expand(*states_bn.shape, d))


def _randn(shape, generator, scale, shared: bool = False):
    """N(0, scale²) of ``shape`` (leading dim B); ``shared``: one draw broadcast to every seed,
    so all replicas start from the same θ."""
    if shared:
        one = scale * torch.randn((1, *shape[1:]), generator=generator, dtype=F64)
        return one.expand(shape).clone()
    return scale * torch.randn(shape, generator=generator, dtype=F64)


@POLICIES.register("tabular")
def tabular(z_bsk: torch.Tensor, generator=None) -> Policy:
    """One free logit per (state, action): θ_z = the initial logits ``[B, S, K]``."""
    check_tensor("z_bsk", z_bsk, ndim=3, axes="[B, S, K]")
    return Policy("tabular", {"z": z_bsk.detach().to(F64).clone()}, {},
                  lambda p, f: p["z"], lambda p, f, states: gather_rows(p["z"], states))


@POLICIES.register("loglinear")
def loglinear(z_bsk: torch.Tensor, generator=None, *, features: torch.Tensor | None = None,
              dim: int = 16, feature_scale: float = 1.0) -> Policy:
    """z = z0 + φ·θ; ``features`` φ ``[S, K, D]`` (random N(0, scale²) of width ``dim`` if None)."""
    check_tensor("z_bsk", z_bsk, ndim=3, axes="[B, S, K]")
    b, s, k = z_bsk.shape
    if features is None:
        check_number("dim", dim, lo=1, integer=True)
        features = _randn((s, k, dim), generator, feature_scale)
    check_tensor("features", features, ndim=3, axes="[S, K, D]")
    if tuple(features.shape[:2]) != (s, k):
        raise fail("features", features, f"shape [S, K, D] = [{s}, {k}, D] (the problem's states, "
                   "actions)")
    theta = torch.zeros(b, features.shape[2], dtype=F64)
    d = features.shape[2]

    def rows(p: Params, f: Params, states: torch.Tensor) -> torch.Tensor:
        nb, n = states.shape
        phi_bnkd = f["phi"][states]  # [B, n, K, D]
        lin = torch.bmm(phi_bnkd.reshape(nb, n * k, d), p["theta"].unsqueeze(-1))
        return gather_rows(f["z0"], states) + lin.reshape(nb, n, k)

    return Policy("loglinear", {"theta": theta},
                  {"z0": z_bsk.detach().to(F64).clone(), "phi": features.to(F64)},
                  lambda p, f: f["z0"] + torch.einsum("skd,bd->bsk", f["phi"], p["theta"]), rows)


@POLICIES.register("lowrank")
def lowrank(z_bsk: torch.Tensor, generator=None, *, rank: int = 4,
            init_scale: float = 1.0, shared_init: bool = False) -> Policy:
    """z = z0 + w + U·V (rank r): U ~ N(0, init_scale²) per seed (one draw for every seed with
    ``shared_init``), w = 0, V = 0."""
    check_tensor("z_bsk", z_bsk, ndim=3, axes="[B, S, K]")
    check_number("rank", rank, lo=1, integer=True)
    b, s, k = z_bsk.shape
    params = {"w": torch.zeros(b, k, dtype=F64),
              "U": _randn((b, s, rank), generator, init_scale, shared_init),
              "V": torch.zeros(b, rank, k, dtype=F64)}
    def rows(p: Params, f: Params, states: torch.Tensor) -> torch.Tensor:
        base = gather_rows(f["z0"], states) + p["w"][:, None, :]
        return base.baddbmm_(gather_rows(p["U"], states), p["V"])

    # (z0 + w) + U·V accumulated into one fresh [B, S, K] buffer (baddbmm_, beta = alpha = 1)
    return Policy("lowrank", params, {"z0": z_bsk.detach().to(F64).clone()},
                  lambda p, f: (f["z0"] + p["w"][:, None, :]).baddbmm_(p["U"], p["V"]), rows)


@POLICIES.register("mlp")
def mlp(z_bsk: torch.Tensor, generator=None, *, embed_dim: int = 16, hidden: int = 32,
        init_scale: float = 1.0, shared_init: bool = False) -> Policy:
    """z = z0 + tanh(e W1 + b1) W2 over fixed random state embeddings e ``[S, d]``; W2 = 0; W1
    per seed (one draw for every seed with ``shared_init``)."""
    check_tensor("z_bsk", z_bsk, ndim=3, axes="[B, S, K]")
    check_number("embed_dim", embed_dim, lo=1, integer=True)
    check_number("hidden", hidden, lo=1, integer=True)
    b, s, k = z_bsk.shape
    emb = _randn((s, embed_dim), generator, 1.0)
    params = {"W1": _randn((b, embed_dim, hidden), generator, init_scale / embed_dim ** 0.5,
                           shared_init),
              "b1": torch.zeros(b, 1, hidden, dtype=F64),
              "W2": torch.zeros(b, hidden, k, dtype=F64)}

    def forward(p: Params, f: Params) -> torch.Tensor:  # z0 + h W2 as one baddbmm
        return torch.baddbmm(f["z0"], torch.tanh(f["e"] @ p["W1"] + p["b1"]), p["W2"])

    def rows(p: Params, f: Params, states: torch.Tensor) -> torch.Tensor:
        hidden_bnh = torch.tanh(gather_rows(f["e"], states) @ p["W1"] + p["b1"])
        return torch.baddbmm(gather_rows(f["z0"], states), hidden_bnh, p["W2"])

    return Policy("mlp", params, {"z0": z_bsk.detach().to(F64).clone(), "e": emb}, forward,
                  rows)


def make_policy(name: str, z_bsk: torch.Tensor, generator: torch.Generator | None = None,
                **options) -> Policy:
    """Build the registered policy ``name`` starting at logits ``z_bsk`` ``[B, S, K]``."""
    return POLICIES.get(name)(z_bsk, generator, **options)


def policy_names() -> list[str]:
    return POLICIES.names()
