"""Where low-precision rounding biases the importance ratio (Theorem 3): pipelines, measured and
predicted bias.

``get_pipeline(name)`` resolves the names used by ``simulate(..., precision=NAME)``; see
:mod:`entropy_lab.precision.named` for what each pipeline rounds.
"""

from entropy_lab.precision import named
from entropy_lab.precision.drift import implied_entropy_drift, predicted_by_bin
from entropy_lab.precision.logits import LogitSource, TableSource
from entropy_lab.precision.matmul import LogitMatmul, MatmulSource, logit_disagreement
from entropy_lab.precision.measure import LOGP_EDGES, RatioBias, measure_ratio_bias
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

END_TO_END, MECHANISMS = named.END_TO_END, named.MECHANISMS

__all__ = [
    "DTYPES",
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
