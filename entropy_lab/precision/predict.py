"""Analytic rounding-error models: the expected ratio bias E[r/r_exact] − 1 per token.

Round-to-nearest onto a grid of spacing s leaves an error u·s, u ~ Uniform[−½, ½] when the value's
position on the grid is "random" (the standard model of rounding error; exact for a uniformly
distributed grid offset). From it, per token with log-prob ℓ:

* one path rounds ℓ (mechanism f):           E[e^{us}] − 1 = sinh(s/2)/(s/2) − 1 ≈ s²/24
* both paths round independently (Jensen, a): (sinh(s/2)/(s/2))² − 1 ≈ s²/12 = σ²/2, σ² = s²/6
* both paths round values only δ apart (a, same network): the two roundings coincide except with
  probability frac(δ/s): with δ/s = m + f, E[r] = (1 − f)e^{ms} + f e^{(m+1)s}
* the sampler's probability p rounded with spacing s_p (c), h = s_p/(2p):
  E[p/p̂] − 1 = E[1/(1 + 2hu)] − 1 = log((1 + h)/(1 − h))/(2h) − 1 ≈ h²/3
* independent logit errors δ_b of variance v_b on a path (network noise e: v_b = (cεz_b)²;
  logits rounded to a dtype, d: v_b = s(z_b)²/12): ℓ_a moves by δ_a − E_π δ − ½Var_π δ to second
  order, so log r has mean μ = ½Σ_b π_b(1 − π_b)(v_s,b − v_t,b) and variance
  V_a = Σ_paths [v_a(1 − π_a)² + Σ_{b≠a} π_b² v_b], and E[r] − 1 ≈ exp(μ + V/2) − 1 (log-normal).
* the ratio itself rounded (b) when r_exact = 1 up to fp32 noise: r rounds to exactly 1 — 0; a
  ratio spread around 1 rounds without mean bias except in the cell [1 − 2^-9, 1 + 2^-8) — 0 too.
* an unfused z − logsumexp(z) in a low dtype rounds the logsumexp: a row-shared error of variance
  s(lse)²/12, independent between noisy paths — a factor exp(v/2).

Spacing of a dtype at x: s = ε·2^⌊log2|x|⌋ (ε = ``torch.finfo(dtype).eps``), so bf16 (8 significant
bits) has spacing 2^-7 just above 1 and 2^-8 just below, and s grows with |ℓ|: rare tokens are
rounded more coarsely. Stages are combined as independent multiplicative factors,
1 + b = Π(1 + b_i) — an approximation for the end-to-end pipelines, stated as such.
"""

from __future__ import annotations

import torch

from entropy_lab.precision.pipelines import PathSpec, PrecisionPipeline, get_pipeline

F64 = torch.float64


