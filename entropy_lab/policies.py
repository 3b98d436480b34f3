"""Parameterised policies: θ -> logits of every state, ``[B, S, K]``, with a leading seeds dim.

A policy maps a parameter dict θ (every tensor with leading dim B = seeds, so replicas stay
independent) to the logits of all S states, so every exact quantity of a problem stays exact:

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
    """θ -> logits. ``params``: the trainable tensors (leading dim B); ``fixed``: constants."""

    name: str
    params: Params
    fixed: Params
    forward: Callable[[Params, Params], torch.Tensor]

    def logits(self, params: Params | None = None) -> torch.Tensor:
        """``[B, S, K]`` logits of every state at θ = ``params`` (the policy's own when None)."""
        return self.forward(self.params if params is None else params, self.fixed)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    @property
    def num_parameters(self) -> int:
        """Trainable scalars per seed."""
        return sum(p[0].numel() for p in self.params.values())


POLICIES: Registry[Callable[..., Policy]] = Registry("policy")


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
                  lambda p, f: p["z"])


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
    return Policy("loglinear", {"theta": theta},
                  {"z0": z_bsk.detach().to(F64).clone(), "phi": features.to(F64)},
                  lambda p, f: f["z0"] + torch.einsum("skd,bd->bsk", f["phi"], p["theta"]))


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
    return Policy("lowrank", params, {"z0": z_bsk.detach().to(F64).clone()},
                  lambda p, f: f["z0"] + p["w"][:, None, :] + p["U"] @ p["V"])


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

    def forward(p: Params, f: Params) -> torch.Tensor:
        return f["z0"] + torch.tanh(f["e"] @ p["W1"] + p["b1"]) @ p["W2"]

    return Policy("mlp", params, {"z0": z_bsk.detach().to(F64).clone(), "e": emb}, forward)


def make_policy(name: str, z_bsk: torch.Tensor, generator: torch.Generator | None = None,
                **options) -> Policy:
    """Build the registered policy ``name`` starting at logits ``z_bsk`` ``[B, S, K]``."""
    return POLICIES.get(name)(z_bsk, generator, **options)


def policy_names() -> list[str]:
    return POLICIES.names()
