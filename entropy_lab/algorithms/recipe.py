"""What the simulator and the harness execute: an :class:`Algorithm` (frozen spec) and its
:class:`AlgoState` (controller state, per replica).

One RL iteration with an algorithm ``algo`` (docs/algorithms.md, "The one RL step")::

    state = algo.init_state(initial_entropy)                  # once; [...] per replica
    adv_ng = algo.advantages(rewards_ng)                      # [..., N, G]
    adv_bt = broadcast_advantages(adv_ng, mask).flatten(-3, -2)   # [..., B, T], B = N·G
    adv_bt = algo.shape(adv_bt, logp_bt, mask_bt, state)      # REPO variants; identity otherwise
    for idx in algo.schedule(B, generator):                   # epochs × minibatches index sets
        loss, metrics = algo.loss(logp[..., idx, :], old[..., idx, :], adv[..., idx, :],
                                  mask[..., idx, :], state)
        ...backward, optimizer step...
    state.update(entropy)                                     # controllers, once per iteration

Neither world re-implements anything here: hyperparameters live in the spec, values a controller
drives (ζ, ε_high, the entropy coefficient) come from the state and override the spec's.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable

import torch

from entropy_lab.algorithms._tensors import check_positive_int, check_tokens
from entropy_lab.algorithms.advantages import get_advantage
from entropy_lab.algorithms.aggregation import AGGREGATIONS
from entropy_lab.algorithms.controllers import Controller, get_controller
from entropy_lab.algorithms.losses_common import get_loss
from entropy_lab.algorithms.shaping import get_shaping
from entropy_lab.validation import InputError, check_tensor, fail

# Arguments that the recipe supplies itself; they are never hyperparameters.
_SUPPLIED = {
    "advantage": {"rewards"},
    "shaping": {"advantages", "logp", "centered_logprob", "entropy", "target_entropy"},
    "loss": {"logp", "old_logp", "advantages", "mask", "agg"},  # plus its declared data_args
    "controller": {"self"},
}


def _params(fn: Callable) -> set[str]:
    target = fn.__init__ if inspect.isclass(fn) else fn
    return {
        p.name for p in inspect.signature(target).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def _owner_fn(owner: str, name: str | None):
    getters = {"advantage": get_advantage, "shaping": get_shaping, "loss": get_loss,
               "controller": get_controller}
    return None if name is None else getters[owner](name)


PARTS = ("advantage", "shaping", "loss", "controller")


def part_field(part: str) -> str:
    """The :class:`Algorithm` field holding the registered name of ``part``."""
    return "loss_name" if part == "loss" else part


def part_name(algo, part: str) -> str | None:
    """The registered name ``algo`` uses for ``part`` (advantage, shaping, loss, controller)."""
    return getattr(algo, part_field(part))


def hp_keys(owner: str, name: str | None) -> list[str]:
    """The hyperparameters the ``owner`` part named ``name`` accepts (sorted)."""
    fn = _owner_fn(owner, name)
    if fn is None:
        return []
    data = fn.data_args if owner == "loss" else frozenset()
    return sorted(_params(fn) - _SUPPLIED[owner] - data)


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """A complete policy-gradient algorithm as data (presets in :mod:`.presets`).

    Attributes:
        name: label used in logs and tables.
        advantage: registered advantage estimator (``grpo``, ``dr_grpo``, ``rloo``, ``reinforce``).
        advantage_hp: its keyword hyperparameters.
        shaping: registered advantage shaping (``repo``, ``repo_r``, ``repo_d``) or None.
        shaping_hp: its hyperparameters.
        loss_name: registered policy loss (the field cannot be called ``loss``: that is the
            method that evaluates it; ``get_preset`` accepts ``loss=`` as an override).
        loss_hp: its hyperparameters (not ``agg``, which is the field below).
        agg: aggregation mode passed to the loss.
        epochs: passes over each batch (≥ 1).
        minibatches: optimizer steps per pass (≥ 1); epochs = minibatches = 1 is strictly on-policy.
        controller: registered controller (``zeta``, ``eps_high``, ``entropy_coef``) or None.
        controller_hp: its constructor arguments.
        seed: seeds the state's CPU generator (random token selection in ``clip_cov`` when the
            caller passes no generator).
    """

    name: str
    advantage: str = "grpo"
    advantage_hp: dict = dataclasses.field(default_factory=dict)
    shaping: str | None = None
    shaping_hp: dict = dataclasses.field(default_factory=dict)
    loss_name: str = "ppo"
    loss_hp: dict = dataclasses.field(default_factory=dict)
    agg: str = "token-mean"
    epochs: int = 1
    minibatches: int = 1
    controller: str | None = None
    controller_hp: dict = dataclasses.field(default_factory=dict)
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise fail("name", self.name, "a non-empty string")
        for owner in PARTS:
            name = part_name(self, owner)
            if name is None and owner in ("advantage", "loss"):
                raise fail(owner, name, "a registered name")
            allowed = hp_keys(owner, name)
            hp = getattr(self, f"{owner}_hp")
            if not isinstance(hp, dict):
                raise fail(f"{owner}_hp", hp, "a dict")
            unknown = sorted(set(hp) - set(allowed))
            if unknown:
                raise InputError(
                    f"{owner}_hp has unknown keys {unknown} for {owner} {name!r}; "
                    f"allowed: {allowed}")
            object.__setattr__(self, f"{owner}_hp", dict(hp))
        AGGREGATIONS.get(self.agg)
        check_positive_int("epochs", self.epochs)
        check_positive_int("minibatches", self.minibatches)
        if self.controller is not None:
            cls = get_controller(self.controller)
            part = cls.owner
            if cls.key not in hp_keys(part, part_name(self, part)):
                raise fail("controller", self.controller,
                           f"a controller whose key is a hyperparameter of the {part} "
                           f"{part_name(self, part)!r}")
            cls(**self.controller_hp)  # validates the controller configuration now

    @property
    def on_policy(self) -> bool:
        """True when every batch gets exactly one optimizer step."""
        return self.epochs * self.minibatches == 1

    @property
    def pg_at_ratio_one(self) -> bool:
        """True when, at logp = old_logp, the loss gradient is the plain policy gradient: the loss
        declares ``pg_limit``, its hyperparameters — ``loss_hp`` over the loss's own signature
        defaults — satisfy it, and no controller drives one of its keys (an adaptive entropy
        coefficient starting at 0 does not stay there). The one r = 1 predicate of the package."""
        fn = get_loss(self.loss_name)
        limit = fn.pg_limit
        if limit is None:
            return False
        hp = {p.name: p.default for p in inspect.signature(fn).parameters.values()
              if p.default is not p.empty}
        hp.update(self.loss_hp)
        if any(k not in hp or hp[k] != v for k, v in limit.items()):
            return False
        if self.controller is None:
            return True
        ctrl = get_controller(self.controller)
        return not (ctrl.owner == "loss" and ctrl.key in limit)

    @property
    def needs_logits(self) -> bool:
        """True when the loss takes full logits ``[..., B, T, K]`` (explicit entropy bonus)."""
        return bool(get_loss(self.loss_name).needs_logits)

    def init_state(self, initial_entropy: torch.Tensor,
                   generator: torch.Generator | None = None) -> AlgoState:
        """A fresh state; controllers target ``initial_entropy`` ``[...]`` unless configured."""
        ctrl = None
        if self.controller is not None:
            ctrl = get_controller(self.controller)(**self.controller_hp)
        return AlgoState(self, ctrl, initial_entropy, generator)

    def advantages(self, rewards_ng: torch.Tensor) -> torch.Tensor:
        """Sequence advantages ``[..., N, G]`` from rewards ``[..., N, G]``."""
        return get_advantage(self.advantage)(rewards_ng, **self.advantage_hp)

    def shape(self, adv_bt: torch.Tensor, logp_bt: torch.Tensor, mask_bt: torch.Tensor,
              state: AlgoState, centered_logprob_bt: torch.Tensor | None = None) -> torch.Tensor:
        """REPO shaping of token advantages ``[..., B, T]`` (identity without shaping).

        ``logp_bt`` is detached here; padded positions may hold anything and come back as 0.
        """
        if self.shaping is None:
            return adv_bt
        fn = get_shaping(self.shaping)
        params = _params(fn)
        tensors = {"adv_bt": adv_bt, "logp_bt": logp_bt.detach()}
        if "centered_logprob" in params and centered_logprob_bt is not None:
            tensors["centered_logprob_bt"] = centered_logprob_bt.detach()
        adv, logp, *centred, m = check_tokens(mask_bt, **tensors)
        hp = {**self.shaping_hp, **state.overrides("shaping")}
        if centred:
            hp["centered_logprob"] = centred[0]
        if "entropy" in params:
            hp["entropy"] = state.entropy
            hp["target_entropy"] = state.target_entropy
        shaped = fn(adv, logp, **hp)
        return torch.where(m, shaped, torch.zeros((), dtype=shaped.dtype, device=shaped.device))

    def loss_fn(self) -> Callable:
        """The registered loss function."""
        return get_loss(self.loss_name)

    def loss(self, logp_bt, old_logp_bt, adv_bt, mask_bt, state: AlgoState, logits=None,
             generator: torch.Generator | None = None, sampler_logp=None):
        """(loss ``[...]``, metrics) of the configured loss with controller values applied.

        Data the loss declared on registration (``data_args``) is passed when given:
        ``logits`` ``[..., B, T, K]``, ``generator`` (else the state's), ``sampler_logp``
        ``[..., B, T]`` (verl's layout for ``tis`` / ``icepop``: ``old_logp_bt`` is then the
        trainer's recompute). A loss that did not declare ``sampler_logp`` never sees it.
        """
        fn = get_loss(self.loss_name)
        params = fn.data_args
        hp = {**self.loss_hp, **state.overrides("loss"), "agg": self.agg}
        if sampler_logp is not None and "sampler_logp" in params:
            hp["sampler_logp"] = sampler_logp
        if fn.needs_logits:
            if logits is None:
                raise fail("logits", None,
                           f"a [..., B, T, K] tensor: loss {self.loss_name!r} needs it")
            hp["logits"] = logits
        if "generator" in params:
            hp["generator"] = state.generator if generator is None else generator
        return fn(logp_bt, old_logp_bt, adv_bt, mask_bt, **hp)

    def schedule(self, num_seqs: int,
                 generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """epochs × minibatches index sets over the B axis.

        Each epoch draws a fresh permutation from ``generator`` (None: the identity order) and
        splits it into ``minibatches`` near-equal contiguous chunks (``torch.tensor_split``).
        Strictly on-policy (1 × 1): one set, every index in order, no random draw.
        """
        check_positive_int("num_seqs", num_seqs)
        if num_seqs < self.minibatches:
            raise fail("num_seqs", num_seqs, f">= minibatches ({self.minibatches})")
        sets = []
        for _ in range(self.epochs):
            if generator is None or self.on_policy:
                order = torch.arange(num_seqs)
            else:
                order = torch.randperm(num_seqs, generator=generator, device=generator.device)
            sets.extend(torch.tensor_split(order.cpu(), self.minibatches))
        return sets


class AlgoState:
    """Per-replica mutable state of one run of an :class:`Algorithm`.

    Holds the controller (if any), the target and last measured entropy ``[...]`` and a CPU
    generator. ``update(entropy)`` once per iteration; ``state_dict``/``load_state_dict`` for
    checkpoint/resume.
    """

    def __init__(self, algorithm: Algorithm, controller: Controller | None,
                 initial_entropy: torch.Tensor, generator: torch.Generator | None = None):
        h = check_tensor("initial_entropy", initial_entropy, axes="[...]").detach()
        self.algorithm_name = algorithm.name
        self.controller = controller
        self.entropy = h.to(torch.float64).clone()
        if controller is not None:
            controller.reset(h)
            self.target_entropy = controller.target.clone()
        else:
            self.target_entropy = self.entropy.clone()
        self.generator = generator or torch.Generator().manual_seed(algorithm.seed)

    def update(self, entropy: torch.Tensor) -> None:
        """Record the iteration's entropy ``[...]`` and step the controller once."""
        h = check_tensor("entropy", entropy, axes="[...]").detach().to(torch.float64)
        if h.shape != self.entropy.shape:
            raise fail("entropy", entropy, f"shape {list(self.entropy.shape)} (one per replica)")
        self.entropy = h.clone()
        if self.controller is not None:
            self.controller.update(h)

    def overrides(self, owner: str) -> dict[str, torch.Tensor]:
        """Controller-driven hyperparameters for ``owner`` ("shaping" or "loss")."""
        c = self.controller
        return {c.key: c.value} if c is not None and c.owner == owner else {}

    def values(self) -> dict[str, torch.Tensor]:
        """For logging: the controlled value(s) and ``entropy_target``, each ``[...]``."""
        out = {"entropy_target": self.target_entropy.clone()}
        if self.controller is not None:
            out[self.controller.key] = self.controller.value.clone()
        return out

    def state_dict(self) -> dict:
        return {
            "algorithm": self.algorithm_name,
            "entropy": self.entropy.clone(),
            "target_entropy": self.target_entropy.clone(),
            "controller": None if self.controller is None else self.controller.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, d: dict) -> None:
        if d.get("algorithm") != self.algorithm_name:
            raise fail("state_dict['algorithm']", d.get("algorithm"), repr(self.algorithm_name))
        if (d["controller"] is None) != (self.controller is None):
            raise fail("state_dict['controller']", d["controller"],
                       "a controller state exactly when this algorithm has a controller")
        self.entropy = d["entropy"].clone()
        self.target_entropy = d["target_entropy"].clone()
        if self.controller is not None:
            self.controller.load_state_dict(d["controller"])
        self.generator.set_state(d["generator"])
