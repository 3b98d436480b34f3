"""REPO advantage shaping: decorrelate the advantage from the log-prob (docs/theory.md, "REPO and
β*").

    repo     A' = A − β·ℓ          constant β
    repo_r   A' = A − ζ|A|·ℓ       i.e. A>0: A(1 − ζℓ), A<0: A(1 + ζℓ)             (REPO-R)
             ℓ = log π (form "raw", the practical form) or L = log π + H (form "centred")
    repo_d   A' = A − β·ℓ, β = ζ·(H_target − H)                     (REPO-D, reconstructed)

All log-probs here are of the *taken* token under the current policy with the gradient stopped
(the shaped advantage is a weight, never a path for gradients). ℓ is the centred log-prob
L = log π(y) + H(π(·|s)) when the caller has the distribution, else log π(y).

Why both forms of ℓ give the entropy bonus: with a ∼ π, E[−log π_a ∇log π_a] = ∇H exactly, and
E[H·∇log π_a] = H·E[∇log π_a] = 0, so A − β·log π and A − β·L have the same expected gradient,
∇E[A] + β∇H (REPO ≡ REINFORCE entropy bonus in expectation). L is the lower-variance estimate
(H acts as a baseline) but needs the full distribution; log π needs only the taken token's
log-prob, which is what fused / cut cross-entropy kernels give.

REPO-R's two forms are *not* equivalent in expectation, because β = ζ|A| varies with the sample:
raw − centred = +ζ|A|·H on every token (where neither the floor nor the sign clamp binds), so the
raw form adds ζAH to each A > 0 and removes ζ|A|H from the magnitude of each A < 0 — it upweights
positive samples (at a typical token, L = 0: A⁺ scaled by 1 + ζH, A⁻ by 1 − ζH). On one state
with success probability p and the large-group z-score advantages A⁺ = (1 − p)/σ, A⁻ = −p/σ
(σ² = p(1 − p)), the extra term's expected gradient is
E[ζ|A|H·∇log π] = (ζH/σ)·((1 − p)∇p + p∇(1 − p)) = ζH·(1 − 2p)/σ·∇p: a push along ∇p while
p < 1/2 and against it once p > 1/2 (``claim17_repo_r_form`` measures what it does to entropy).

Tensors: ``advantages``, ``logp``, ``centered_logprob``: ``[..., B, T]`` (same shape, finite);
β, ζ, entropies: floats or ``[...]`` tensors (one per replica).
"""

from __future__ import annotations

import torch

from entropy_lab.algorithms._tensors import TOKEN_AXES, hp_param
from entropy_lab.registry import Registry
from entropy_lab.validation import check_choice, check_same_shape, check_tensor, fail

SHAPINGS: Registry = Registry("shaping")


def _check(advantages, logp, centered_logprob=None):
    check_tensor("advantages", advantages, min_ndim=2, axes=TOKEN_AXES)
    check_tensor("logp", logp, min_ndim=2, axes=TOKEN_AXES)
    check_same_shape(["advantages", "logp"], [advantages, logp])
    if centered_logprob is not None:
        check_tensor("centered_logprob", centered_logprob, min_ndim=2, axes=TOKEN_AXES)
        check_same_shape(["advantages", "centered_logprob"], [advantages, centered_logprob])


def _ell(logp, centered_logprob, dtype):
    return (logp if centered_logprob is None else centered_logprob).detach().to(dtype)


@SHAPINGS.register("repo")
def repo(
    advantages: torch.Tensor,
    logp: torch.Tensor,
    beta=0.01,
    centered_logprob: torch.Tensor | None = None,
) -> torch.Tensor:
    """A' = A − β·ℓ with ℓ = sg(L) if ``centered_logprob`` is given, else sg(log π(y)).

    Expected gradient ∇E[A] + β∇H for either ℓ (module docstring); β* of
    :func:`entropy_lab.theory.repo_beta_star` cancels the first-order entropy change.

    Args:
        advantages: ``[..., B, T]``.
        logp: ``[..., B, T]`` taken-token log-prob (detached here).
        beta: β, float or ``[...]`` (any sign: β < 0 is an entropy penalty).
        centered_logprob: ``[..., B, T]`` L of the taken token, optional.
    Returns:
        ``[..., B, T]`` shaped advantages in ``advantages``' dtype.
    """
    _check(advantages, logp, centered_logprob)
    return advantages - hp_param("beta", beta, advantages) * _ell(
        logp, centered_logprob, advantages.dtype)


REPO_R_FORMS = ("raw", "centred")
"""REPO-R's log-prob term: ``raw`` log π of the taken token (the practical form, default) or the
``centred`` L = log π + H (the form the REPO derivation states)."""


