"""One RL iteration, written once: :func:`rl_iteration` over any :class:`Policy`.

The simulator (tabular or parameterised logits, ``entropy_lab.sim``) and the transformer harness
(``entropy_lab.harness``) each sample a :class:`Batch` through their own policy adapter and hand
it here; nothing of the algorithm is written in either loop (docs/algorithms.md, "The one RL
step"). With leading replica dims ``...`` (the simulator's seeds; none in the harness) and
B = N·G sequences, prompt-major:

    adv      = broadcast(algo.advantages(rewards [..., N, G]), mask)       # [..., B, T]
    old      = sampler log-probs (convention "rollout") or the trainer's recompute at θ_old
               ("recompute"; the sampler log-probs then reach losses that declare them, e.g.
               tis / icepop in verl's layout)
    adv      = algo.shape(adv, recompute, mask, state, centred)            # REPO variants
    for idx in algo.schedule(B):                                            # epochs × minibatches
        logp, logits = policy.trainer_logprobs(batch, idx)                 # differentiable
        loss, m = algo.loss(logp, old[idx], adv[idx], mask[idx], state, logits, sampler_logp)
        update(loss.sum())                                                  # backward + step
    metrics  = combine(minibatch metrics)        # min of */min, max of */max, else the mean
    state.update(rollout entropy)                # controllers, once per iteration

Ratio diagnostics (``token_bins``, optional): for each named bool token set (e.g. the sampler's
log-prob ℓ_s < −5), the loss's ratio and clip metrics (:data:`BINNED_KEYS`) restricted to that
set, keyed ``"<metric>|<bin>"`` (the loss evaluated again on the bin's tokens, no gradient, so
each metric keeps the loss's own definition); and ``"first/<metric>[|<bin>]"``, the same at the
first minibatch, before any update of the iteration (where the ratio differs from 1 only through
the sampler/trainer mismatch — the on-policy clip fraction users of RL frameworks ask about).

Shaping metrics (every algorithm with a shaping; means over the batch's real tokens, per
replica, :func:`shaping_metrics`): ``shape/abs_adv`` mean |A| before the shaping,
``shape/abs_shaped`` mean |A'|, ``shape/abs_change`` mean |A' − A| (how much the shaping acts)
and ``shape/abs_adv_entropy`` mean |A|·H_t (H_t the sampling policy's entropy at the token): with
REPO-R's ζ, ζ·``abs_adv_entropy`` / ``abs_shaped`` is the size of the raw − centred term ζ|A|H
relative to the shaped advantage.

Clip diagnostics (``clip_probe``, optional): before each minibatch's update,
:func:`stopped_gradient` finds the tokens whose gradient the loss stops and the gradient they
would have passed had they not been clipped; after the update (so an optimizer's state for this
step is there) ``clip_probe(batch, idx, stopped)`` turns that into metrics (the simulator's
:mod:`entropy_lab.sim.clip_probe`: the share of upper-clipped tokens below typical probability,
the Theorem 1 entropy change the clip removed). Off by default; its cost is measured in
:func:`rl_iteration`'s docstring.

The three choices the two worlds used to make differently, with their one default each:

- **REPO's log-probs** (``shape_with``): the trainer's recompute at θ_old, gradient stopped (as the
  published REPO-R port does); the centred log-prob L = log π + H uses the same recompute. Equal
  to the sampler's log-probs whenever the two paths agree (the exact float64 pipeline).
- **Minibatch metrics**: true extrema for ``*/min`` and ``*/max`` keys, means of the rest.
- **The controllers' entropy**: the mean token entropy of the policy that sampled the batch,
  over the batch's real tokens, before the update (:func:`rollout_entropy`; per replica). A
  state is created on the first iteration with that entropy as its reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from entropy_lab.algorithms.advantages import broadcast_advantages
from entropy_lab.algorithms.aggregation import aggregate
from entropy_lab.algorithms.losses_common import log_ratio
from entropy_lab.validation import check_choice, fail

SHAPE_WITH = ("recompute", "sampler")
BINNED_KEYS = ("ratio/mean", "clip/frac_low", "clip/frac_high", "clip/frac")
"""The metrics ``token_bins`` restricts to each bin and the ``first/`` copies report."""
TAIL_LOGP = -5.0
""":func:`logp_bins` splits tokens at this sampler log-prob."""


def logp_bins(sampler_logp_bt: torch.Tensor) -> dict[str, torch.Tensor]:
    """The ratio diagnostics' token sets by sampler log-prob ℓ_s: ``tail`` (ℓ_s < −5, where bf16
    rounds log-probs most coarsely) and ``head`` (ℓ_s ≥ −5); bool, the input's shape."""
    tail = sampler_logp_bt < TAIL_LOGP
    return {"tail": tail, "head": ~tail}


