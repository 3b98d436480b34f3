"""Precision pipelines: where rounding happens between the sampler's and the trainer's log-probs.

The importance ratio of PPO-style losses is r = exp(ℓ_trainer − ℓ_sampler), with ℓ the log-prob of
the taken token computed twice: once by the *sampler path* (the inference engine that generated
the token) and once by the *trainer path* (the full forward pass being optimised). In exact
arithmetic on the same policy r = 1. A :class:`PrecisionPipeline` states, for each path, the
dtype at every stage, and the dtypes of the difference and the exponential:

    z ──network noise──▶ z' ──cast(logits)──▶ log-softmax in ``compute`` (kernel) ──▶ gather
      ──cast(output)──▶ ℓ ;   r = exp( cast(diff)(ℓ_t) − cast(diff)(ℓ_s) ) computed in ``exp``

Every rounding is a real torch cast (bfloat16, float16, float32, float64); nothing emulates a
format. The one modelled quantity is the network-level disagreement (docs/precision.md, "Mechanisms
(a)–(f)",
mechanism e): two bf16 forward passes of a deep network do not produce the same logits. It is
emulated as relative logit noise z' = z·(1 + c·ε_dtype·ξ), ξ ~ N(0, 1) i.i.d. per logit and per
call, drawn from the passed ``torch.Generator`` (c = ``noise_scale``,
ε = ``torch.finfo(dtype).eps``).
Its size (c = 1: about 1e-2 relative for bf16) follows docs/precision.md and is a modelling choice,
not a
measurement of a particular network.
The alternative emulation computes the logits through a real bf16 unembedding matmul in a
different reduction order on each path (``PathSpec.matmul``, :mod:`entropy_lab.precision.matmul`);
there the size of the disagreement is measured, not assumed.

Simulator hook (sim_api): ``sampler_logprobs``, ``trainer_logprobs`` (differentiable) and
``ratio_dtype``. The simulator casts both log-probs to ``ratio_dtype`` and takes the difference
and exp there, so it has one dtype for the two last stages; ``ratio_dtype`` is the lower precision
of ``diff`` and ``exp`` (for pipeline "b_bf16_ratio" the simulator therefore also rounds the
log-probs to bf16 — :meth:`PrecisionPipeline.ratio` is the faithful two-stage form).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from entropy_lab.precision.matmul import LogitMatmul
from entropy_lab.precision.sampling import faithful
from entropy_lab.registry import Registry
from entropy_lab.validation import InputError, check_number, check_tensor, fail

DTYPES: dict[str, torch.dtype] = {
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
    "fp32": torch.float32,
    "fp64": torch.float64,
}
_ALIASES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32",
            "float": "fp32", "float64": "fp64", "double": "fp64"}


def resolve_dtype(name: str, value: str | torch.dtype) -> torch.dtype:
    """A torch dtype from ``"bf16" | "fp16" | "fp32" | "fp64"`` (or the dtype itself).

    Raises:
        InputError: naming ``name`` and listing the allowed dtypes.
    """
    allowed = "one of " + ", ".join(repr(k) for k in DTYPES) + " (or that torch dtype)"
    if isinstance(value, torch.dtype):
        if value in DTYPES.values():
            return value
        raise fail(name, value, allowed)
    if isinstance(value, str):
        key = _ALIASES.get(value, value)
        if key in DTYPES:
            return DTYPES[key]
    raise fail(name, value, allowed)


def dtype_name(dtype: torch.dtype) -> str:
    """Short name of a supported dtype ("bf16", ...)."""
    return {v: k for k, v in DTYPES.items()}[dtype]


def out_of_range(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Indices ``[M, x.ndim]`` of the entries of ``x`` whose magnitude exceeds ``finfo(dtype).max``.

    Casting such entries to ``dtype`` would silently give ±inf (fp16's max is 65504).
    """
    return torch.nonzero(x.abs() > torch.finfo(dtype).max)


def check_range(name: str, x: torch.Tensor, dtype: torch.dtype) -> None:
    """Raise if casting ``x`` to ``dtype`` would overflow; the error says how many and which."""
    bad = out_of_range(x, dtype)
    if len(bad):
        shown = ", ".join(str(tuple(i.tolist())) for i in bad[:5])
        more = f" (first 5 of {len(bad)})" if len(bad) > 5 else ""
        raise InputError(
            f"{name} has {len(bad)} of {x.numel()} entries beyond the {dtype_name(dtype)} range "
            f"±{torch.finfo(dtype).max:g} at indices {shown}{more}: casting would give inf; "
            "expected all entries within range (rescale the logits or use a wider dtype)"
        )


