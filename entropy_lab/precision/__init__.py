"""Where low-precision rounding biases the importance ratio (Theorem 3): pipelines, measured and
predicted bias.

``get_pipeline(name)`` resolves the names used by ``simulate(..., precision=NAME)``; see
:mod:`entropy_lab.precision.named` for what each pipeline rounds. Tokens are drawn from the
sampler's own distribution (:mod:`~entropy_lab.precision.sampling`), the ratio's denominator is
an old-log-prob convention (:mod:`~entropy_lab.precision.conventions`), the network noise can be
calibrated to a published log-prob gap (:mod:`~entropy_lab.precision.calibration`), and what each
does to E[r] is Theorem 3 (:mod:`~entropy_lab.precision.theorem3`).
"""

from entropy_lab.precision import named
from entropy_lab.precision.calibration import PUBLISHED_GAPS, calibrate, default_gap, measured_gap
from entropy_lab.precision.conventions import Convention, convention_names, get_convention
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