@dataclass
class Batch:
    """One scored rollout in the algorithms' token layout.

    Attributes:
        rewards_ng: ``[..., N, G]`` sequence rewards.
        mask_bt: ``[..., B, T]`` bool, real tokens (B = N·G, prompt-major).
        sampler_logp_bt: ``[..., B, T]`` the sampler path's log-prob of each token (the engine's;
            0 on padding), no gradient.
        entropy_bt: ``[..., B, T]`` H(π(·|prefix)) of the sampling policy at each token (0 on
            padding): what the controllers see.
        data: the policy adapter's own view of the rollout (token batch, transformer rollout).
    """

    rewards_ng: torch.Tensor
    mask_bt: torch.Tensor
    sampler_logp_bt: torch.Tensor
    entropy_bt: torch.Tensor
    data: Any = None
    cache: dict = field(default_factory=dict, repr=False)
    """The adapter's per-batch memo (e.g. the recompute at θ_old, computed once)."""


class Policy(Protocol):
    """What one RL iteration needs from "a thing that gives log-probs of taken tokens".

    Implemented by the simulator's logits adapter (``entropy_lab.sim.adapter``: tabular
    ``[B, S, K]`` logits or a parameterised θ -> logits) and the harness's transformer + LoRA
    adapter (``entropy_lab.harness.policy``).

    Attributes:
        ratio_dtype: dtype the log-probs are cast to before the loss (None: as returned).
        loss_dtype: dtype the per-replica loss is cast to before the backward (None: as is).
    """

    ratio_dtype: torch.dtype | None
    loss_dtype: torch.dtype | None

    def parameters(self) -> list[torch.Tensor]:
        """The trainable parameters (what the optimizer holds)."""

    def sample(self, prompts, group_size: int, generator: torch.Generator | None) -> Batch:
        """Draw G responses for each prompt with the sampler path and score them.

        ``prompts`` is what the world draws prompts from: a count N (the simulator draws them
        from its problem) or the N prompts themselves (the harness's task parameters).
        """

    def trainer_logprobs(self, batch: Batch, idx, with_logits: bool = False):
        """``(logp [..., b, T], logits [..., b, T, K] or None)`` of minibatch ``idx``: the trainer
        path, differentiable w.r.t. :meth:`parameters`, 0 on padding."""

    def recompute_logprobs(self, batch: Batch) -> torch.Tensor:
        """``[..., B, T]`` the trainer path's log-probs at θ_old over the whole batch, no grad."""

    def centred_logprobs(self, batch: Batch) -> torch.Tensor:
        """``[..., B, T]`` L = log π(y_t) + H(π(·|prefix)) from the recompute, no grad (REPO)."""


@dataclass
class IterationResult:
    """``metrics``: per-replica values ``[...]`` (combined over minibatches); ``state``: the
    algorithm state after the controller update; ``values``: controller values in effect during
    the iteration (before the update), for logging."""

    metrics: dict[str, torch.Tensor]
    """float64 ``[...]`` per key (``loss`` and the loss's own metrics)."""
    state: object
    values: dict[str, torch.Tensor]


def rollout_entropy(batch: Batch) -> torch.Tensor:
    """Mean token entropy over the batch's real tokens, per replica: ``[...]``."""
    mask = batch.mask_bt
    h = torch.where(mask, batch.entropy_bt, torch.zeros((), dtype=batch.entropy_bt.dtype))
    return h.sum((-2, -1)) / mask.sum((-2, -1)).to(h.dtype)


