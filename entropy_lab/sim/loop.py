"""The RL loop, batched over seeds: ``simulate(problem, algorithm, config)``.

The policy gives float64 logits ``[B, S, K]`` of every state (B seeds as the leading dim): one
free leaf (``policy="tabular"``) or θ -> logits with parameters shared across states
(:mod:`entropy_lab.sim.params`), trained by torch.optim. One iteration:

    sampled:   batch = LogitsPolicy.sample(N, G)      # the problem's dynamics, sampler path
               rl_iteration(policy, algorithm, state, batch, update)   # algorithms/step.py
    expected:  the exact expectation of that gradient (entropy_lab.sim.expected), one step

The step is the one every world runs (docs/algorithms.md, "The one RL step"): advantages,
shaping, the epochs × minibatches schedule, the loss, per-seed backward (a sum of per-seed
losses: no mixing), metric combination and the controllers.

Token tensors are reshaped from ``[B, N, G, T]`` to the algorithms' ``[..., B', T]`` convention
with the seeds as the replica dim and B' = N·G sequences. Around every iteration the exact
quantities of the policy are measured (entropy, J, pass@k, ∂H/∂z) so each row carries
dH_exact = H(after) − H(before) beside its first-order predictions (entropy_lab.sim.record).
Inside the loop the entry points' per-call finiteness scans are off (validation.trusted); one
check per iteration of rewards, log-probs, loss, logits and entropy stands in for them
(entropy_lab.sim.guard) and stops the run naming the step, seed and quantity.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from entropy_lab.algorithms.presets import apply_overrides, get_preset
from entropy_lab.algorithms.recipe import PARTS
from entropy_lab.algorithms.step import default_update, logp_bins, rl_iteration
from entropy_lab.problems.base import take_buffer
from entropy_lab.registry import Registry
from entropy_lab.sim import expected as exp
from entropy_lab.sim.adapter import LogitsPolicy
from entropy_lab.sim.clip_probe import ClipProbe, add_shares
from entropy_lab.sim.config import SimConfig, check_against
from entropy_lab.sim.guard import NonFiniteStep, StepGuard
from entropy_lab.sim.optim import make_optimizer
from entropy_lab.sim.params import SimParams
from entropy_lab.sim.pipeline import ExactPipeline, resolve_pipeline, token_sampler
from entropy_lab.sim.record import NAN, Recorder, snapshot, snapshot_row, update_row
from entropy_lab.sim.replicas import algorithm_replica_values, check_controller_scalars, lr_value
from entropy_lab.sim.streams import Streams
from entropy_lab.theory import predicted_entropy_change
from entropy_lab.validation import fail, trusted

STEPS = Registry("simulation mode")


class SimulationError(RuntimeError):
    """A run stopped early; ``partial`` holds the rows of the steps completed before it."""

    def __init__(self, message: str, partial: pd.DataFrame):
        super().__init__(message)
        self.partial = partial


@dataclass
class SimResult:
    """``frame``: the tidy DataFrame; ``logits``: final ``[B, S, K]``; ``state``: AlgoState."""

    frame: pd.DataFrame
    logits: torch.Tensor
    state: object


@dataclass
class Context:
    """What one iteration needs besides the policy and the optimizer."""

    algorithm: object
    config: SimConfig
    pipeline: object
    streams: Streams
    sampler: object = None
    """The :data:`~entropy_lab.problems.base.TokenSampler` of the rollouts (None: exact π)."""
    estimator: str | None = None
    agg_scale: float | exp.LengthWeighting = 1.0
    guard: StepGuard = field(default_factory=StepGuard)


def resolve(problem, algorithm, config, overrides):
    """Route ``overrides`` (SimConfig fields, ``problem.<key>``, ``policy.<key>``, else
    algorithm hyperparameters); build the problem, algorithm and config objects and return them
    with the policy options."""
    config = SimConfig() if config is None else config
    regime = overrides.get("regime")
    overrides = {k: v for k, v in overrides.items() if k != "regime"}
    if regime is not None:  # a named regime sets schedule, optimizer and lr
        from entropy_lab.sim.regimes import regime_overrides

        clash = sorted(set(overrides) & {"lr", "optimizer", "epochs", "minibatches"})
        if clash:
            raise fail("regime", regime, f"a regime without {clash} beside it (the regime "
                       "sets them: lr by calibration)")
        overrides.update(regime_overrides(problem, algorithm, regime))
    fields = set(SimConfig.field_names())
    sim_kw = {k: v for k, v in overrides.items() if k in fields}
    prob_kw = {k[len("problem."):]: v for k, v in overrides.items() if k.startswith("problem.")}
    policy_kw = {k[len("policy."):]: v for k, v in overrides.items() if k.startswith("policy.")}
    algo_kw = {k: v for k, v in overrides.items()
               if k not in fields and not k.startswith(("problem.", "policy."))}
    config = config.replace(**sim_kw) if sim_kw else config
    algo_kw = algorithm_replica_values(algo_kw, config.seeds, config.mode)
    if isinstance(problem, str):
        from entropy_lab.problems import get_problem

        problem = get_problem(problem, **prob_kw)
    elif prob_kw:
        raise fail("overrides", sorted(prob_kw), "problem.* keys only with a problem id")
    if isinstance(algorithm, str):
        algorithm = get_preset(algorithm)
    check_controller_scalars(algorithm, algo_kw)
    if algo_kw:
        algorithm = apply_overrides(algorithm, **algo_kw)
    return problem, algorithm, config, policy_kw


def simulate(problem, algorithm, config: SimConfig | None = None, generator=None, **overrides):
    """Train B tabular policies and return one row per (seed, step); see :func:`run`."""
    return run(problem, algorithm, config, generator, **overrides).frame


def run(problem, algorithm, config: SimConfig | None = None, generator=None, *, pipeline=None,
        **overrides) -> SimResult:
    """Train ``config.seeds`` policies (``config.policy``: tabular, or parameterised with
    parameters shared across states, :mod:`entropy_lab.sim.params`) for ``config.steps``
    iterations.

    Args:
        problem: a TabularProblem or a preset id (``"tree/calibrated"``).
        algorithm: an Algorithm or a preset name (``"grpo"``).
        config: :class:`SimConfig` (defaults when None).
        generator: drives initialisation, sampling and the minibatch schedule (``rng="batched"``);
            with ``rng="per_seed"`` its initial seed is the base of the per-seed streams.
        pipeline: a precision pipeline object (overrides ``config.precision``).
        overrides: SimConfig fields (``policy="lowrank"``), ``problem.<key>`` builder
            overrides, ``policy.<key>`` policy options (``**{"policy.rank": 8}``), or algorithm
            hyperparameters (``eps_high=0.3``), routed by name; ``regime="llm-clip"`` sets the
            schedule, optimizer and a calibrated lr (:mod:`entropy_lab.sim.regimes`). ``lr`` and
            the algorithm
            hyperparameters of :data:`entropy_lab.sim.replicas.REPLICA_HPS` (ε_low, ε_high, the
            dual clip, the entropy coefficient, REPO β, ζ) may be one value per replica, a
            sequence of length ``seeds`` (``lr=[0.05, 0.1, 0.2, 0.4]`` with ``seeds=4``):
            replica b then trains with the b-th values, and with ``rng="per_seed"`` equals a
            separate run with those values (:mod:`entropy_lab.sim.replicas`).
    Returns:
        :class:`SimResult`; ``frame`` has the columns listed in ``entropy_lab.sim`` and
        ``frame.attrs`` = {"config", "algorithm", "problem", "precision"}.
    Raises:
        InputError: bad config or a combination the mode cannot run.
        SimulationError: a non-finite rewards, log-probs, loss, logits or entropy value (step,
            seed and quantity named); ``.partial`` holds the completed rows.
    """
    problem, algorithm, config, policy_kw = resolve(problem, algorithm, config, overrides)
    check_against(config, algorithm, problem)
    pipe = pipeline or resolve_pipeline(config.precision)
    ctx = Context(algorithm, config, pipe, Streams(config, generator),
                  token_sampler(pipe, config.sampling))
    if config.mode == "expected":
        ctx.estimator = exp.estimator_for(algorithm, config.geometry)
        ctx.agg_scale = exp.aggregation_factor(algorithm, problem, config.geometry)
    tasks = {"A": problem}
    if config.switch_task_at is not None:
        tasks["B"] = problem.with_task("B")
    if ctx.estimator == "group_binary":
        for prob in tasks.values():
            exp.check_binary_rewards(prob, problem.init_logits(1))

    params = SimParams(ctx.streams.init_logits(problem).to(torch.float64), config.policy,
                       policy_kw, config.seed, orthogonal=config.optimizer == "sgd")
    lr = lr_value(config.lr)  # a float, or [B] (one per replica)
    optimizer = make_optimizer(config.optimizer, params.parameters(), lr)
    keep = config.mode == "sampled"  # the sampled step reuses log π of the state it samples
    fused = {"keep_logp": keep, "compiled": config.compile}
    before = snapshot(problem, params.current(), config.k, **fused)
    # sampled mode: the first iteration creates the state from its rollout's entropy
    # (algorithms.step); expected mode has no rollout and starts from the exact entropy.
    state = algorithm.init_state(before.entropy) if config.mode == "expected" else None
    rec = Recorder(ctx.streams.seed_ids, config.k)
    static = _static_values(algorithm)
    if state is None:  # the controllers' starting values; their target is not measured yet
        initial = algorithm.init_state(before.entropy).values()
        initial["entropy_target"] = torch.full_like(before.entropy, NAN)
    else:
        initial = state.values()
    rec.add({**snapshot_row(before, config.k), **_ceiling(problem, before),
             **_controller_values(initial, static)}, "A")
    step_fn = STEPS.get(config.mode)
    # The loop feeds only its own, guarded intermediate results to the problem and algorithm
    # entry points: their per-call finiteness scans are replaced by one check per iteration.
    workspace: list[torch.Tensor] = []  # spare [B, S, K] buffers for the snapshots
    with trusted():
        for t in range(1, config.steps + 1):
            task = "A" if config.switch_task_at is None or t <= config.switch_task_at else "B"
            prob = tasks[task]
            if prob is not tasks[rec.tasks[-1]]:  # task switch: J of the new task before the step
                before = snapshot(prob, params.current(), config.k, **fused)
            logits_before = params.current(frozen=True, out=_spare_for(params, workspace))
            theta_before = params.begin_step()
            metrics, state, used = step_fn(ctx, prob, params, optimizer, state, before)
            values = _controller_values(used, static)
            metrics.setdefault("reward_mean", before.J)  # expected mode: the exact J it starts from
            z_after = params.current()
            after = snapshot(prob, z_after, config.k, workspace, **fused)
            ctx.guard.add("logits after the update", z_after)
            ctx.guard.add("entropy after the update", after.entropy)
            _check_step(ctx.guard, t, ctx.streams.seed_ids, rec)
            if config.mode == "expected":
                state.update(after.entropy)
            predictions = params.predictions(theta_before, before.grad_entropy, lr,
                                             config.optimizer)
            # Δz into logits_before's own buffer (not used after this step: a copy for the
            # tabular policy, the previous θ's forward, its graph consumed above, otherwise;
            # elementwise, the same numbers)
            delta = torch.sub(z_after, logits_before, out=logits_before)
            # the last use of `before`: its buffers take update_row's products
            row = {**snapshot_row(after, config.k), **_ceiling(prob, after),
                   **update_row(before, after, delta, consume=True, compiled=config.compile),
                   **predictions,
                   **values, **metrics}
            rec.add(row, task)
            # before's buffers are free now: the next snapshot's π and π log π (and a tree's
            # log π, π ⊙ L and ∂H/∂z: as many as the snapshot gave back)
            spare = [before.grad_entropy, before.p_centred, *before.spare]
            if params.tabular:  # the copy of the logits before the step, now Δz
                spare.append(delta)
            workspace[:] = [*workspace, *spare][-len(spare):]
            before = after
    frame = rec.frame()
    frame.attrs.update(_attrs(config, algorithm, problem, ctx.pipeline))
    return SimResult(frame, params.current(), state)


CONTROLLED = ("zeta", "eps_high", "entropy_coef")


def _spare_for(params, workspace: list[torch.Tensor]) -> torch.Tensor | None:
    """A spare buffer for the tabular policy's frozen copy of its logits (None: a new one)."""
    return take_buffer(workspace, params.current()) if params.tabular else None


