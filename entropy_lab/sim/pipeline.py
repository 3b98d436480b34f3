"""The precision hook: where the simulator's log-probs are computed, and in which dtype.

Real RL trainers compute the old log-probs on a *sampler path* (the inference engine) and the new
ones on a *trainer path* (the training forward); the importance ratio exp(logp − old_logp) is
then formed in some dtype. A pipeline object names those three choices:

    name: str
    sampler_logprobs(logits [..., K] float64, actions [...] long, generator=None) -> [...] float64
    trainer_logprobs(logits [..., K] float64, actions [...] long, generator=None) -> [...] float64
    ratio_dtype: torch.dtype

A pipeline may also define ``logprob_table(logits [..., K]) -> [..., K]`` when both of its paths
are that table at the taken action; the simulator then evaluates it once per state instead of
once per token where that is smaller (entropy_lab.sim.tokens). Rollout tokens are drawn from the
sampler path's own distribution (``SimConfig.sampling="faithful"``, the default): a pipeline
gives ``sample_tokens(logits [..., K], generator) -> (tokens [...], log π_s [...])`` (the
precision pipelines do), or has a sampler path equal to its table (π_s = π); see
:func:`token_sampler`.

The simulator casts logp and old_logp to ``ratio_dtype`` before the loss and casts the loss back
to float64. :class:`ExactPipeline` (the default) computes both paths with the same float64
log-softmax, so on the first minibatch of a batch every ratio is exactly 1. Other pipelines live
in ``entropy_lab.precision`` and are resolved by name with ``get_pipeline``.
"""

from __future__ import annotations

from typing import Protocol

import torch

from entropy_lab.validation import fail


class Pipeline(Protocol):
    """What the simulator needs from a precision pipeline."""

    name: str
    ratio_dtype: torch.dtype

    def sampler_logprobs(self, logits, actions, generator=None) -> torch.Tensor: ...

    def trainer_logprobs(self, logits, actions, generator=None) -> torch.Tensor: ...


def taken_logprobs(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log π(a) = log_softmax(z)[a], in the logits' dtype.

    Args:
        logits: ``[..., K]``.
        actions: ``[...]`` long, values in [0, K).
    Returns:
        ``[...]``.
    """
    logp = torch.log_softmax(logits, dim=-1)
    return logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)


class ExactPipeline:
    """Both paths are the same float64 log-softmax; ratios are formed in float64."""

    name = "exact"
    ratio_dtype = torch.float64

    def sampler_logprobs(self, logits, actions, generator=None) -> torch.Tensor:
        """``[..., K]`` float64 logits, ``[...]`` actions -> ``[...]`` float64 (no grad)."""
        with torch.no_grad():
            return taken_logprobs(logits, actions)

    def trainer_logprobs(self, logits, actions, generator=None) -> torch.Tensor:
        """``[..., K]`` float64 logits, ``[...]`` actions -> ``[...]`` float64, differentiable."""
        return taken_logprobs(logits, actions)

    def logprob_table(self, logits) -> torch.Tensor:
        """log π of every action, ``[..., K]``: both paths are this table at the taken action."""
        return torch.log_softmax(logits, dim=-1)

    def __repr__(self) -> str:
        return "ExactPipeline()"


def _owner(pipeline, attr: str):
    """The class in the pipeline's MRO that defines ``attr`` (None if none does)."""
    return next((k for k in type(pipeline).__mro__ if attr in vars(k)), None)


def table_fn(pipeline):
    """The pipeline's ``logprob_table`` if it stands for both paths, else None.

    A class that overrides ``sampler_logprobs`` or ``trainer_logprobs`` below the class defining
    the table (e.g. a subclass of the exact pipeline adding noise) has paths the table does not
    describe, so it is evaluated per token.
    """
    table_owner = _owner(pipeline, "logprob_table")
    if table_owner is None or getattr(pipeline, "logprob_table", None) is None:
        return None
    if any(_owner(pipeline, m) is not table_owner
           for m in ("sampler_logprobs", "trainer_logprobs")):
        return None
    return pipeline.logprob_table


def is_exact_table(pipeline) -> bool:
    """Whether both of the pipeline's paths are :class:`ExactPipeline`'s float64 table
    (``torch.log_softmax``), so the log-probs of any token are that table at the token: the
    simulator then gathers them from the exact log π its snapshot already holds."""
    return (table_fn(pipeline) is not None
            and _owner(pipeline, "logprob_table") is ExactPipeline)


def owns_sampler_table(pipeline) -> bool:
    """Whether the pipeline's sampler path is its ``logprob_table`` (π_s = softmax of the table,
    e.g. the exact float64 pipeline): ``sampler_logprobs`` is defined where the table is."""
    table = _owner(pipeline, "logprob_table")
    return table is not None and _owner(pipeline, "sampler_logprobs") is table


def token_sampler(pipeline, sampling: str = "faithful"):
    """How the rollout's tokens are drawn for ``pipeline`` under ``sampling``
    (:mod:`entropy_lab.precision.sampling`): a
    :data:`~entropy_lab.problems.base.TokenSampler`, or None to draw from the exact π.

    - ``"faithful"``: the pipeline's ``sample_tokens`` (the sampler path's own distribution π_s,
      its log π_s reported from the same pass); None where the sampler path is the exact table
      (π_s = π, e.g. :class:`ExactPipeline`), which draws the same tokens as before.
    - ``"exact_pi_diagnostic"``: None — tokens from the exact π, the sampler path's log-probs
      evaluated for them afterwards (the labelled diagnostic).

    Raises:
        InputError: faithful sampling with a pipeline that has neither ``sample_tokens`` nor a
            sampler path equal to its ``logprob_table`` (its sampler distribution is undefined).
    """
    from entropy_lab.precision.sampling import sampling_names

    if sampling not in sampling_names():
        raise fail("sampling", sampling, f"one of {sampling_names()}")
    if sampling == "exact_pi_diagnostic":
        return None
    if hasattr(pipeline, "sample_tokens"):
        return pipeline.sample_tokens
    if owns_sampler_table(pipeline):
        return None
    raise fail("sampling", sampling, "'exact_pi_diagnostic' for this pipeline "
               f"({getattr(pipeline, 'name', type(pipeline).__name__)}): faithful sampling needs "
               "sample_tokens(logits [..., K], generator) -> (tokens, sampler log-probs), or a "
               "sampler path that is its logprob_table")


def resolve_pipeline(precision) -> Pipeline:
    """None -> :class:`ExactPipeline`; a name -> ``entropy_lab.precision.get_pipeline(name)``;
    an object with the pipeline attributes is returned as is."""
    if precision is None or precision == "exact":
        return ExactPipeline()
    if isinstance(precision, str):
        from entropy_lab.precision import get_pipeline  # lazy: precision depends on more than sim

        return get_pipeline(precision)
    needed = ("sampler_logprobs", "trainer_logprobs", "ratio_dtype")
    if all(hasattr(precision, a) for a in needed):
        return precision
    allowed = "None, a pipeline name, or an object with " + ", ".join(needed)
    raise fail("precision", precision, allowed)