def default_update(optimizer: torch.optim.Optimizer) -> Callable[[torch.Tensor], None]:
    """``loss -> None``: zero the gradients, backward, one optimizer step."""

    def update(loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return update


def combine_metrics(key: str, values: list[torch.Tensor]) -> torch.Tensor:
    """Minibatch values of one metric -> one per replica: min of ``*/min``, max of ``*/max``,
    else the mean (a binned ``"<metric>|<bin>"`` key: the mean over the minibatches that had a
    token in the bin, NaN if none had)."""
    if len(values) == 1:
        return values[0]
    stacked = torch.stack(torch.broadcast_tensors(*values))
    if key.endswith("/min"):
        return stacked.amin(0)
    if key.endswith("/max"):
        return stacked.amax(0)
    if "|" in key:
        return stacked.nanmean(0)
    return stacked.mean(0)


def binned_metrics(algo, state, logp, old, adv, mask, bins: dict, logits, sampler_logp) -> dict:
    """The loss's :data:`BINNED_KEYS` on each bin's tokens ``mask & bins[name]`` (no gradient),
    ``"<metric>|<name>"``; NaN for a replica without a token in the bin."""
    out = {}
    with torch.no_grad():
        for name, in_bin in bins.items():
            m = mask & in_bin
            # a throwaway generator: a loss that draws (Clip-Cov's ties) keeps its own stream
            spare = torch.Generator(device=logp.device)
            _, metrics = algo.loss(logp.detach(), old, adv, m, state, logits=logits,
                                   generator=spare, sampler_logp=sampler_logp)
            empty = ~m.any(-1).any(-1)
            for key in BINNED_KEYS:
                if key in metrics:
                    value = torch.as_tensor(metrics[key], dtype=torch.float64)
                    out[f"{key}|{name}"] = torch.where(empty, torch.nan, value)
    return out


def shaping_metrics(adv_bt: torch.Tensor, shaped_bt: torch.Tensor, entropy_bt: torch.Tensor,
                    mask_bt: torch.Tensor) -> dict[str, torch.Tensor]:
    """The shaping metrics of the module docstring, float64 ``[...]`` each.

    Args:
        adv_bt, shaped_bt: ``[..., B, T]`` advantages before and after the shaping.
        entropy_bt: ``[..., B, T]`` H(π(·|prefix)) at each token.
        mask_bt: ``[..., B, T]`` real tokens (bool or 0/1).
    """
    m = (mask_bt if mask_bt.dtype == torch.bool else mask_bt > 0).to(torch.float64)
    n = m.sum((-2, -1))

    def mean(x):
        return (x.detach().to(torch.float64) * m).sum((-2, -1)) / n

    return {"shape/abs_adv": mean(adv_bt.abs()), "shape/abs_shaped": mean(shaped_bt.abs()),
            "shape/abs_change": mean((shaped_bt - adv_bt).abs()),
            "shape/abs_adv_entropy": mean(adv_bt.abs() * entropy_bt)}


@dataclass
class Stopped:
    """The tokens of one minibatch whose gradient the loss stops, ``[..., b, T]`` each.

    Attributes:
        high: bool, A > 0 and the loss passes no gradient (PPO: r > 1 + ε_high).
        low: bool, A < 0 and the loss passes no gradient (PPO: r < 1 − ε_low, or the dual clip).
        grad: ∂S/∂log π_t on those tokens (0 elsewhere), S = aggregate(−A·r) the unclipped
            importance-weighted surrogate with the loss's own aggregation: for token-mean
            −A_t·r_t / n, the gradient the clip removed.
    """

    high: torch.Tensor
    low: torch.Tensor
    grad: torch.Tensor


def stopped_gradient(algo, logp, old, adv, mask, loss) -> Stopped:
    """The clipped tokens of a minibatch and the surrogate gradient the clip removed.

    A token is *stopped* when A_t ≠ 0 and ∂loss/∂log π_t = 0 exactly (a PPO-clipped token's loss
    is the constant −A·clip(r)); the removed gradient is that of the unclipped surrogate
    S = aggregate(−A·exp(log π − log π_old)) on those tokens. Both come from autograd (the
    loss's graph, kept for the update, and S on a detached copy of ``logp``), so no clip rule is
    written twice.

    Args:
        algo: the :class:`~entropy_lab.algorithms.recipe.Algorithm` (its ``agg`` and
            ``agg_norm``).
        logp: ``[..., b, T]`` the log-probs the loss was computed from (in the graph).
        old, adv, mask: ``[..., b, T]`` as given to the loss.
        loss: ``[...]`` the per-replica loss of ``logp``, before the update's backward.
    """
    if not logp.requires_grad:
        raise fail("logp", "a tensor without gradient", "the differentiable trainer log-probs "
                   "the loss was computed from (clip diagnostics)")
    (g_loss,) = torch.autograd.grad(loss.sum(), logp, retain_graph=True, allow_unused=True)
    g_loss = torch.zeros_like(logp) if g_loss is None else g_loss
    mask = mask if mask.dtype == torch.bool else mask > 0
    with torch.enable_grad():
        lp = logp.detach().requires_grad_(True)
        zero = torch.zeros((), dtype=lp.dtype)
        surrogate_bt = torch.where(mask, -adv * log_ratio(lp, old).exp(), zero)
        s = aggregate(surrogate_bt, mask, algo.agg, algo.loss_hp.get("agg_norm"))
        (g_s,) = torch.autograd.grad(s.sum(), lp)
    stopped = mask & (adv != 0) & (g_loss == 0)
    grad = torch.where(stopped, g_s, torch.zeros((), dtype=g_s.dtype))
    return Stopped(stopped & (adv > 0), stopped & (adv < 0), grad.detach())


def resolve_convention(old_logp):
    """The old-log-prob convention a training step can run: ``rollout`` or ``recompute`` (same
    layout). The weighted conventions are losses here: the ``tis`` / ``icepop`` presets with
    ``old_logp="recompute"`` are ``recompute+tis`` / ``recompute+icepop``."""
    from entropy_lab.algorithms.conventions import get_convention

    conv = get_convention(old_logp)
    if conv.weight != "none":
        raise fail("old_logp", conv.name, "'rollout' or 'recompute' in a training step (the "
                   "sampler/trainer weight is a loss: use the 'tis' or 'icepop' preset with "
                   "old_logp='recompute')")
    if conv.layout != "same":
        raise fail("old_logp", f"{conv.name} (layout={conv.layout!r})", "layout 'same' in a "
                   "training step (the reordered recompute is measured by "
                   "entropy_lab.precision.measure_conventions)")
    return conv


def rl_iteration(policy: Policy, algo, state, batch: Batch, update: Callable, *,
                 generator: torch.Generator | None = None, old_logp="rollout",
                 shape_with: str = "recompute",
                 observe: Callable[[str, torch.Tensor], None] | None = None,
                 token_bins: dict[str, torch.Tensor] | None = None,
                 clip_probe: Callable | None = None) -> IterationResult:
    """One RL iteration of ``algo`` on ``batch`` (see the module docstring).

    Args:
        policy: a :class:`Policy` adapter.
        algo: an :class:`~entropy_lab.algorithms.Algorithm`.
        state: its :class:`~entropy_lab.algorithms.recipe.AlgoState`, or None on the first
            iteration (one is created with :func:`rollout_entropy` as the reference entropy).
        batch: the rollout, from ``policy.sample``.
        update: ``loss (scalar) -> None`` — backward and optimizer step
            (:func:`default_update`; the harness scales the loss in fp16).
        generator: draws the minibatch permutations (None: identity order).
        old_logp: the old-log-prob convention, ``"rollout"`` (bypass: the sampler's log-probs)
            or ``"recompute"`` (the trainer's at θ_old), a name or a
            :class:`~entropy_lab.algorithms.conventions.Convention`.
        shape_with: which log-probs REPO shapes with, ``"recompute"`` (default) or
            ``"sampler"``.
        observe: ``(name, tensor) -> None`` called on each intermediate result (finiteness
            guards).
        token_bins: ``{name: [..., B, T] bool}`` token sets for the ratio diagnostics (module
            docstring); None: none.
        clip_probe: ``(batch, idx, Stopped, logits) -> {name: [...]}`` called after each
            minibatch's update with :func:`stopped_gradient` of that minibatch and the trainer
            logits ``[..., b, T, K]`` it was computed from (module docstring); None: off.
            Cost, measured (CPU time, 1 thread, ``bandit64/calibrated``, DAPO, Adam, 1 × 16
            minibatches of 4 sequences, 8 seeds, tabular, 2026-12-03): 23 ms per iteration off,
            41 ms on (×1.8: a second backward through each minibatch's loss, the surrogate's
            and the probe's); off, the step runs exactly as without it.
    Returns:
        :class:`IterationResult`.
    """
    check_choice("shape_with", shape_with, SHAPE_WITH)
    conv = resolve_convention(old_logp)
    observe = observe or (lambda name, x: None)
    h = rollout_entropy(batch)
    if state is None:
        state = algo.init_state(h)
    values = state.values()
    mask = batch.mask_bt
    sampler = batch.sampler_logp_bt
    with torch.no_grad():
        shape = (*batch.rewards_ng.shape, mask.shape[-1])
        adv = broadcast_advantages(algo.advantages(batch.rewards_ng), mask.reshape(shape))
        adv = adv.reshape(mask.shape)
        old = policy.recompute_logprobs(batch) if conv.recomputes else sampler
        shape_out = {}
        if algo.shaping is not None:
            shaping_logp = policy.recompute_logprobs(batch) if shape_with == "recompute" \
                else sampler
            shaped = algo.shape(adv, shaping_logp, mask, state,
                                centered_logprob_bt=policy.centred_logprobs(batch))
            shape_out = shaping_metrics(adv, shaped, batch.entropy_bt, mask)
            adv = shaped
    rd, ld = policy.ratio_dtype, policy.loss_dtype
    cast = (lambda x: x) if rd is None else (lambda x: x.to(rd))
    # the sampler's log-probs are a separate input only when old is the recompute (verl's
    # layout); under "rollout" they are old itself and a loss sees its one-argument form
    wants_sampler = conv.recomputes and "sampler_logp" in algo.loss_fn().data_args
    sums: dict[str, list] = {}
    first: dict[str, torch.Tensor] = {}
    for i, idx in enumerate(algo.schedule(mask.shape[-2], generator)):
        # on-policy the one index set is every sequence in order (Algorithm.schedule): a view
        idx = slice(None) if algo.on_policy else idx
        logp, logits = policy.trainer_logprobs(
            batch, idx, with_logits=algo.needs_logits or clip_probe is not None)
        mb = (cast(logp), cast(old[..., idx, :]), adv[..., idx, :], mask[..., idx, :])
        mb_sampler = cast(sampler[..., idx, :]) if wants_sampler else None
        loss, metrics = algo.loss(*mb, state, logits=logits, sampler_logp=mb_sampler)
        if token_bins:
            bins = {name: b[..., idx, :] for name, b in token_bins.items()}
            metrics = {**metrics, **binned_metrics(algo, state, *mb, bins, logits, mb_sampler)}
            if i == 0:
                first = {f"first/{k}": torch.as_tensor(v, dtype=torch.float64).detach()
                         for k, v in metrics.items() if k.split("|")[0] in BINNED_KEYS}
        stopped = None if clip_probe is None else stopped_gradient(algo, *mb, loss)
        loss = loss if ld is None else loss.to(ld)
        update(loss.sum())  # a sum of per-replica losses: each replica gets its own gradient
        if stopped is not None:
            metrics = {**metrics, **clip_probe(batch, idx, stopped, logits.detach())}
        observe("trainer log-probs", logp)
        observe("loss", loss)
        for key, value in {"loss": loss.detach(), **metrics}.items():
            sums.setdefault(key, []).append(
                torch.as_tensor(value, dtype=torch.float64).detach())
    out = {key: combine_metrics(key, vals) for key, vals in sums.items()}
    out.update(first)
    out.update(shape_out)
    state.update(h)
    return IterationResult(out, state, values)
