"""Named algorithms: each preset is one registered function returning an :class:`Algorithm`.

    get_preset("dapo")                              # the documented defaults
    get_preset("dapo", eps_high=0.3, minibatches=8) # flat keys go to the part that accepts them
    get_preset("repo_r", **{"controller.zeta_max": 0.02})   # dotted keys name the part

Flat override keys resolve to every part whose hyperparameters accept them (``eps_high`` of
``adapo`` sets both the loss's ε_high and the controller's start value, which is what a user
means); top-level fields (``epochs``, ``minibatches``, ``agg``, ``loss``, ``advantage``, ...) are
replaced first, so ``get_preset("grpo", loss_name="cispo", eps_high=5.0)`` works. Unknown keys raise
an error listing every valid key.

Defaults (docs/algorithms.md, "Losses"; the paper's own settings are not public):

================ ========= =========== ================== ============ ======================= ===
preset           advantage shaping     loss               controller   agg                     E×M
================ ========= =========== ================== ============ ======================= ===
grpo             grpo      —           ppo 0.2/0.2 c=3    —            seq-mean-token-mean     1×4
dr_grpo          dr_grpo   —           ppo 0.2/0.2 c=3    —            seq-mean-token-sum-norm 1×4
rloo             rloo      —           ppo 0.2/0.2 c=3    —            token-mean              1×1
ppo              dr_grpo   —           ppo 0.2/0.2 c=3    —            token-mean              2×4
dapo             grpo      —           ppo 0.2/0.28 c=3   —            token-mean              1×4
gspo             grpo      —           gspo 3e-4/4e-4     —            seq-mean-token-mean     1×4
cispo            grpo      —           cispo ε_high 0.28  —            token-mean              1×4
clip_cov         grpo      —           clip_cov (verl)    —            token-mean              1×4
kl_cov           grpo      —           kl_cov (verl)      —            token-mean              1×4
entropy_bonus    grpo      —           entropy_bonus 1e-3 —            token-mean              1×4
adaptive_entropy grpo      —           adaptive_entropy   entropy_coef token-mean              1×4
repo             grpo      repo β 0.01 ppo 0.2/0.2 c=3    —            token-mean              1×4
repo_r           grpo      repo_r      ppo 0.2/0.2 c=3    zeta         token-mean              1×4
repo_d           grpo      repo_d      ppo 0.2/0.2 c=3    zeta         token-mean              1×4
adapo            grpo      —           ppo 0.2/0.28 c=3   eps_high     token-mean              1×4
tis              grpo      —           tis C=2            —            token-mean              1×4
icepop           grpo      —           icepop [0.5, 5]    —            token-mean              1×4
psr              signed    —           ppo 0.2/0.2 c=3    —            seq-mean-token-mean     1×4
nsr              signed    —           ppo 0.2/0.2 c=3    —            seq-mean-token-mean     1×4
w_reinforce      signed    —           ppo 0.2/0.2 c=3    —            seq-mean-token-mean     1×4
================ ========= =========== ================== ============ ======================= ===

E×M = epochs × minibatches: only ``rloo`` is strictly on-policy (one optimizer step per batch, so
clipping can act only on sampler/trainer mismatch); the others take several steps per batch, as
LLM trainers do (verl's ``ppo_mini_batch_size``), which is where clipping matters. ``ppo`` has no
critic here: a group-mean baseline with two epochs. ``dapo`` keeps only the clip band and
token-mean of DAPO (no dynamic sampling, no overlong shaping). c = dual clip. Controllers:
``repo_r`` ζ 1e-3 in [1e-4, 0.05] doubling/halving with sign flip, raw log π of the taken token
(``form="centred"``: L = log π + H instead, ``shaping.repo_r``); ``repo_d`` the same without
the flip (ΔH carries the sign); ``adapo`` ε_high from 0.28 in [0.1, 0.5], ×/÷1.1;
``adaptive_entropy`` coefficient from 0, ±5e-3 in [0, 0.1]. Every target is the initial entropy.
``psr`` / ``nsr`` / ``w_reinforce`` are Zhu et al.'s (arXiv 2506.01347) sample-sign
decomposition of ±1-reward REINFORCE, in GRPO's loss and schedule: only correct samples (A = +1),
only wrong ones (A = −1), or correct ones weighted λ = 0.1 (``advantages.signed``).
``tis`` / ``icepop`` correct for the sampler/trainer mismatch (``algorithms/corrections.py``):
given the sampler's log-probs (``Algorithm.loss(..., sampler_logp=...)``) they take verl's
layout, PPO on the trainer's recompute with the mismatch weight or mask; without them
``old_logp`` is the sampler's and the ratio itself is truncated (TIS) or masked (IcePop).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from entropy_lab.algorithms.recipe import PARTS, Algorithm, hp_keys, part_field, part_name
from entropy_lab.registry import Registry
from entropy_lab.validation import InputError

PRESETS: Registry = Registry("preset")

_PPO = {"eps_low": 0.2, "eps_high": 0.2, "dual_clip": 3.0}
_OFF = {"epochs": 1, "minibatches": 4}


def register_preset(name: str) -> Callable:
    """Decorator: register a zero-argument function returning an :class:`Algorithm`."""
    return PRESETS.register(name)


def preset_names() -> list[str]:
    """All registered presets."""
    return PRESETS.names()


def _fields() -> list[str]:
    return [f.name for f in dataclasses.fields(Algorithm)]


def _valid_keys(algo: Algorithm) -> list[str]:
    keys = set(_fields()) | {"loss"}
    for part in PARTS:
        for k in hp_keys(part, part_name(algo, part)):
            keys.update({k, f"{part}.{k}"})
    return sorted(keys)


def get_preset(name: str, **overrides) -> Algorithm:
    """The preset ``name`` with ``overrides`` applied (resolution rules in the module docstring).

    Raises:
        UnknownNameError: unknown preset (lists the choices).
        InputError: an override key no part accepts (lists the valid keys).
    """
    return apply_overrides(PRESETS.get(name)(), **overrides)


def apply_overrides(algo: Algorithm, **overrides) -> Algorithm:
    """``algo`` with ``overrides`` applied — the one override router (``get_preset``, the
    simulator and the harness all use it): fields by name (``loss=`` for ``loss_name``; renaming a
    part keeps only the old hyperparameters the new part accepts), else the hyperparameter of the
    part(s) that accept the key, or a dotted ``part.key``.

    Raises:
        InputError: an override key no part accepts (lists the valid keys).
    """
    name = algo.name
    if "loss" in overrides:
        overrides = {("loss_name" if k == "loss" else k): v for k, v in overrides.items()}
    fields = set(_fields())
    top = {k: v for k, v in overrides.items() if k in fields}
    rest = {k: v for k, v in overrides.items() if k not in fields}
    if top:
        algo = dataclasses.replace(algo, **_reset_hp_on_rename(algo, top))
    if not rest:
        return algo
    hps = {part: dict(getattr(algo, f"{part}_hp")) for part in PARTS}
    for key, value in rest.items():
        owners = _owners(algo, key)
        if not owners:
            raise InputError(f"unknown override {key!r} for algorithm {name!r}; "
                             f"valid keys: {_valid_keys(algo)}")
        leaf = key.split(".", 1)[-1]
        for part in owners:
            hps[part][leaf] = value
    return dataclasses.replace(algo, **{f"{p}_hp": hps[p] for p in PARTS})


def _owners(algo: Algorithm, key: str) -> list[str]:
    if "." in key:
        part, leaf = key.split(".", 1)
        if part in PARTS and leaf in hp_keys(part, part_name(algo, part)):
            return [part]
        return []
    return [p for p in PARTS if key in hp_keys(p, part_name(algo, p))]


def _reset_hp_on_rename(algo: Algorithm, top: dict) -> dict:
    """When a part is renamed, keep only the old hyperparameters the new part accepts."""
    out = dict(top)
    for part in PARTS:
        if part_field(part) in top and f"{part}_hp" not in top:
            allowed = set(hp_keys(part, top[part_field(part)]))
            out[f"{part}_hp"] = {k: v for k, v in getattr(algo, f"{part}_hp").items()
                                 if k in allowed}
    return out


@register_preset("grpo")
def _grpo() -> Algorithm:
    return Algorithm("grpo", "grpo", loss_name="ppo", loss_hp=dict(_PPO), agg="seq-mean-token-mean",
                     **_OFF)


@register_preset("dr_grpo")
def _dr_grpo() -> Algorithm:
    return Algorithm("dr_grpo", "dr_grpo", loss_name="ppo", loss_hp=dict(_PPO),
                     agg="seq-mean-token-sum-norm", **_OFF)


@register_preset("rloo")
def _rloo() -> Algorithm:
    return Algorithm("rloo", "rloo", loss_name="ppo", loss_hp=dict(_PPO), epochs=1, minibatches=1)


@register_preset("ppo")
def _ppo() -> Algorithm:
    return Algorithm("ppo", "dr_grpo", loss_name="ppo", loss_hp=dict(_PPO), epochs=2, minibatches=4)


def _dapo_hp() -> dict:
    return {"eps_low": 0.2, "eps_high": 0.28, "dual_clip": 3.0}


@register_preset("dapo")
def _dapo() -> Algorithm:
    return Algorithm("dapo", "grpo", loss_name="ppo", loss_hp=_dapo_hp(), **_OFF)


@register_preset("gspo")
def _gspo() -> Algorithm:
    return Algorithm("gspo", "grpo", loss_name="gspo", loss_hp={"eps_low": 3e-4, "eps_high": 4e-4},
                     agg="seq-mean-token-mean", **_OFF)


@register_preset("cispo")
def _cispo() -> Algorithm:
    return Algorithm("cispo", "grpo", loss_name="cispo", loss_hp={"eps_high": 0.28}, **_OFF)


@register_preset("adapo")
def _adapo() -> Algorithm:
    return Algorithm("adapo", "grpo", loss_name="ppo", loss_hp=_dapo_hp(), controller="eps_high",
                     controller_hp={"eps_high": 0.28}, **_OFF)


@register_preset("repo")
def _repo() -> Algorithm:
    return Algorithm("repo", "grpo", shaping="repo", shaping_hp={"beta": 0.01}, loss_name="ppo",
                     loss_hp=dict(_PPO), **_OFF)


@register_preset("repo_r")
def _repo_r() -> Algorithm:
    return Algorithm("repo_r", "grpo", shaping="repo_r",
                     shaping_hp={"zeta": 1e-3, "clamp_sign": True, "logp_floor": -20.0,
                                 "form": "raw"},
                     loss_name="ppo", loss_hp=dict(_PPO), controller="zeta",
                     controller_hp={"zeta": 1e-3, "zeta_min": 1e-4, "zeta_max": 0.05,
                                    "factor": 2.0, "sign_flip": True}, **_OFF)


@register_preset("repo_d")
def _repo_d() -> Algorithm:
    return Algorithm("repo_d", "grpo", shaping="repo_d", shaping_hp={"zeta": 1e-3},
                     loss_name="ppo", loss_hp=dict(_PPO), controller="zeta",
                     controller_hp={"zeta": 1e-3, "zeta_min": 1e-4, "zeta_max": 0.05,
                                    "factor": 2.0, "sign_flip": False}, **_OFF)


@register_preset("clip_cov")
def _clip_cov() -> Algorithm:
    return Algorithm("clip_cov", "grpo", loss_name="clip_cov",
                     loss_hp={"eps_low": 0.2, "eps_high": 0.2, "clip_cov_ratio": 2e-4,
                              "clip_cov_lb": 1.0, "clip_cov_ub": 5.0}, **_OFF)


@register_preset("kl_cov")
def _kl_cov() -> Algorithm:
    return Algorithm("kl_cov", "grpo", loss_name="kl_cov",
                     loss_hp={"kl_cov_ratio": 2e-4, "kl_coef": 1.0}, **_OFF)


@register_preset("entropy_bonus")
def _entropy_bonus() -> Algorithm:
    return Algorithm("entropy_bonus", "grpo", loss_name="entropy_bonus",
                     loss_hp={**_PPO, "entropy_coef": 1e-3}, **_OFF)


@register_preset("adaptive_entropy")
def _adaptive_entropy() -> Algorithm:
    return Algorithm("adaptive_entropy", "grpo", loss_name="adaptive_entropy",
                     loss_hp={**_PPO, "entropy_coef": 0.0}, controller="entropy_coef",
                     controller_hp={"entropy_coef": 0.0, "delta": 5e-3, "coef_min": 0.0,
                                    "coef_max": 0.1}, **_OFF)


@register_preset("tis")
def _tis() -> Algorithm:
    return Algorithm("tis", "grpo", loss_name="tis", loss_hp={"cap": 2.0, **_PPO}, **_OFF)


@register_preset("icepop")
def _icepop() -> Algorithm:
    return Algorithm("icepop", "grpo", loss_name="icepop",
                     loss_hp={"band_low": 0.5, "band_high": 5.0, **_PPO}, **_OFF)


def _signed(name: str, positive: float, negative: float) -> Algorithm:
    return Algorithm(name, "signed",
                     advantage_hp={"positive_weight": positive, "negative_weight": negative},
                     loss_name="ppo", loss_hp=dict(_PPO), agg="seq-mean-token-mean", **_OFF)


@register_preset("psr")
def _psr() -> Algorithm:
    return _signed("psr", 1.0, 0.0)


@register_preset("nsr")
def _nsr() -> Algorithm:
    return _signed("nsr", 0.0, 1.0)


@register_preset("w_reinforce")
def _w_reinforce() -> Algorithm:
    return _signed("w_reinforce", 0.1, 1.0)
