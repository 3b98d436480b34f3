"""Shared settings and a cached runner for the simulator-based paper checks (claims 3, 5, 7, 10-14).

Every check states its settings through the constants here, so the numbers of different claims
come from the same runs: one ``entropy-lab check`` process simulates each (problem, algorithm,
overrides, budget) cell once and every check that needs it reads the cached result.

Standard setting (fixed before any verdict was read; the alternatives tried are in LOG.md):

- problems: ``bandit/<mode>`` (K = 8) and ``tree/<mode>`` reduced to V = 4, T = 4 with 4 correct
  sequences of 256 (85 prefixes), so a 32-seed run of a few hundred steps fits the CPU budget;
- sampled mode, N = 8 prompts × G = 8 samples per batch, Adam with lr 0.05 on the logits
  (the LLM trainers' optimiser; with SGD at the default lr 0.1 no ratio ever leaves the clip
  band, so every clipped algorithm collapses to its unclipped twin);
- 32 seeds batched as one tensor dim and 120 iterations (quick: 16 seeds, 25 iterations).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

TREE_SIZE = {"vocab_size": 4, "horizon": 4, "num_correct": 4}
STANDARD = {"optimizer": "adam", "lr": 0.05, "n_prompts": 8, "group_size": 8, "k": 8}
SEEDS, SEEDS_QUICK = 32, 16
STEPS, STEPS_QUICK = 120, 25
GENERATOR_SEED = 2026


def budget(quick: bool) -> tuple[int, int]:
    """(seeds, steps) of a full or quick run."""
    return (SEEDS_QUICK, STEPS_QUICK) if quick else (SEEDS, STEPS)


def problem_overrides(problem_id: str) -> dict:
    """``problem.<key>`` overrides that shrink the token tree preset (none for other families)."""
    if problem_id.split("/")[0] == "tree":
        return {f"problem.{k}": v for k, v in TREE_SIZE.items()}
    return {}


def get_problem_object(problem_id: str, task: str = "A"):
    """The problem the checks train on (the tree reduced to ``TREE_SIZE``), for exact metrics."""
    from entropy_lab.problems import get_problem

    extra = dict(TREE_SIZE) if problem_id.split("/")[0] == "tree" else {}
    return get_problem(problem_id, task=task, **extra)


@functools.lru_cache(maxsize=256)
def _run_cached(problem_id: str, algorithm: str, quick: bool, items: tuple):
    from entropy_lab.sim import run, single_thread

    seeds, steps = budget(quick)
    overrides = {**STANDARD, "seeds": seeds, "steps": steps, **problem_overrides(problem_id),
                 **dict(items)}
    # The tensors are tiny ([32, 85, 4]): intra-op threads cost far more than they save (a
    # GRPO iteration on the tree measured ~120 ms of CPU with 2 threads, ~11 ms with 1).
    with single_thread():
        return run(problem_id, algorithm,
                   generator=torch.Generator().manual_seed(GENERATOR_SEED), **overrides)


def run_sim(problem_id: str, algorithm: str, quick: bool, **overrides):
    """``entropy_lab.sim.run`` with the standard setting; cached per process.

    Args:
        problem_id: a preset id (``"tree/..."`` is reduced to ``TREE_SIZE``).
        algorithm: a preset name.
        quick: the quick budget (fewer seeds and steps).
        overrides: SimConfig fields or algorithm hyperparameters replacing the standard ones.
    Returns:
        SimResult (``frame``, final ``logits [B, S, K]``, ``state``). Callers must not modify it.
    """
    return _run_cached(problem_id, algorithm, quick, tuple(sorted(overrides.items())))


def at_step(frame, column: str, step: int | None = None) -> np.ndarray:
    """``[B]`` values of ``column`` at ``step`` (the last step when None), ordered by seed."""
    step = int(frame["step"].max()) if step is None else step
    rows = frame[frame["step"] == step].sort_values("seed")
    return rows[column].to_numpy(dtype=np.float64)


def per_seed_matrix(frame, column: str) -> np.ndarray:
    """``[B, steps + 1]`` values of ``column`` (rows: seeds in order; columns: steps 0..)."""
    wide = frame.pivot(index="seed", columns="step", values=column).sort_index()
    return wide.to_numpy(dtype=np.float64)


def mean_se(x) -> tuple[float, float]:
    """Mean and its standard error σ/√n (ddof 1) over seeds."""
    x = np.asarray(x, dtype=np.float64)
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")
    return float(x.mean()), se


def beyond(diff) -> int:
    """+1 / −1 when the mean of ``diff`` (``[B]``, over seeds) is above / below 0 by more than
    2 SE (:func:`mean_se`), else 0."""
    m, se = mean_se(diff)
    return int(m - 2 * se > 0) - int(m + 2 * se < 0)


def entropy_ratio(frame) -> np.ndarray:
    """``[B]`` final token entropy / initial token entropy, per seed."""
    return at_step(frame, "entropy") / at_step(frame, "entropy", 0)


def exact_pass_at_k(problem_id: str, logits, ks, task: str = "A") -> dict[int, np.ndarray]:
    """Exact pass@k ``[B]`` of the policies ``logits [B, S, K]`` for each k in ``ks``."""
    problem = get_problem_object(problem_id, task)
    with torch.no_grad():
        return {int(k): problem.pass_at_k(logits, int(k)).numpy() for k in ks}


def rounded(d: dict, digits: int = 4) -> dict:
    """Floats rounded to ``digits`` significant digits for the ledger; other values unchanged."""
    return {k: (float(f"{v:.{digits}g}") if isinstance(v, float) and math.isfinite(v) else v)
            for k, v in d.items()}


def fmt(mean: float, se: float) -> str:
    """``0.123±0.004``."""
    return f"{mean:.3f}±{se:.3f}"


# ------------------------------------------------------------------ world, regime, activity
# Reporting helpers: every empirical verdict names its world and regime and measures whether the
# claim's mechanism was active. They never enter a decision rule.

def schedule(algorithm: str, **overrides) -> str:
    """``"E×M"`` (epochs × minibatches) of a preset, or of ``overrides`` where they set them."""
    from entropy_lab.algorithms import get_preset

    algo = get_preset(algorithm)
    epochs = overrides.get("epochs", algo.epochs)
    return f"{epochs}×{overrides.get('minibatches', algo.minibatches)}"


def clip_activity(frame) -> dict[str, float]:
    """Mean per-minibatch clip fractions over the trained iterations (steps ≥ 1) and seeds:
    ``clip_frac``, ``clip_frac_low``, ``clip_frac_high`` (NaN where the loss does not clip)."""
    trained = frame[frame["step"] > 0]
    return {f"clip_frac{suffix}": float(np.nanmean(trained[col].to_numpy(dtype=np.float64)))
            if col in trained else float("nan")
            for suffix, col in (("", "clip/frac"), ("_low", "clip/frac_low"),
                                ("_high", "clip/frac_high"))}


def active_clip_fraction() -> float:
    """The clip fraction below which clipping counts as inactive in a report: the lower edge of
    the ``llm-clip`` regime's band (LLM runs report 0.1–2% per minibatch)."""
    from entropy_lab.sim.regimes import get_regime

    return float(get_regime("llm-clip").clip_band[0])