KERNELS: Registry = Registry("log-prob kernel")
KERNELS.register("log_softmax", lambda z: torch.log_softmax(z, dim=-1))
KERNELS.register("logsumexp", lambda z: z - torch.logsumexp(z, dim=-1, keepdim=True))
REORDER = {"log_softmax": "logsumexp", "logsumexp": "log_softmax"}


@dataclass(frozen=True)
class PathSpec:
    """How one path (sampler or trainer) turns float64 logits ``[..., K]`` into log-probs.

    Attributes:
        logits: dtype the (possibly perturbed) logits are cast to — mechanism (d).
        compute: dtype the log-softmax is computed in (the logits are cast to it first).
        kernel: "log_softmax" (fused) or "logsumexp" (z − logsumexp z): two reduction orders.
        prob: if set, probabilities softmax(z) are materialised in this dtype and ℓ = log p is
            taken in ``compute`` — mechanism (c); ``kernel`` is then unused.
        output: dtype the gathered log-probs are stored in (a cast-back, e.g. FSDP2's bf16 output
            of fp32 log-probs — mechanism f).
        network: dtype whose epsilon sets the relative logit noise (mechanism e); None = none.
        noise_scale: c in z' = z·(1 + c·ε·ξ); 0 disables the noise.
        matmul: if set, the logits are recomputed through this bf16 unembedding matmul (its
            reduction order) — mechanism (e) from real arithmetic, see
            :mod:`entropy_lab.precision.matmul`; applied after the noise.
    """

    logits: torch.dtype = torch.float64
    compute: torch.dtype = torch.float64
    kernel: str = "log_softmax"
    prob: torch.dtype | None = None
    output: torch.dtype = torch.float64
    network: torch.dtype | None = None
    noise_scale: float = 1.0
    matmul: LogitMatmul | None = None

    def __post_init__(self):
        for field in ("logits", "compute", "output"):
            object.__setattr__(self, field, resolve_dtype(field, getattr(self, field)))
        if self.prob is not None:
            object.__setattr__(self, "prob", resolve_dtype("prob", self.prob))
        if self.network is not None:
            object.__setattr__(self, "network", resolve_dtype("network", self.network))
        KERNELS.get(self.kernel)
        check_number("noise_scale", self.noise_scale, lo=0.0)
        if self.matmul is not None and not isinstance(self.matmul, LogitMatmul):
            raise fail("matmul", self.matmul, "a LogitMatmul or None")

    @property
    def noisy(self) -> bool:
        return self.network is not None and self.noise_scale > 0

    def noise(self, logits: torch.Tensor, generator: torch.Generator | None):
        """ξ ``[..., K]`` ~ N(0, 1) float64 for this path's network noise, or None if not noisy.

        One draw is one forward pass of the network: the same ξ applied to the logits at θ_old
        and θ_new models a deterministic network evaluated twice in one layout.
        """
        if not self.noisy:
            return None
        return torch.randn(logits.shape, generator=generator, dtype=torch.float64,
                           device=logits.device)

    def perturb(self, logits: torch.Tensor, generator: torch.Generator | None = None,
                xi: torch.Tensor | None = None) -> torch.Tensor:
        """z·(1 + c·ε·ξ), ξ ~ N(0, 1) ``[..., K]`` (``xi`` if given, else drawn from
        ``generator``; identity if not noisy), then the path's unembedding matmul if it has one."""
        if self.noisy:
            xi = self.noise(logits, generator) if xi is None else xi
            logits = logits * (1.0 + self.noise_scale * torch.finfo(self.network).eps * xi)
        return logits if self.matmul is None else self.matmul(logits)

    def head(self, z: torch.Tensor) -> torch.Tensor:
        """ℓ over the vocabulary ``[..., K]`` in the ``compute`` dtype from already perturbed
        logits ``z`` ``[..., K]``: the casts and the log-softmax kernel (before the output cast)."""
        for stage in (self.logits, self.compute):
            if stage != torch.float64:
                check_range("logits", z.detach(), stage)
        z = z.to(self.logits).to(self.compute)
        if self.prob is not None:
            return torch.log(torch.softmax(z, dim=-1).to(self.prob).to(self.compute))
        return KERNELS.get(self.kernel)(z)

    def all_logprobs(self, logits: torch.Tensor, generator: torch.Generator | None = None,
                     xi: torch.Tensor | None = None):
        """ℓ over the vocabulary ``[..., K]`` in the ``compute`` dtype (before the output cast)."""
        return self.head(self.perturb(logits, generator, xi))

    def reordered(self) -> PathSpec:
        """The same path in another reduction order: the other log-softmax kernel, and for an
        unembedding matmul another layout ("whole" ↔ "split_d" in 2 slices). Used for a trainer
        recompute in another batch layout: its disagreement with this path is real arithmetic."""
        matmul = self.matmul
        if matmul is not None:
            other = ("split_d", 2) if matmul.order != "split_d" else ("whole", matmul.chunks)
            matmul = replace(matmul, order=other[0], chunks=other[1])
        return replace(self, kernel=REORDER[self.kernel], matmul=matmul)

    def report(self, all_logprobs: torch.Tensor, actions_m: torch.Tensor) -> torch.Tensor:
        """ℓ ``[..., M]`` float64 of tokens ``actions_m`` ``[..., M]`` gathered from this path's
        ``all_logprobs`` ``[..., K]`` and stored in its ``output`` dtype."""
        return all_logprobs.gather(-1, actions_m).to(self.output).to(torch.float64)

    def logprobs(self, logits, actions_m, generator=None, xi=None) -> torch.Tensor:
        """ℓ ``[..., M]`` float64 of M tokens ``actions_m`` ``[..., M]`` per row of ``logits``
        ``[..., K]`` (one forward pass per row), after every rounding stage of this path."""
        return self.report(self.all_logprobs(logits, generator, xi), actions_m)


