"""The network-level mismatch model calibrated by a published trainer–engine log-prob gap.

The relative logit noise z·(1 + c·ε·ξ) of a pipeline's paths (mechanism e,
:mod:`entropy_lab.precision.pipelines`) has one free parameter, the scale c. Instead of assuming
c = 1, :func:`calibrate` sets c (the same on both paths) so that the RMS per-token log-prob gap
between the trainer and the sampler on the same tokens,

    gap = sqrt(E_{y∼π_s}[(ℓ_t(y) − ℓ_s(y))²]),

measured on the given logit source with faithful sampling, equals a target. The targets are the
RMS gaps measured between a trainer and an inference engine on the same inputs (Qwen2.5-0.5B):
0.0022 nats with fp32 on both sides, ≈ 0.031 in bf16 with fp32 LM heads on both sides,
0.039–0.041 with a bf16 head on one side (:data:`PUBLISHED_GAPS`, mid-range 0.040). A
pipeline's default target follows its network dtype and whether a path's logits (its head output)
are bf16; fp16 has no published figure and gets the bf16 figure scaled by ε_fp16/ε_bf16 = 1/8 —
a derived value, labelled so. The gap also contains the pipeline's deterministic roundings (its
value at c = 0); a target below that floor cannot be reached and is an error.

Calibration: with the noise's random numbers fixed (one seed), g(c)² ≈ g(0)² + k·c²; k is
estimated at c = 1 (or at the first power of 10 where the noise term is 3× the floor's square),
then twice more at the running solution c = sqrt((gap² − g(0)²)/k).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from entropy_lab.precision.pipelines import PrecisionPipeline, get_pipeline
from entropy_lab.validation import InputError, check_number

PUBLISHED_GAPS = {"fp32": 0.0022, "bf16": 0.031, "bf16_head": 0.040}
GAP_RANGE = (0.0022, 0.041)
ROWS = 512  # calibration contexts: the gap's row-to-row spread is wide (peaked rows)
_EPS = {dt: torch.finfo(dt).eps for dt in (torch.bfloat16, torch.float16, torch.float32)}


def default_gap(pipeline) -> float:
    """The published RMS gap matching ``pipeline``'s network dtype (and bf16 head), in nats."""
    pipe = get_pipeline(pipeline)
    network = pipe.sampler.network or pipe.trainer.network
    if network is None:
        raise InputError(f"pipeline={pipe.name!r} is not allowed: expected a pipeline with a "
                         "network noise model (PathSpec.network set), e.g. 'bf16'")
    if network == torch.float32:
        return PUBLISHED_GAPS["fp32"]
    bf16_head = torch.bfloat16 in (pipe.sampler.logits, pipe.trainer.logits)
    bf16 = PUBLISHED_GAPS["bf16_head" if bf16_head else "bf16"]
    return bf16 if network == torch.bfloat16 else bf16 * _EPS[network] / _EPS[torch.bfloat16]


def with_noise_scale(pipeline, scale: float, name: str | None = None) -> PrecisionPipeline:
    """``pipeline`` with noise scale c = ``scale`` on both paths (renamed ``name``)."""
    pipe = get_pipeline(pipeline)
    check_number("scale", scale, lo=0.0)
    return replace(pipe, name=name or pipe.name,
                   sampler=replace(pipe.sampler, noise_scale=float(scale)),
                   trainer=replace(pipe.trainer, noise_scale=float(scale)))


def measured_gap(pipeline, source, *, rows: int = ROWS, tokens_per_row: int = 16,
                 seed: int = 0) -> float:
    """RMS of ℓ_t − ℓ_s over ``rows``·``tokens_per_row`` faithfully sampled tokens (nats),
    in blocks of rows as :func:`~entropy_lab.precision.measure.measure_ratio_bias` draws them."""
    from entropy_lab.precision.measure import block_generator, block_ratios, default_block_rows

    check_number("rows", rows, lo=1, integer=True)
    per_block = default_block_rows(source.vocab)
    total, n = 0.0, 0
    for block, start in enumerate(range(0, rows, per_block)):
        size = min(per_block, rows - start)
        tok = block_ratios(pipeline, source, size, block_generator(seed, block), None,
                           tokens_per_row)
        total += tok.gap.pow(2).sum().item()
        n += tok.gap.numel()
    return math.sqrt(total / n)


def calibrate(pipeline, source, gap: float | None = None, *, rows: int = ROWS,
              tokens_per_row: int = 16, seed: int = 0) -> PrecisionPipeline:
    """``pipeline`` with the noise scale that gives RMS log-prob gap ``gap`` on ``source``.

    Args:
        pipeline: a noisy pipeline or its name.
        source: ``source(n_rows, generator) -> [R, K]`` logits (e.g. ``LogitSource``).
        gap: target RMS gap in nats, ≥ 0 (default: :func:`default_gap`).
    Returns:
        the pipeline named ``"{name}@gap={gap:g}"`` with ``noise_scale`` set on both paths.
    Raises:
        InputError: ``gap`` < 0, a noise-free pipeline, or a gap below the pipeline's floor.
    """
    pipe = get_pipeline(pipeline)
    target = default_gap(pipe) if gap is None else gap
    check_number("gap", target, lo=0.0)
    kw = {"rows": rows, "tokens_per_row": tokens_per_row, "seed": seed}
    floor = measured_gap(with_noise_scale(pipe, 0.0), source, **kw)
    if target < floor:
        raise InputError(f"gap={target!r} is not allowed: expected a gap ≥ {floor:.3g}, the RMS "
                         f"gap of pipeline {pipe.name!r} without network noise on this source")
    if target == floor:
        return with_noise_scale(pipe, 0.0, f"{pipe.name}@gap={target:g}")
    scale, g_c = 1.0, measured_gap(with_noise_scale(pipe, 1.0), source, **kw)
    while g_c**2 < 4 * floor**2 + 1e-30:  # start where the noise, not the kernels, sets the gap
        scale *= 10.0
        if scale > 1e9:
            raise InputError(f"pipeline={pipe.name!r} is not allowed: its noise does not change "
                             "the log-prob gap on this source")
        g_c = measured_gap(with_noise_scale(pipe, scale), source, **kw)
    for _ in range(2):
        k = (g_c**2 - floor**2) / scale**2
        scale = math.sqrt((target**2 - floor**2) / k)
        g_c = measured_gap(with_noise_scale(pipe, scale), source, **kw)
    return with_noise_scale(pipe, scale, f"{pipe.name}@gap={target:g}")