def inactive(mechanism: str, number: str, start: bool = False) -> str:
    """``"not informative: <mechanism> inactive (<number>)"``, the report's wording (``start``:
    capitalised, to open a sentence)."""
    return f"{'N' if start else 'n'}ot informative: {mechanism} inactive ({number})"


def entropy_ceiling_at(problem_id: str, success) -> np.ndarray:
    """H_max(J) ``[...]``: the most token entropy of any policy of ``problem_id`` (the checks'
    size) with success J = ``success`` ``[...]`` (0/1 rewards: J = pass@1).

    Problems that define ``entropy_ceiling`` use it (the token trees: the bandit ceiling over
    their V^T sequences divided by T, ``TokenTree.entropy_ceiling``); a (contextual) bandit
    with deterministic 0/1 means the prompt-bandit ceiling
    H_max(J) = Σ_c w_c [h(p_c) + p_c log m_c + (1 − p_c) log(K − m_c)] at Σ_c w_c p_c = J.
    """
    from entropy_lab.problems import entropy_ceiling

    problem = get_problem_object(problem_id)
    j = torch.as_tensor(np.clip(np.asarray(success, dtype=np.float64), 0.0, 1.0))
    if problem.has_entropy_ceiling:
        return problem.entropy_ceiling(j).numpy()
    if getattr(problem, "bernoulli", True):
        raise ValueError(f"problem_id={problem_id!r} has no entropy ceiling: expected a token "
                         "tree, a deterministic 0/1 bandit or a problem defining one")
    return entropy_ceiling(j, problem.correct_arms.sum(-1).to(torch.float64), problem.num_actions,
                           problem.prompt_probs.to(torch.float64)).numpy()