def _check_inputs(logits, actions) -> None:
    check_tensor("logits", logits, min_ndim=1, last_dim_min=2, axes="[..., K]")
    if logits.numel() == 0:
        raise fail("logits", logits, "a non-empty tensor with shape [..., K]")
    if not isinstance(actions, torch.Tensor) or actions.dtype != torch.long:
        raise fail("actions", actions, "a torch.long tensor with shape [...]")
    if tuple(actions.shape) != tuple(logits.shape[:-1]):
        raise InputError(
            f"shape mismatch: logits={list(logits.shape)}, actions={list(actions.shape)}; "
            "expected actions to have the shape of logits without its last (vocabulary) axis"
        )
    if actions.numel() and (actions.min() < 0 or actions.max() >= logits.shape[-1]):
        raise fail("actions", actions, f"token ids in [0, {logits.shape[-1] - 1}]")


def _lower(a: torch.dtype, b: torch.dtype) -> torch.dtype:
    return a if torch.finfo(a).eps >= torch.finfo(b).eps else b


@dataclass(frozen=True)
class PrecisionPipeline:
    """Dtypes of every stage on the sampler and trainer paths, and of the ratio.

    Attributes:
        name: registry name.
        description: which mechanism (docs/precision.md, "Mechanisms (a)–(f)") this pipeline
        isolates.
        sampler: the path that produced old log-probs (inference engine).
        trainer: the path that produces new, differentiable log-probs.
        diff: dtype both log-probs are cast to before ℓ_t − ℓ_s is taken.
        exp: dtype exp is computed in (rounds the difference, then the ratio) — mechanism (b).
    """

    name: str
    description: str
    sampler: PathSpec
    trainer: PathSpec
    diff: torch.dtype = torch.float64
    exp: torch.dtype = torch.float64

    def __post_init__(self):
        object.__setattr__(self, "diff", resolve_dtype("diff", self.diff))
        object.__setattr__(self, "exp", resolve_dtype("exp", self.exp))

    @property
    def ratio_dtype(self) -> torch.dtype:
        """The simulator hook's single dtype for difference and exp (the lower precision)."""
        return _lower(self.diff, self.exp)

    def sampler_logprobs(self, logits, actions, generator=None) -> torch.Tensor:
        """Old log-probs ``[...]`` float64 of ``actions`` ``[...]`` under ``logits`` ``[..., K]``.

        No gradient: the sampler's log-probs are data.
        """
        _check_inputs(logits, actions)
        with torch.no_grad():
            return self.sampler.logprobs(logits, actions.unsqueeze(-1), generator).squeeze(-1)

    def sample_tokens(self, logits, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw one token per row of ``logits`` ``[..., K]`` (float64, one sampler forward pass
        per row) from the sampler path's own distribution π_s, as an inference engine does
        (:func:`~entropy_lab.precision.sampling.faithful`), and report its log π_s from that pass.

        Returns:
            (tokens ``[...]`` long, log-probs ``[...]`` float64 after the path's output cast).
        """
        check_tensor("logits", logits, min_ndim=1, last_dim_min=2, axes="[..., K]")
        flat = logits.reshape(-1, logits.shape[-1])
        with torch.no_grad():
            tokens, sampler_all = faithful(
                flat, lambda: self.sampler.all_logprobs(flat, generator), 1, generator)
            logp = self.sampler.report(sampler_all, tokens)
        return tokens.reshape(logits.shape[:-1]), logp.reshape(logits.shape[:-1])

    def trainer_logprobs(self, logits, actions, generator=None) -> torch.Tensor:
        """New log-probs ``[...]`` float64, differentiable w.r.t. ``logits`` ``[..., K]``."""
        _check_inputs(logits, actions)
        return self.trainer.logprobs(logits, actions.unsqueeze(-1), generator).squeeze(-1)

    def ratio(self, logp: torch.Tensor, old_logp: torch.Tensor) -> torch.Tensor:
        """r = exp(cast_diff(ℓ_t) − cast_diff(ℓ_s)) computed in ``exp``; returned as float64."""
        if logp.shape != old_logp.shape:
            raise InputError(
                f"shape mismatch: logp={list(logp.shape)}, old_logp={list(old_logp.shape)}; "
                "expected the trainer's and the sampler's log-probs to have one shape"
            )
        d = logp.to(self.diff) - old_logp.to(self.diff)
        return torch.exp(d.to(self.exp)).to(torch.float64)

    def ratios(self, logits, actions_m, generator=None, trainer_logits=None) -> torch.Tensor:
        """r ``[..., M]`` for M tokens per row ``actions_m`` ``[..., M]`` under ``logits``
        ``[..., K]``: one sampler and one trainer pass per row.

        ``trainer_logits`` (same shape) is the updated policy; default: the same policy (r = 1 in
        exact arithmetic).
        """
        if not isinstance(actions_m, torch.Tensor) or actions_m.ndim != logits.ndim:
            raise fail("actions_m", actions_m, f"a torch.long tensor of rank {logits.ndim} "
                       "with shape [..., M] (M tokens per row of logits [..., K])")
        _check_inputs(logits, actions_m[..., 0])
        if actions_m.min() < 0 or actions_m.max() >= logits.shape[-1]:
            raise fail("actions_m", actions_m, f"token ids in [0, {logits.shape[-1] - 1}]")
        if trainer_logits is not None and trainer_logits.shape != logits.shape:
            raise InputError(
                f"shape mismatch: logits={list(logits.shape)}, "
                f"trainer_logits={list(trainer_logits.shape)}; expected equal shapes"
            )
        with torch.no_grad():
            old = self.sampler.logprobs(logits, actions_m, generator)
            new = self.trainer.logprobs(
                logits if trainer_logits is None else trainer_logits, actions_m, generator
            )
        return self.ratio(new, old)

    def without_output_cast(self) -> PrecisionPipeline:
        """The same pipeline with log-probs kept in their compute dtype (pre-rounding values)."""
        return replace(
            self,
            sampler=replace(self.sampler, output=self.sampler.compute),
            trainer=replace(self.trainer, output=self.trainer.compute),
        )


PIPELINES: Registry[PrecisionPipeline] = Registry("precision pipeline")


def precision_name(name: str) -> str:
    """The one spelling of a precision name: hyphens read as underscores (``fp32-logprobs`` is
    ``fp32_logprobs``), for the simulator's pipelines and the harness's modes alike."""
    return name.replace("-", "_") if isinstance(name, str) else name


def get_pipeline(name: str | PrecisionPipeline) -> PrecisionPipeline:
    """The registered pipeline called ``name`` (either spelling, :func:`precision_name`; an
    unknown name's error lists the choices)."""
    if isinstance(name, PrecisionPipeline):
        return name
    return PIPELINES.get(precision_name(name))


def pipeline_names() -> list[str]:
    """All registered pipeline names, sorted."""
    return PIPELINES.names()


def register_pipeline(pipeline: PrecisionPipeline) -> PrecisionPipeline:
    """Add ``pipeline`` to the registry under its name."""
    return PIPELINES.register(pipeline.name, pipeline)
