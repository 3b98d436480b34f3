"""The runs figures 2, 4 and 5 draw in the worlds where the claims' mechanisms are present, made
by the checks' own runners (so the figures show the checks' numbers) and cached on disk.

Worlds (defined in ``paper_checks``, not here):

- the shared-parameter world of ``claim10_passk_shared`` / ``claim11_cum_entropy_shared``
  (``paper_checks/_shared_world.py``): ``cbandit/anti``, C = 64 contexts × K = 16 arms, 4 correct
  per context, the ``lowrank`` rank-4 policy (one update moves all 64 contexts), sampled
  N = 16 × G = 8, Adam lr 0.05, preset schedules (1 × 4; RLOO 1 × 1); every algorithm of claim 11,
  its knob runs (DAPO ε_high, entropy-bonus coefficient, REPO-R ζ_max) and claim 10's control,
  GRPO on the tabular policy in the same world;
- the clipping world of ``claim07_clip_higher_llm``: ``bandit64/anti`` with 2 epochs × 16
  minibatches, Adam lr 0.01, N = 8 × G = 8, where the per-minibatch clip fraction is 2–3%; DAPO
  (0.2/0.28), the symmetric clip (0.2/0.2) and ADAPO.

The entropy ceiling of the shared world (its problem does not define one): rewards are
deterministic 0/1 and context c has m_c = 4 correct arms of K, so
H_max(J) = max Σ_c w_c H_c subject to Σ_c w_c p_c = J (``entropy_lab.problems.entropy_ceiling``,
the ceiling the simulator reports as ``H_max`` where a problem defines it).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import torch
from _common import QUICK, require
from _runs import ROOT, _passk_rows, cached, paper_checks_module

from entropy_lab.problems import entropy_ceiling

world = paper_checks_module("_shared_world")
clip_check = paper_checks_module("claim07_clip_higher_llm")
cum_check = paper_checks_module("claim11_cum_entropy_shared")

K_LARGE = world.K_LARGE
SHARED_ALGORITHMS = cum_check.ALGORITHMS
PASSK_LEARNERS = {"grpo": ("grpo", "lowrank"), "repo_r": ("repo_r", "lowrank"),
                  "grpo (tabular policy)": ("grpo", "tabular")}
SHARED_PASSK_KS = tuple(range(1, K_LARGE + 1))
# claim 11's knobs: name -> the knob values, in the order of the ``knobs`` rows' ``index``.
KNOB_VALUES = {**{name: values for name, (_, _, values) in cum_check.REPLICA_KNOBS.items()},
               "repo_r/zeta_max": cum_check.ZETA_MAX}
CLIP_WORLD = clip_check.WORLDS["present"]
CLIP_LEARNERS = {"dapo 0.2/0.28": ("dapo", {}),
                 "symmetric 0.2/0.2": ("dapo", clip_check.SYMMETRIC),
                 "adapo": ("adapo", {})}
FRAME_COLUMNS = ("step", "seed", "entropy", "J", "pass@1", "cum_entropy", "clip/frac",
                 "clip/frac_high")
SHARED_COLUMNS = (*FRAME_COLUMNS, f"pass@{K_LARGE}")
# The check modules whose settings these runs follow: a change to any recomputes them.
SOURCES = ("_shared_world.py", "_sim_common.py", "claim07_clip_higher_llm.py",
           "claim10_passk_shared.py", "claim11_cum_entropy_shared.py")


def _checks_digest() -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((ROOT / "paper_checks" / name).read_bytes())
    return h.hexdigest()[:16]


def shared_ceiling(success) -> np.ndarray:
    """``[...]`` H_max(J) of the shared world's task A at prompt-weighted success J ``[...]``."""
    problem = world.problem()
    means = problem.means
    require(not problem.bernoulli and bool(((means == 0) | (means == 1)).all()),
            "the shared world's rewards are not deterministic 0/1: its H_max(J) does not apply")
    m_c = problem.correct_arms.sum(-1).to(torch.float64)
    j = torch.as_tensor(np.clip(np.asarray(success, dtype=np.float64), 0.0, 1.0))
    return entropy_ceiling(j, m_c, problem.num_actions, problem.prompt_probs).numpy()


def _frame(frame: pd.DataFrame, columns=FRAME_COLUMNS, **labels) -> pd.DataFrame:
    return frame[list(columns)].assign(**labels)


