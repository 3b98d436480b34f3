"""The simulator's configuration: one frozen dataclass, validated when it is built.

Fields that only make sense together with a problem or an algorithm (G >= 2 for group advantages,
a task switch on a problem without task B) are checked by :func:`check_against` once both are
known, so the error still names the field, the value and what was allowed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from entropy_lab.algorithms.conventions import TRAINING_CONVENTIONS as OLD_LOGP
from entropy_lab.precision.pipelines import precision_name
from entropy_lab.precision.sampling import sampling_names
from entropy_lab.sim.replicas import is_per_replica, replica_values
from entropy_lab.validation import InputError, check_field_choices, check_number, choice_field, fail

MODES = ("sampled", "expected")
OPTIMIZERS = ("sgd", "adam")
GEOMETRIES = ("vanilla", "natural")
RNG_MODES = ("batched", "per_seed")

# Advantage estimators that normalise or baseline within a group of G samples of one prompt.
GROUP_ADVANTAGES = ("grpo", "dr_grpo", "rloo")


def precision_names() -> tuple[str, ...]:
    """The values of ``SimConfig.precision``: ``"exact"`` (= None) and every registered
    pipeline (``entropy_lab.precision.pipeline_names()``, imported when first needed)."""
    from entropy_lab.precision import pipeline_names  # lazy: precision imports much more

    return ("exact", *pipeline_names())


def policy_names() -> list[str]:
    """The values of ``SimConfig.policy`` (``entropy_lab.policies.policy_names()``)."""
    from entropy_lab.policies import policy_names as names  # read when needed

    return names()


@dataclass(frozen=True)
class SimConfig:
    """How a tabular RL run is executed (the problem and the algorithm are passed separately)."""

    steps: int = 200
    """Training iterations (one sampled batch, or one expected update, each)."""
    seeds: int = 8
    """B, independent replicas batched as the leading tensor dim."""
    lr: float | tuple[float, ...] = 0.1
    """Optimizer learning rate on the logits: a float, or one value > 0 per replica (a sequence of
    length ``seeds``, stored as a tuple; :mod:`entropy_lab.sim.replicas`)."""
    optimizer: str = choice_field("sgd", OPTIMIZERS)
    """The torch.optim optimizer of the logits (its default hyperparameters otherwise)."""
    mode: str = choice_field("sampled", MODES)
    """``"sampled"``: N prompts × G samples per batch; ``"expected"``: the exact expected update."""
    n_prompts: int = 8
    """N, prompts (contexts / initial states) drawn per batch in sampled mode."""
    group_size: int = 8
    """G, samples per prompt; group advantages need G >= 2."""
    k: int = 8
    """The k of the reported exact pass@k (any k, e.g. 256); the batch estimate pass@k_est is
    reported only when k <= G (it is estimated from the G samples of each prompt)."""
    switch_task_at: int | None = None
    """Reward task A for iterations 1..switch_task_at, then task B (``problem.with_task("B")``)."""
    precision: str | None = choice_field(None, precision_names, precision_name)
    """A precision pipeline (``docs/precision.md``, "Pipelines") computing the sampler's and the
    trainer's log-probs (hyphens read as underscores); None or ``"exact"``: exact float64 on
    both paths."""
    policy: str = choice_field("tabular", policy_names)
    """What is trained: ``"tabular"`` (one free logit per state and action), or a policy with
    parameters shared across states, ``"loglinear"``, ``"lowrank"``, ``"mlp"``
    (``entropy_lab.policies``; options as ``policy.<key>`` overrides, e.g. ``policy.rank``)."""
    old_logp: str = choice_field("rollout", OLD_LOGP)
    """Old-log-prob convention of the ratio: ``"rollout"`` (the sampler path's log-probs) or
    ``"recompute"`` (the trainer path at θ_old; tis / icepop then see the sampler's); see
    ``entropy_lab.algorithms.conventions``."""
    sampling: str = choice_field("faithful", sampling_names)
    """Where the rollout's tokens come from (``entropy_lab.precision.sampling``): ``"faithful"``
    (the sampler path's own distribution π_s, in its dtype, with log π_s from the same pass, as an
    inference engine samples) or ``"exact_pi_diagnostic"`` (the exact π, the sampler path's
    log-probs evaluated after the draw: a labelled diagnostic whose bypass ratio is biased upward,
    Theorem 3 (iii)). Under the exact pipeline π_s = π and both draw the same tokens."""
    geometry: str = choice_field("vanilla", GEOMETRIES)
    """Expected mode, exact-advantage REINFORCE only: ``"vanilla"`` ∇J or ``"natural"`` Q − V."""
    seed: int = 0
    """Base seed of the generators when no generator is passed (and of the minibatch schedule)."""
    first_seed: int = 0
    """Seed ids are first_seed .. first_seed + seeds − 1 (the ``seed`` column)."""
    seed_ids: tuple[int, ...] | None = None
    """Explicit seed ids of the ``seeds`` replicas (repeats allowed: the same seed under several
    per-replica hyperparameter values, :mod:`entropy_lab.sim.replicas`); None: from
    ``first_seed``."""
    clip_diagnostics: bool = False
    """Sampled mode: record the clip diagnostics of every minibatch (``entropy_lab.sim.clip_probe``:
    the L < 0 share of the clipped tokens, the Theorem 1 entropy change the clip removed). Off by
    default: it costs a second backward through each minibatch's loss."""
    rng: str = choice_field("batched", RNG_MODES)
    """``"batched"``: one generator for all seeds (fastest); ``"per_seed"``: each seed id owns a
    generator, so a seed's trajectory does not depend on which other seeds share the batch."""

    compile: bool = False
    """Whether the exact columns' tensor work runs compiled (``torch.compile``;
    :mod:`entropy_lab.sim.compiled`): bandits only, ~30 s of compilation per new shape, frames
    within ~1e-15 of the eager path. Off by default."""

    def __post_init__(self) -> None:
        if not isinstance(self.compile, bool):
            raise fail("compile", self.compile, "True or False (the compiled snapshot path, "
                       "entropy_lab.sim.compiled)")
        check_field_choices(self)  # optimizer, mode, precision, policy, old_logp, sampling, ...
        check_number("steps", self.steps, lo=1, integer=True)
        check_number("seeds", self.seeds, lo=1, integer=True)
        if is_per_replica(self.lr):
            object.__setattr__(self, "lr", replica_values("lr", self.lr, self.seeds, positive=True))
        else:
            check_number("lr", self.lr, lo=0.0, lo_open=True)
        check_number("n_prompts", self.n_prompts, lo=1, integer=True)
        check_number("group_size", self.group_size, lo=1, integer=True)
        check_number("k", self.k, lo=1, integer=True)
        if self.switch_task_at is not None:
            check_number("switch_task_at", self.switch_task_at, lo=0, hi=self.steps, integer=True)
        if not isinstance(self.clip_diagnostics, bool):
            raise fail("clip_diagnostics", self.clip_diagnostics, "True or False")
        if self.clip_diagnostics and self.mode != "sampled":
            raise fail("clip_diagnostics", True, "False in mode='expected' (no sampled ratio "
                       "is clipped there)")
        check_number("seed", self.seed, lo=0, integer=True)
        check_number("first_seed", self.first_seed, lo=0, integer=True)
        if self.seed_ids is not None:
            ids = self.seed_ids
            if (not is_per_replica(ids) or len(ids) != self.seeds
                    or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in ids)):
                raise fail("seed_ids", ids, f"None or {self.seeds} integers >= 0 (one per "
                           f"replica, seeds={self.seeds})")
            object.__setattr__(self, "seed_ids", tuple(ids))

    def replica_seed_ids(self) -> list[int]:
        """The seed id of each replica (``seed_ids``, else first_seed .. first_seed + seeds − 1)."""
        if self.seed_ids is not None:
            return list(self.seed_ids)
        return list(range(self.first_seed, self.first_seed + self.seeds))

    @classmethod
    def field_names(cls) -> list[str]:
        """The configurable field names (for routing ``**overrides``)."""
        return [f.name for f in dataclasses.fields(cls)]

    def replace(self, **changes) -> SimConfig:
        """A validated copy with some fields changed; unknown names raise an InputError."""
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise InputError(
                f"unknown SimConfig field(s) {unknown}; choose from {self.field_names()}"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain dict (JSON-safe) of the fields."""
        return dataclasses.asdict(self)


def check_against(config: SimConfig, algorithm, problem) -> None:
    """Checks that need the algorithm or the problem next to the config.

    Raises:
        InputError: G < 2 with a group advantage, or natural geometry outside expected mode.
    """
    advantage = getattr(algorithm, "advantage", None)
    if advantage in GROUP_ADVANTAGES and config.group_size < 2:
        raise fail(
            "group_size", config.group_size,
            f">= 2 for the group advantage {advantage!r} (a group of one has no baseline)",
        )
    if config.geometry == "natural" and config.policy != "tabular":
        raise fail("geometry", config.geometry, "'vanilla' with policy="
                   f"{config.policy!r} (Q − V is the natural step of the tabular policy)")
    if config.geometry == "natural" and config.mode != "expected":
        raise fail("geometry", config.geometry, "'vanilla' in sampled mode ('natural' needs "
                   "mode='expected': it is the exact natural-gradient update)")
    if config.switch_task_at is not None and not hasattr(problem, "with_task"):
        raise fail("switch_task_at", config.switch_task_at,
                   f"None for a problem without tasks ({type(problem).__name__})")