def _ceiling(problem, snap) -> dict:
    """``H_max``: the entropy ceiling at the snapshot's pass@1, where the problem defines one."""
    if not problem.has_entropy_ceiling:
        return {}
    return {"H_max": problem.entropy_ceiling(snap.pass1.clamp(0.0, 1.0))}


def _static_values(algorithm) -> dict:
    """zeta / eps_high / entropy_coef as fixed by the algorithm's hyperparameters (NaN where the
    algorithm has no such hyperparameter; a controller's live value replaces them per step)."""
    hps = {}
    for part in PARTS:
        hps.update(getattr(algorithm, f"{part}_hp", None) or {})
    out = {}
    for key in CONTROLLED:
        value = hps.get(key)
        if key == "eps_high" and value is None and "eps_low" in hps:
            value = hps["eps_low"]  # the losses' convention: eps_high=None means ε_low
        if isinstance(value, torch.Tensor):  # one value per replica, [B]
            out[key] = value.to(torch.float64).clone()
        else:
            out[key] = float(value) if isinstance(value, (int, float)) else NAN
    return out


def _controller_values(in_effect: dict, static: dict) -> dict:
    """The values in effect this iteration: the controllers' (``AlgoState.values()``, ``[B]``
    copies) over the static hyperparameters."""
    values = dict(static)
    for name, v in in_effect.items():
        values[name] = torch.as_tensor(v, dtype=torch.float64).detach().clone()
    return values