def _shared_all() -> dict[str, pd.DataFrame]:
    frames, passk = [], []
    for algo in SHARED_ALGORITHMS:
        frames.append(_frame(world.run_shared(algo, QUICK).frame, SHARED_COLUMNS,
                             algorithm=algo, policy="lowrank"))
    frames.append(_frame(world.run_shared("grpo", QUICK, policy="tabular").frame,
                         SHARED_COLUMNS, algorithm="grpo", policy="tabular"))
    problem = world.problem()
    for label, (algo, policy) in PASSK_LEARNERS.items():
        result = world.run_shared(algo, QUICK, policy=policy)
        init = problem.init_logits(result.logits.shape[0])
        passk += _passk_rows(problem, init, label, "before", SHARED_PASSK_KS)
        passk += _passk_rows(problem, result.logits, label, "after", SHARED_PASSK_KS)
    runs = pd.concat(frames, ignore_index=True)
    runs["H_max"] = shared_ceiling(runs["J"].to_numpy())
    points = cum_check._knob_points(QUICK)
    require(set(points) == set(KNOB_VALUES), f"claim 11's knobs {sorted(points)} are not "
                                             f"{sorted(KNOB_VALUES)}")
    knobs = [{"knob": name, "index": i, "value": KNOB_VALUES[name][i], **point}
             for name, pts in points.items() for i, point in enumerate(pts)]
    return {"runs": runs, "passk": pd.DataFrame(passk), "knobs": pd.DataFrame(knobs)}


def shared_sweep() -> dict[str, pd.DataFrame]:
    """The shared world's runs (module docstring), each a DataFrame:

    - ``runs``: one row per (algorithm, policy, seed, step) with ``SHARED_COLUMNS`` and
      ``H_max``;
    - ``passk``: exact pass@k, k = 1..256, of the initial and final policies of
      ``PASSK_LEARNERS``, one row per (algorithm label, stage, seed, k);
    - ``knobs``: claim 11's knob points, one row per (knob, value index, ``value``) with the
      seed means ``cum`` (Σ_{t=1..T} H_t), ``J`` and ``pass@256`` at the last step.
    """
    seeds, steps = world.budget(QUICK)
    settings = {"world": world.WORLD, "overrides": world.overrides(), "seeds": seeds,
                "steps": steps, "algorithms": SHARED_ALGORITHMS, "passk": PASSK_LEARNERS,
                "checks": _checks_digest()}
    return cached("shared_sweep", settings, _shared_all)


def _clip_all() -> dict[str, pd.DataFrame]:
    frames = [_frame(clip_check._run(CLIP_WORLD, algo, QUICK, False, **extra), algorithm=label)
              for label, (algo, extra) in CLIP_LEARNERS.items()]
    return {"runs": pd.concat(frames, ignore_index=True)}


def clip_sweep() -> pd.DataFrame:
    """``claim07_clip_higher_llm``'s runs on its mechanism-present world, one row per (learner
    label of ``CLIP_LEARNERS``, seed, step) with ``FRAME_COLUMNS``."""
    settings = {"world": CLIP_WORLD, "regime": clip_check.REGIME, "learners": CLIP_LEARNERS,
                "checks": _checks_digest()}
    return cached("clip_sweep", settings, _clip_all)["runs"]


def clip_fractions(runs: pd.DataFrame, by: str = "algorithm") -> dict[str, float]:
    """Mean per-minibatch clip fraction over trained steps (step ≥ 1) and seeds, per ``by``."""
    trained = runs[runs["step"] > 0]
    return {str(k): float(v) for k, v in trained.groupby(by)["clip/frac"].mean().items()}


def describe_shared() -> str:
    seeds, steps = world.budget(QUICK)
    return (f"shared world: cbandit/anti C = 64 × K = 16, lowrank rank 4, Adam 0.05, "
            f"N×G = 16×8, preset schedules, {seeds} seeds × {steps} steps")


def describe_clip() -> str:
    r = clip_check.REGIME
    seeds, steps = ((clip_check.SEEDS_QUICK, clip_check.STEPS_QUICK) if QUICK
                    else (clip_check.SEEDS, clip_check.STEPS))
    return (f"clipping world: {CLIP_WORLD}, {r['epochs']}×{r['minibatches']} minibatches, "
            f"Adam {r['lr']}, N×G = {r['n_prompts']}×{r['group_size']}, {seeds} seeds × "
            f"{steps} steps")
