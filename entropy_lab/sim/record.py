"""Per-step measurements of a batch of tabular policies, and the tidy DataFrame they become.

Every iteration t (1..steps) yields one row per seed; row 0 holds the initial policy (its update
columns are NaN). Per-step values are kept as ``[B]`` tensors in a list and stacked once at the
end, so recording costs no host synchronisation per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from entropy_lab import passk
from entropy_lab.problems.base import take_buffer
from entropy_lab.sim import formulas

NAN = float("nan")
# Fixed leading columns (pass@k columns are inserted after J); the rest follow in sorted order.
CORE_COLUMNS = (
    "entropy", "entropy_seq", "J", "dH_exact", "dH_pred", "dH_pred_state", "dH_pred_closed",
    "clip/frac_low", "clip/frac_high", "clip/frac", "ratio/mean", "ratio/min", "ratio/max",
    "zeta", "eps_high", "entropy_coef", "cum_entropy", "reward_mean",
)


@dataclass
class Snapshot:
    """Exact quantities of the policy ``logits [B, S, K]`` on one task.

    Attributes:
        entropy, entropy_seq, J, pass1, passk: ``[B]``.
        grad_entropy: ``[B, S, K]`` ∂(token-averaged entropy)/∂logits (autograd, or its closed
            form on bandits; seeds separate).
        weights: ``[B, S]`` visits_s / Σ_s visits_s (the state weights of the token average).
        p_centred: ``[B, S, K]`` π ⊙ L, L = log π + H per state (Theorem 1 per state:
            ΔH_s ≈ −Σ_a π_a L_a Δz_a).
        logp: ``[B, S, K]`` log π = ``torch.log_softmax(logits)`` (None unless kept: the policy
            state's table, reused by the next sampled step for the sampler's log-probs).
        state_entropy: ``[B, S]`` H_s = −Σ_a π_a log π_a, the per-state entropies the token
            average is taken over (the next sampled step's rollout entropy).
        success, success_grad: where the problem has closed forms
            (:meth:`~entropy_lab.problems.base.TabularProblem.exact_terms`), p_c ``[B, C]`` and
            ``coef [B, C] -> ∂(Σ_c coef_bc p_bc)/∂logits [B, S, K]`` at this policy state, for
            the expected-mode update from the same state (None otherwise).
        spare: further ``[B, S, K]`` buffers (those ``success_grad`` reads) free for reuse once
            the snapshot is consumed (:func:`update_row` with ``consume=True``).
    """

    entropy: torch.Tensor
    entropy_seq: torch.Tensor
    J: torch.Tensor
    pass1: torch.Tensor
    passk: torch.Tensor
    grad_entropy: torch.Tensor
    weights: torch.Tensor
    p_centred: torch.Tensor
    logp: torch.Tensor | None = None
    state_entropy: torch.Tensor | None = None
    success: torch.Tensor | None = None
    success_grad: Callable[[torch.Tensor], torch.Tensor] | None = None
    spare: tuple[torch.Tensor, ...] = ()


def snapshot(problem, logits: torch.Tensor, k: int,
             workspace: list[torch.Tensor] | None = None, keep_logp: bool = False,
             compiled: bool = False) -> Snapshot:
    """Measure ``logits [B, S, K]`` exactly (entropy, its gradient, J, pass@1, pass@k).

    π, log π and H_s are computed once here per policy state: ``keep_logp`` keeps log π in the
    snapshot (one ``[B, S, K]`` buffer more until the next step), so the sampled step that starts
    from this state gathers its sampler log-probs, its rollout entropy and REPO's centred
    log-probs from it instead of evaluating the softmax again (``sim.adapter``).

    Two problem calls (visits, ``reward_and_success``: J and p_c) give everything through the
    interface's definitions: entropy = Σ_s v_s·H_s / Σ_s v_s, entropy_seq = Σ_s v_s·H_s,
    pass@k = Σ_c w_c·(1 − (1 − p_c)^k) (``entropy_lab.passk.exact_pass_at_k``). The gradient of
    the token-averaged entropy comes from autograd through visits and H where the visits move
    with the logits (trees, MDPs: the state distribution moves too); where they do not (bandits:
    visits = w_c), it is the closed form ∂H/∂z(s, a) = −(v_s / Σ v)·π_a·(log π_a + H_s), the
    same function without a ``[B, S, K]`` backward pass (tests/test_sim_loop.py checks it against
    autograd).

    ``workspace``: spare ``[B, S, K]`` buffers nothing else uses (the loop's consumed snapshot);
    without a gradient pass π and π log π are written into them (the same numbers, no new
    buffer); the closed-form gradient then takes π's buffer, and log π's (when not kept) is
    handed back to the list.

    The formulas are :mod:`entropy_lab.sim.formulas`'s. ``compiled``: where the visits do not
    move, the tables come from those formulas compiled (:mod:`entropy_lab.sim.compiled`,
    ~1e-15 apart; no workspace).

    A problem with closed forms (``problem.exact_terms``: token trees) gives every quantity
    itself, with no autograd pass (``compiled`` does not apply), and the snapshot keeps p_c and
    its gradient for the expected-mode update from this state.
    """
    terms = problem.exact_terms(logits.detach(), workspace)
    if terms is not None:
        return Snapshot(
            entropy=terms.entropy, entropy_seq=terms.entropy_seq, J=terms.J,
            pass1=passk.exact_pass_at_k(terms.success, 1, problem.prompt_probs),
            passk=passk.exact_pass_at_k(terms.success, k, problem.prompt_probs),
            grad_entropy=terms.grad_entropy, weights=terms.weights, p_centred=terms.p_centred,
            logp=_kept_logp(logits) if keep_logp else None, state_entropy=terms.state_entropy,
            success=terms.success, success_grad=terms.success_grad, spare=terms.spare,
        )
    z = logits.detach().requires_grad_(True)
    with torch.enable_grad():
        v_bs = problem.visits(z)
    moving = v_bs.requires_grad
    if not moving:
        z = z.detach()
        if compiled:
            return _compiled_snapshot(problem, z, v_bs, k, keep_logp)
    spare = [] if moving or workspace is None else workspace
    with torch.set_grad_enabled(moving):
        logp_bsk, p_bsk, plogp_bsk, h_bs, seq_b, vsum_b = formulas.entropy_tables(
            z, v_bs, out=(take_buffer(spare, z), take_buffer(spare, z)))
        h_b = seq_b / vsum_b
        if moving:  # a sum of per-seed terms: seeds stay apart
            (grad,) = torch.autograd.grad(h_b.sum(), z)
    z = z.detach()
    with torch.no_grad():
        weights_bs = formulas.state_weights(v_bs.detach(), vsum_b.detach())
        logp_bsk, p_bsk, h_bs = logp_bsk.detach(), p_bsk.detach(), h_bs.detach()
        # (log π + H) · π in the buffer of π log π (no longer needed; the autograd graph is
        # freed: the same numbers as a new tensor), and the closed-form gradient in π's (π is
        # not used after p_centred): no new [B, S, K] buffer for either
        p_centred = formulas.centred_probs(logp_bsk, p_bsk, h_bs, out=plogp_bsk.detach())
        if not moving:
            grad = formulas.entropy_grad(p_centred, weights_bs, out=p_bsk)
        if workspace is not None and not moving and not keep_logp:
            workspace.append(logp_bsk)  # log π is not kept
        return _finish(problem, z, k, logp_bsk if keep_logp else None, p_centred, grad, h_bs,
                       h_b.detach(), seq_b.detach(), weights_bs)


def _kept_logp(logits: torch.Tensor) -> torch.Tensor:
    """log π for the next sampled step: ``torch.log_softmax``, the trainer's own formula, so that
    on-policy ratios are exactly 1 (the closed forms' log π may differ in the last bit)."""
    return torch.log_softmax(logits.detach(), -1)


def _compiled_snapshot(problem, z, v_bs, k: int, keep_logp: bool) -> Snapshot:
    """:func:`snapshot` without moving visits, its tables from :func:`sim.compiled.tables`; the
    kept log π is :func:`_kept_logp`'s (the compiled one rounds otherwise: on-policy ratios
    measured 1 ± 8.9e-16 with it)."""
    from entropy_lab.sim.compiled import tables

    with torch.no_grad():
        _, p_centred, grad, h_bs, h_b, seq_b, w_bs = tables()(z, v_bs)
        return _finish(problem, z, k, _kept_logp(z) if keep_logp else None, p_centred, grad,
                       h_bs, h_b, seq_b, w_bs)


def _finish(problem, z, k, logp, p_centred, grad, h_bs, h_b, seq_b, w_bs) -> Snapshot:
    """The snapshot of ``z`` from its tables and the problem's J and p_c."""
    j_b, p_bc = problem.reward_and_success(z)
    return Snapshot(entropy=h_b, entropy_seq=seq_b, J=j_b,
                    pass1=passk.exact_pass_at_k(p_bc, 1, problem.prompt_probs),
                    passk=passk.exact_pass_at_k(p_bc, k, problem.prompt_probs),
                    grad_entropy=grad, weights=w_bs, p_centred=p_centred, logp=logp,
                    state_entropy=h_bs)


def update_row(before: Snapshot, after: Snapshot, delta_logits, consume: bool = False,
               compiled: bool = False) -> dict:
    """dH_exact, dH_pred (∇H·Δz) and dH_pred_state, ``[B]`` each.

    dH_pred_state = Σ_s w_s·(−Σ_a π_a L_a Δz_a): Theorem 1's general form per state
    (``theory.first_order_entropy_change``, from the snapshot's π ⊙ L), state weights frozen.
    ``consume``: the two products are written into ``before``'s own ``grad_entropy`` and
    ``p_centred`` buffers (the same numbers; ``before`` is unusable afterwards), as the loop does
    once it has no further use for them; otherwise into one new ``[B, S, K]`` buffer.
    ``compiled``: the two sums from :func:`sim.compiled.update_terms` (no product buffer).
    """
    ge, pc = before.grad_entropy, before.p_centred
    if compiled:
        from entropy_lab.sim.compiled import update_terms

        dh_pred, dh_state = update_terms()(ge, pc, before.weights, delta_logits)
    else:
        prod = None if consume else torch.empty_like(ge)
        dh_pred, dh_state = formulas.update_sums(ge, pc, before.weights, delta_logits,
                                                 out=(ge, pc) if consume else (prod, prod))
    return {"dH_exact": after.entropy - before.entropy, "dH_pred": dh_pred,
            "dH_pred_state": dh_state}


def snapshot_row(snap: Snapshot, k: int) -> dict:
    """The exact columns of a snapshot, ``[B]`` each."""
    row = {"entropy": snap.entropy, "entropy_seq": snap.entropy_seq, "J": snap.J,
           "pass@1": snap.pass1}
    row[f"pass@{k}"] = snap.passk
    return row


class Recorder:
    """Collects one dict of ``[B]`` tensors per step and builds the tidy frame."""

    def __init__(self, seed_ids: list[int], k: int):
        self.seed_ids = list(seed_ids)
        self.k = k
        self.rows: list[dict] = []
        self.tasks: list[str] = []

    def add(self, row: dict, task: str) -> None:
        self.rows.append(row)
        self.tasks.append(task)

    def columns(self) -> list[str]:
        seen = {name for row in self.rows for name in row}
        passk = ["pass@1"] + ([f"pass@{self.k}"] if self.k != 1 else [])
        passk += [c for c in (f"pass@{self.k}_est",) if c in seen]
        fixed = list(CORE_COLUMNS[:3]) + passk + list(CORE_COLUMNS[3:])
        return fixed + sorted(seen - set(fixed))

    def frame(self, upto: int | None = None) -> pd.DataFrame:
        """Rows for steps 0..upto (all when None), ordered by (seed, step)."""
        rows = self.rows if upto is None else self.rows[: upto + 1]
        tasks = self.tasks[: len(rows)]
        n_steps, n_seeds = len(rows), len(self.seed_ids)
        data = {
            "step": np.tile(np.arange(n_steps, dtype=np.int64), n_seeds),
            "seed": np.repeat(np.asarray(self.seed_ids, dtype=np.int64), n_steps),
            "task": np.tile(np.asarray(tasks, dtype=object), n_seeds),
        }
        nan_b = torch.full((n_seeds,), NAN, dtype=torch.float64)
        for name in self.columns():
            if name == "cum_entropy":
                continue
            stacked = torch.stack([
                _as_seed_vector(row.get(name, nan_b), n_seeds) for row in rows
            ]) if rows else torch.empty(0, n_seeds, dtype=torch.float64)
            data[name] = stacked.T.reshape(-1).numpy()
        ent = data["entropy"].reshape(n_seeds, n_steps)
        cum = np.concatenate([np.zeros((n_seeds, 1)), np.cumsum(ent[:, 1:], axis=1)], axis=1)
        data["cum_entropy"] = cum[:, :n_steps].reshape(-1)
        order = ["step", "seed", "task"] + self.columns()
        return pd.DataFrame({name: data[name] for name in order})  # built in order: no copy


def _as_seed_vector(value, n_seeds: int) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):  # a Python float: never through the default dtype
        value = torch.tensor(float(value), dtype=torch.float64)
    t = value.detach().to(dtype=torch.float64, device="cpu")
    return t.expand(n_seeds) if t.ndim == 0 else t.reshape(n_seeds)