def _check_step(guard: StepGuard, step: int, seed_ids, rec: Recorder) -> None:
    """Stop at the first non-finite quantity of iteration ``step`` (rows 0..step − 1 kept)."""
    try:
        guard.check(step, seed_ids)
    except NonFiniteStep as err:
        message = f"{err}. Rows for steps 0..{step - 1} are in .partial"
        raise SimulationError(message, rec.frame(upto=step - 1)) from None


@STEPS.register("sampled")
def sampled_step(ctx: Context, problem, params, optimizer, state,
                 snap) -> tuple[dict, object, dict]:
    """One sampled batch through :func:`~entropy_lab.algorithms.step.rl_iteration` from the
    policy state ``snap`` measured (its log π and H_s reused); returns the ``[B]`` metrics, the
    algorithm state and the controller values the step used."""
    cfg = ctx.config
    policy = LogitsPolicy(params, problem, ctx.pipeline, ctx.streams, ctx.sampler, snap)
    batch = policy.sample(cfg.n_prompts, cfg.group_size)
    ctx.guard.add("rewards", batch.rewards_ng)
    ctx.guard.add("sampler log-probs", batch.sampler_logp_bt)
    exact = isinstance(ctx.pipeline, ExactPipeline)  # else: ratio diagnostics by ℓ_s bin
    bins = None if exact else logp_bins(batch.sampler_logp_bt)
    probe = ClipProbe(params, optimizer, cfg.optimizer, lr_value(cfg.lr), snap.weights) \
        if cfg.clip_diagnostics else None
    res = rl_iteration(policy, ctx.algorithm, state, batch, default_update(optimizer),
                       generator=ctx.streams.shared, old_logp=cfg.old_logp,
                       observe=ctx.guard.add, token_bins=bins, clip_probe=probe)
    out = res.metrics
    if probe is not None:
        add_shares(out)
    out["reward_mean"] = batch.rewards_ng.mean((-2, -1))
    rollout = batch.data["rollout"]
    correct_bn = problem.correct(rollout, batch.rewards_ng).sum(-1)
    if cfg.k <= cfg.group_size:  # the unbiased estimate needs k of the G samples
        table = ctx.streams.passk_table(cfg.group_size, cfg.k)
        out[f"pass@{cfg.k}_est"] = table[correct_bn].mean(-1)
    return out, res.state, res.values