def spacing(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """s(x) = ε·2^⌊log2|x|⌋ — the gap between neighbouring ``dtype`` numbers at x ``[...]``.

    Below the smallest normal the spacing is constant (subnormals): ``tiny·ε``.
    """
    fi = torch.finfo(dtype)
    ax = x.to(F64).abs().clamp_min(fi.tiny)
    return fi.eps * torch.exp2(torch.floor(torch.log2(ax)))


def _sinhc(h: torch.Tensor) -> torch.Tensor:
    safe = torch.where(h == 0, torch.ones_like(h), h)
    return torch.where(h == 0, torch.ones_like(h), torch.sinh(safe) / safe)


def one_sided_bias(s: torch.Tensor) -> torch.Tensor:
    """E[e^{us}] − 1 = sinh(s/2)/(s/2) − 1: one path's log-prob rounded with spacing s ``[...]``."""
    return _sinhc(s / 2) - 1


def jensen_bias(s: torch.Tensor) -> torch.Tensor:
    """(sinh(s/2)/(s/2))² − 1 ≈ s²/12: both log-probs rounded independently with spacing s."""
    return _sinhc(s / 2) ** 2 - 1


def correlated_bias(delta: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """E[e^{q(x+δ) − q(x)}]·e^{−δ} − 1 for a grid offset of x uniform: δ/s = m + f,
    E = (1 − f)e^{ms} + f e^{(m+1)s}. ``delta``, ``s`` ``[...]``."""
    t = delta / s
    m = torch.floor(t)
    f = t - m
    return ((1 - f) * torch.exp(m * s) + f * torch.exp((m + 1) * s)) * torch.exp(-delta) - 1


def prob_rounding_bias(p: torch.Tensor, s_p: torch.Tensor) -> torch.Tensor:
    """E[p/p̂] − 1 = log((1+h)/(1−h))/(2h) − 1, h = s_p/(2p): the sampler's p rounded (c)."""
    h = (s_p / (2 * p)).clamp(max=0.999)
    safe = torch.where(h == 0, torch.ones_like(h), h)
    return torch.where(h == 0, torch.zeros_like(h), torch.atanh(safe) / safe - 1)


def logit_error_bias(logits, actions_m, var_sampler, var_trainer) -> torch.Tensor:
    """exp(μ + V/2) − 1 for independent logit errors of variance ``var_*`` ``[..., K]``.

    μ = ½Σ_b π_b(1 − π_b)(v_s,b − v_t,b),  V_a = Σ_paths [v_a(1 − π_a)² + Σ_{b≠a} π_b² v_b].
    Args: logits ``[..., K]``, actions_m ``[..., M]``. Returns ``[..., M]``.
    """
    p = torch.softmax(logits.to(F64), -1)
    p_a = p.gather(-1, actions_m)
    mu = 0.5 * (p * (1 - p) * (var_sampler - var_trainer)).sum(-1, keepdim=True)
    var = torch.zeros_like(p_a)
    for v in (var_sampler, var_trainer):
        v_a = v.gather(-1, actions_m)
        var = var + v_a * (1 - p_a) ** 2 + (p**2 * v).sum(-1, keepdim=True) - p_a**2 * v_a
    return torch.expm1(mu + var / 2)


def _logit_variance(path: PathSpec, other: PathSpec, z: torch.Tensor) -> torch.Tensor:
    """Per-logit error variance ``[..., K]`` of one path: noise, plus logit rounding when the
    two paths do not round identical values identically."""
    v = torch.zeros_like(z)
    if path.noisy:
        v = v + (path.noise_scale * torch.finfo(path.network).eps * z) ** 2
    differs = path.noisy or other.noisy or other.logits != path.logits
    if path.logits != F64 and differs:
        v = v + spacing(z, path.logits) ** 2 / 12
    return v


def _lse_variance(path: PathSpec, z: torch.Tensor) -> torch.Tensor:
    """s(lse)²/12 ``[...]``: the unfused kernel rounds logsumexp z in the compute dtype, an error
    shared by the row's log-probs (the fused log_softmax rounds only its output)."""
    if path.kernel != "logsumexp" or path.prob is not None or path.compute == F64:
        return torch.zeros(z.shape[:-1] + (1,), dtype=F64)
    return spacing(torch.logsumexp(z, -1, keepdim=True), path.compute) ** 2 / 12


def predict_token_bias(pipeline, logits, actions_m, generator=None) -> torch.Tensor:
    """Predicted E[r] − 1 ``[..., M]`` for tokens ``actions_m`` ``[..., M]`` under ``logits``
    ``[..., K]``.

    Composes the models above from the pipeline's stages. For noise-free pipelines the two
    kernels' disagreement before the output cast, δ = ℓ_t − ℓ_s in their compute dtype (e.g. fp32
    reduction order), is evaluated, not modelled: it enters as e^δ and as the offset of the
    correlated-rounding model (``generator`` is passed to that evaluation). A path with a
    ``matmul`` (e_bf16_matmul_order) is deterministic too, so its reduction-order disagreement is
    likewise evaluated, not modelled: prediction and measurement then share that factor.
    """
    pipe: PrecisionPipeline = get_pipeline(pipeline)
    s_path, t_path = pipe.sampler, pipe.trainer
    z = logits.to(F64)
    logp = torch.log_softmax(z, -1).gather(-1, actions_m)
    factor = 1 + logit_error_bias(z, actions_m, _logit_variance(s_path, t_path, z),
                                  _logit_variance(t_path, s_path, z))
    noisy = s_path.noisy or t_path.noisy
    if not noisy:  # deterministic kernels: their (reduction-order) disagreement δ before rounding
        delta = torch.log(pipe.without_output_cast().ratios(z, actions_m, generator))
        factor = factor * torch.exp(delta)
    s_out, t_out = s_path.output, t_path.output
    if s_out == t_out != F64:
        s = spacing(logp, s_out)
        bias = jensen_bias(s) if noisy else correlated_bias(delta, s)
        factor = factor * (1 + bias)
    else:
        for out in (s_out, t_out):
            if out != F64 and out != torch.float32:
                factor = factor * (1 + one_sided_bias(spacing(logp, out)))
    if s_path.prob is not None:  # a rounded p in the trainer's numerator is unbiased: E[p̂/p] = 1
        p = logp.exp()
        factor = factor * (1 + prob_rounding_bias(p, spacing(p, s_path.prob)))
    lse_var = sum(_lse_variance(path, z) for path in (s_path, t_path) if noisy)
    return factor * torch.exp(torch.as_tensor(lse_var) / 2) - 1
