"""The named pipelines: one per rounding mechanism (docs/precision.md), plus end-to-end cases.

Mechanism pipelines ("a_" … "f_") switch on one rounding stage and keep everything else in
float32/float64, so each mechanism is measured alone. The sampler and trainer always differ in
something — a reduction order (``logsumexp`` vs fused ``log_softmax``), a cast, or the network
noise — because identical deterministic paths give r = 1 exactly whatever the dtype.

End-to-end pipelines ("bf16", "bf16_fsdp2", "fp16", "fp32_logprobs", "fp32") include the
network-level disagreement (mechanism e) of a model running in the named dtype, since that is
what a real run in that dtype has.
"""

from __future__ import annotations

import torch

from entropy_lab.precision.matmul import LogitMatmul
from entropy_lab.precision.pipelines import PathSpec, PrecisionPipeline, register_pipeline

BF16, FP16, FP32, FP64 = torch.bfloat16, torch.float16, torch.float32, torch.float64

_F32_SAMPLER = PathSpec(logits=FP32, compute=FP32, kernel="logsumexp", output=FP32)
_F32_TRAINER = PathSpec(logits=FP32, compute=FP32, kernel="log_softmax", output=FP32)


def _end_to_end(network, logits, stage, trainer_output=None) -> tuple[PathSpec, PathSpec]:
    """Sampler and trainer with one network/logit/compute dtype, differing in reduction order."""
    sampler = PathSpec(logits=logits, compute=stage, kernel="logsumexp", output=stage,
                       network=network)
    trainer = PathSpec(logits=logits, compute=stage, kernel="log_softmax",
                       output=trainer_output or stage, network=network)
    return sampler, trainer


_NAMED = [
    PrecisionPipeline(
        "fp64", "Exact control: float64 on both identical paths; r = 1 exactly.",
        PathSpec(), PathSpec()),
    PrecisionPipeline(
        "a_bf16_logprobs",
        "(a) Each path computes fp32 log-probs (different reduction orders) and rounds them to "
        "bf16 independently; difference and exp in fp32.",
        PathSpec(logits=FP32, compute=FP32, kernel="logsumexp", output=BF16),
        PathSpec(logits=FP32, compute=FP32, kernel="log_softmax", output=BF16),
        diff=FP32, exp=FP32),
    PrecisionPipeline(
        "b_bf16_ratio",
        "(b) fp32 log-probs on both paths; the ratio exp(ℓ_t − ℓ_s) is computed and stored in "
        "bf16 (spacing 2^-7 above 1, 2^-8 below).",
        _F32_SAMPLER, _F32_TRAINER, diff=FP32, exp=BF16),
    PrecisionPipeline(
        "c_bf16_probs",
        "(c) The sampler materialises probabilities in bf16 and takes their log (probabilities "
        "near 1 and small ones rounded); the trainer uses fp32 log_softmax.",
        PathSpec(logits=FP32, compute=FP32, prob=BF16, output=FP32), _F32_TRAINER,
        diff=FP32, exp=FP32),
    PrecisionPipeline(
        "d_bf16_logits",
        "(d) The sampler's logits are bf16 (lm-head output) before an fp32 log-softmax; the "
        "trainer's logits are fp32.",
        PathSpec(logits=BF16, compute=FP32, kernel="logsumexp", output=FP32), _F32_TRAINER,
        diff=FP32, exp=FP32),
    PrecisionPipeline(
        "e_bf16_network",
        "(e) Network-level disagreement only: each path's logits carry independent relative "
        "noise of size ε_bf16 (two bf16 forward passes); all arithmetic after that in fp64.",
        PathSpec(network=BF16), PathSpec(network=BF16)),
    PrecisionPipeline(
        "e_bf16_matmul_order",
        "(e) Network-level disagreement from real arithmetic: both paths compute the logits as "
        "h·W, a bf16 unembedding matmul (D = 512); the sampler splits D into 8 slices whose "
        "bf16 partial logits are summed in bf16 (tensor-parallel all-reduce), the trainer runs "
        "one GEMM (fp32 accumulation, bf16 output); all arithmetic after that in fp64.",
        PathSpec(matmul=LogitMatmul("split_d", chunks=8)), PathSpec(matmul=LogitMatmul("whole"))),
    PrecisionPipeline(
        "f_fsdp2_cast",
        "(f) Both paths compute fp32 log-probs; the trainer's are cast back to bf16 (FSDP2 "
        "mixed-precision output cast), the sampler's stay fp32.",
        _F32_SAMPLER, PathSpec(logits=FP32, compute=FP32, kernel="log_softmax", output=BF16),
        diff=FP32, exp=FP32),
    PrecisionPipeline(
        "bf16",
        "bf16 end to end: bf16 network noise, bf16 logits, log-softmax, log-probs, difference "
        "and exp on both paths.",
        *_end_to_end(BF16, BF16, BF16), diff=BF16, exp=BF16),
    PrecisionPipeline(
        "bf16_fsdp2",
        "A common bf16 setup: bf16 network and logits, fp32 log-softmax; the trainer's fp32 "
        "log-probs cast back to bf16 (FSDP2), the sampler's kept fp32; ratio in fp32.",
        *_end_to_end(BF16, BF16, FP32, trainer_output=BF16),
        diff=FP32, exp=FP32),
    PrecisionPipeline(
        "fp16",
        "fp16 end to end: fp16 network noise (ε = 2^-10) and every stage in fp16.",
        *_end_to_end(FP16, FP16, FP16), diff=FP16, exp=FP16),
    PrecisionPipeline(
        "fp32_logprobs",
        "The paper's fix: the network is still bf16 (its noise and bf16 logits stay) but the "
        "log-softmax, log-probs, difference and exp are fp32 on both paths.",
        *_end_to_end(BF16, BF16, FP32),
        diff=FP32, exp=FP32),
    PrecisionPipeline(
        "fp32",
        "fp32 end to end: fp32 network noise (ε = 2^-23) and every stage in fp32.",
        *_end_to_end(FP32, FP32, FP32), diff=FP32, exp=FP32),
]

for _p in _NAMED:
    register_pipeline(_p)

MECHANISMS = ("a_bf16_logprobs", "b_bf16_ratio", "c_bf16_probs", "d_bf16_logits",
              "e_bf16_network", "e_bf16_matmul_order", "f_fsdp2_cast")
END_TO_END = ("bf16", "bf16_fsdp2", "fp16", "fp32_logprobs", "fp32", "fp64")
