"""Where low-precision rounding biases the importance ratio (Theorem 3): pipelines, measured and
predicted bias.

``get_pipeline(name)`` resolves the names used by ``simulate(..., precision=NAME)``; see
:mod:`entropy_lab.precision.named` for what each pipeline rounds. Tokens are drawn from the
sampler's own distribution (:mod:`~entropy_lab.precision.sampling`), the ratio's denominator is
an old-log-prob convention (:mod:`~entropy_lab.algorithms.conventions`), the network noise can be
calibrated to a published log-prob gap (:mod:`~entropy_lab.precision.calibration`), and what each
does to E[r] is Theorem 3 (:mod:`~entropy_lab.precision.theorem3`).

One vocabulary for both worlds. The end-to-end names are shared by the simulator's emulated
pipelines (``simulate(..., precision=NAME)``) and the harness's real autocast modes
(``HarnessConfig.precision``); hyphens read as underscores in both (:func:`precision_name`).
What each means in each world:

    name            harness (real arithmetic)                 simulator pipeline (emulated)
    fp32            fp32 forward, fp32 log-softmax            fp32 network noise (ε = 2^-23),
                                                              every stage fp32
    bf16            autocast bf16 forward, bf16 log-softmax   bf16 network noise, bf16 logits,
                                                              log-softmax, difference and exp
    fp16            autocast fp16 forward and log-softmax,    fp16 network noise (ε = 2^-10),
                    GradScaler loss scaling                   every stage fp16
    fp32_logprobs   autocast bf16 forward, logits upcast,     bf16 network noise and logits,
                    fp32 log-softmax (the fix)                fp32 log-softmax, difference, exp

The harness's sampler/trainer disagreement is whatever its two real computations differ by (a
KV-cache decode against one full forward); the simulator's network noise is calibrated to the
published per-token gaps (:mod:`~entropy_lab.precision.calibration`). ``bf16_fsdp2``, ``fp64``
and the single-mechanism pipelines ``a_`` … ``f_`` exist only in the simulator.
"""

from entropy_lab.algorithms.conventions import Convention, convention_names, get_convention
from entropy_lab.precision import named
from entropy_lab.precision.calibration import PUBLISHED_GAPS, calibrate, default_gap, measured_gap
from entropy_lab.precision.drift import implied_entropy_drift, predicted_by_bin
from entropy_lab.precision.logits import LogitSource, TableSource
from entropy_lab.precision.matmul import LogitMatmul, MatmulSource, logit_disagreement
from entropy_lab.precision.measure import (
    LOGP_EDGES,
    RatioBias,
    measure_conventions,
    measure_ratio_bias,
)
from entropy_lab.precision.pipelines import (
    DTYPES,
    PathSpec,
    PrecisionPipeline,
    check_range,
    get_pipeline,
    out_of_range,
    pipeline_names,
    precision_name,
    resolve_dtype,
)
from entropy_lab.precision.predict import predict_token_bias, spacing
from entropy_lab.precision.sampling import sampler_distribution, sampling_names

END_TO_END, MECHANISMS = named.END_TO_END, named.MECHANISMS

__all__ = [
    "DTYPES",
    "PUBLISHED_GAPS",
    "Convention",
    "calibrate",
    "convention_names",
    "default_gap",
    "get_convention",
    "measure_conventions",
    "measured_gap",
    "sampler_distribution",
    "sampling_names",
    "END_TO_END",
    "LOGP_EDGES",
    "MECHANISMS",
    "LogitMatmul",
    "LogitSource",
    "MatmulSource",
    "PathSpec",
    "PrecisionPipeline",
    "precision_name",
    "RatioBias",
    "TableSource",
    "check_range",
    "get_pipeline",
    "implied_entropy_drift",
    "logit_disagreement",
    "measure_ratio_bias",
    "out_of_range",
    "pipeline_names",
    "predict_token_bias",
    "predicted_by_bin",
    "resolve_dtype",
    "spacing",
]