@SHAPINGS.register("repo_r")
def repo_r(
    advantages: torch.Tensor,
    logp: torch.Tensor,
    zeta=1e-3,
    clamp_sign: bool = True,
    logp_floor: float | None = -20.0,
    form: str = "raw",
    centered_logprob: torch.Tensor | None = None,
) -> torch.Tensor:
    """REPO-R: A' = A − ζ|A|·λ, λ = max(sg(ℓ), floor), ℓ = log π(y) (``form="raw"``) or
    ℓ = L = log π(y) + H(π(·|s)) (``form="centred"``):

        A > 0:  A(1 − ζλ)   (rare correct tokens amplified for ζ > 0)
        A < 0:  A(1 + ζλ)   (rare wrong tokens penalised less)
        A = 0:  0

    Raw − centred = +ζ|A|·H wherever log π ≥ floor (then L ≥ log π ≥ floor too) and the sign
    clamp binds in neither form (module docstring: it upweights positive samples).

    ``clamp_sign`` keeps the sign of A (A⁺ ≥ 0, A⁻ ≤ 0): it binds when ζλ < −1 (A<0) or ζλ > 1
    (A>0; raw form: only for negative ζ, as log π ≤ 0; centred form: also for ζ > 0 on tokens
    above typical probability, L > 1/ζ). Defaults (raw form, ζ 1e-3, floor −20, sign clamp)
    follow a third-party implementation citing the paper's appendix — defaults to expose, not
    certain (docs/theory.md, "REPO and β*").

    Args:
        advantages, logp: ``[..., B, T]``.
        zeta: ζ, float or ``[...]`` (the :class:`ZetaController` drives it; may be negative).
        clamp_sign: keep sign(A').
        logp_floor: lower clamp of ℓ (None: no clamp).
        form: ``"raw"`` or ``"centred"`` (:data:`REPO_R_FORMS`).
        centered_logprob: ``[..., B, T]`` L of the taken token; required by the centred form
            (the recipe passes the trainer's recompute), ignored by the raw form.
    Returns:
        ``[..., B, T]``.
    """
    check_choice("form", form, REPO_R_FORMS)
    if form == "centred" and centered_logprob is None:
        raise fail("centered_logprob", None,
                   "a [..., B, T] tensor of L = log π + H (repo_r form='centred' needs it)")
    _check(advantages, logp, centered_logprob if form == "centred" else None)
    check_choice("clamp_sign", clamp_sign, (True, False))
    lam = _ell(logp, centered_logprob if form == "centred" else None, advantages.dtype)
    if logp_floor is not None:
        if not isinstance(logp_floor, (int, float)) or isinstance(logp_floor, bool) \
                or not logp_floor < 0:
            raise fail("logp_floor", logp_floor, "None or a number < 0")
        lam = lam.clamp(min=logp_floor)
    z = hp_param("zeta", zeta, advantages)
    shaped = advantages - z * advantages.abs() * lam
    if clamp_sign:
        zero = torch.zeros((), dtype=shaped.dtype, device=shaped.device)
        shaped = torch.where(advantages > 0, shaped.clamp(min=0), shaped)
        shaped = torch.where(advantages < 0, shaped.clamp(max=0), shaped)
        shaped = torch.where(advantages == 0, zero, shaped)
    return shaped


@SHAPINGS.register("repo_d")
def repo_d(
    advantages: torch.Tensor,
    logp: torch.Tensor,
    zeta=1e-3,
    entropy=None,
    target_entropy=None,
    centered_logprob: torch.Tensor | None = None,
) -> torch.Tensor:
    """REPO-D (a *reconstruction*; the paper's exact sign convention is not known):

        A' = A − β·ℓ,  β = ζ·ΔH,  ΔH = H_target − H

    so β > 0 (entropy bonus) while entropy is below target and β < 0 above it. ℓ as in
    :func:`repo`. With this sign convention ΔH already steers both ways, so its preset runs the ζ
    controller without the sign flip.

    Args:
        advantages, logp: ``[..., B, T]``.
        zeta: ζ ≥ 0 (float or ``[...]``).
        entropy: current entropy H, float or ``[...]`` (required).
        target_entropy: H_target, float or ``[...]`` (required).
        centered_logprob: optional ``[..., B, T]``.
    Returns:
        ``[..., B, T]``.
    """
    _check(advantages, logp, centered_logprob)
    if entropy is None or target_entropy is None:
        raise fail("entropy" if entropy is None else "target_entropy", None,
                   "a float or [...] tensor (repo_d needs H and H_target)")
    dh = hp_param("target_entropy", target_entropy, advantages) - hp_param(
        "entropy", entropy, advantages)
    beta = hp_param("zeta", zeta, advantages, lo=0) * dh
    return advantages - beta * _ell(logp, centered_logprob, advantages.dtype)


def get_shaping(name: str):
    """The shaping registered as ``name`` (unknown -> error listing the choices)."""
    return SHAPINGS.get(name)


def shaping_names() -> list[str]:
    """All registered shapings."""
    return SHAPINGS.names()