@STEPS.register("expected")
def expected_step(ctx: Context, problem, params, optimizer, state,
                  snap) -> tuple[dict, object, dict]:
    """One exact expected update (entropy_lab.sim.expected) from the policy whose snapshot is
    ``snap`` (the estimator reuses its closed forms, where it has them); ``dH_pred_closed``
    where valid.
    Returns the metrics, the state and its controller values (the step does not change them).

    ``reward_mean`` is left to the caller: in expected mode it is the exact J before the update.
    There is no rollout: the caller creates the state from the exact initial entropy and
    updates it with the exact entropy after each update. Expected mode admits only algorithms whose
    gradient at r = 1 is the policy gradient, so no controller value reaches the update.
    """
    cfg = ctx.config
    z = params.current()
    grad = exp.EXPECTED.get(ctx.estimator)(problem, ctx.algorithm, z, cfg, ctx.agg_scale, snap)
    out = {}
    if ctx.estimator == "exact_pg" and problem.num_states == 1 and cfg.optimizer == "sgd":
        q_bk = problem.action_values(z)[:, 0]
        lr = lr_value(cfg.lr)
        if isinstance(lr, float):
            out["dH_pred_closed"] = predicted_entropy_change(
                z[:, 0], q_bk, lr * ctx.agg_scale, cfg.geometry)
        else:  # the closed form is linear in η: η_b times the form at η = c_agg
            out["dH_pred_closed"] = lr * predicted_entropy_change(
                z[:, 0], q_bk, ctx.agg_scale, cfg.geometry)
    optimizer.zero_grad(set_to_none=True)
    params.set_logit_gradient(grad)
    optimizer.step()
    return out, state, state.values()


def _attrs(config, algorithm, problem, pipeline) -> dict:
    return {
        "config": config.to_dict(),
        "algorithm": _plain(algorithm),
        "problem": getattr(problem, "name", type(problem).__name__),
        "precision": getattr(pipeline, "name", repr(pipeline)),
    }


def _plain(obj):
    """A JSON-safe view of an algorithm (dataclass fields; other objects by name/repr)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return np.asarray(obj).tolist()
    return getattr(obj, "name", repr(obj))
