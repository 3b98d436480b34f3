"""The trade-off-front study: every method along its own knob, on two worlds, in the ``llm-clip``
regime, as one tidy point table (``results/fronts/``; analysis in
:mod:`entropy_lab.analysis.fronts`, checks ``claim05_repo_r_fronts`` and ``claim14_cov_fronts``).

    python -m entropy_lab.analysis.fronts_study --out results/fronts          # the committed grid
    python -m entropy_lab.analysis.fronts_study --worlds tree/tabular         # one world
    python -m entropy_lab.analysis.fronts_study --quick --out /tmp/fronts     # a smoke run

Worlds (:data:`WORLDS`): ``prompts-many/calibrated`` with the shared-parameter ``lowrank`` policy
(16 prompts × 1024 answers, every 4th rank correct, so H_max(J) > H_0 at every J) and the
tabular ``tree/calibrated`` of the first round (V = 4, T = 4, 4 correct sequences of 256, where
H_max(1) = log 4 / 4 = 0.35 nats < H_0). Both: N = 16 prompts × G = 16 samples, the ``llm-clip``
regime (1 epoch × 16 minibatches, Adam), one learning rate per world for every method, calibrated
on GRPO at this batch size (:func:`entropy_lab.sim.regimes.calibrate`), so methods differ only in
their own knob.

Knobs (:func:`grid`): GRPO's is the number of training steps (its checkpoints at every tenth of
the run); REPO-R ζ_max ∈ {0.05, 0.1, 0.2, 0.5} with and without the sign clamp; DAPO ε_high ∈
{0.2, 0.28, 0.5, 1.0}; ADAPO's upper bound ε_high_max ∈ {0.35, 0.5, 1.0, 2.0}; Clip-Cov and
KL-Cov fraction k/n with k ∈ {1, 2, 4, 8} tokens of the n tokens of a minibatch (n = 16 on the
bandit world, 64 on the tree: ⌊fraction·n⌋ = k, so the nominal fraction is the one applied);
entropy bonus coefficient ∈ {1e-3, 3e-3, 1e-2, 3e-2}. Every other setting is the preset's.

Each point also carries its mechanism's activity: the mean clip fractions (both sides, upper),
the final ζ or ε_high, and the covariance methods' selected fraction ``cov/frac_selected``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from entropy_lab.analysis.fronts import front_points

WORLDS = {
    "prompts-many/lowrank": {"problem": "prompts-many/calibrated",
                             "overrides": {"policy": "lowrank"}, "tokens": 1},
    "tree/tabular": {"problem": "tree/calibrated",
                     "overrides": {"problem.vocab_size": 4, "problem.horizon": 4,
                                   "problem.num_correct": 4}, "tokens": 4},
}
BATCH = {"n_prompts": 16, "group_size": 16}
REGIME = "llm-clip"
MINIBATCHES = 16
STEPS, SEEDS = 40, 4
QUICK = {"steps": 3, "seeds": 2, "lr": 0.01}
ZETA_MAX = (0.05, 0.1, 0.2, 0.5)
EPS_HIGH = (0.2, 0.28, 0.5, 1.0)
EPS_HIGH_MAX = (0.35, 0.5, 1.0, 2.0)
COV_K = (1, 2, 4, 8)
ENTROPY_COEF = (1e-3, 3e-3, 1e-2, 3e-2)
ACTIVITY = ("clip/frac", "clip/frac_high", "cov/frac_selected")


def minibatch_tokens(world: str) -> int:
    """n: tokens per minibatch (N·G samples over the regime's 16 minibatches × tokens each)."""
    return BATCH["n_prompts"] * BATCH["group_size"] // MINIBATCHES * WORLDS[world]["tokens"]


def grid(world: str) -> list[tuple[str, str, float, dict]]:
    """(method, knob name, knob value, simulate overrides) of every point run on ``world``."""
    n = minibatch_tokens(world)
    out = [("grpo", "steps", float("nan"), {})]
    for clamp in (True, False):
        name = "repo_r" if clamp else "repo_r_noclamp"
        out += [(name, "zeta_max", z, {"algo": "repo_r", "controller.zeta_max": z,
                                       "clamp_sign": clamp}) for z in ZETA_MAX]
    out += [("dapo", "eps_high", e, {"eps_high": e}) for e in EPS_HIGH]
    out += [("adapo", "eps_high_max", e, {"controller.eps_high_max": e}) for e in EPS_HIGH_MAX]
    out += [("clip_cov", "fraction", k / n, {"clip_cov_ratio": k / n}) for k in COV_K]
    out += [("kl_cov", "fraction", k / n, {"kl_cov_ratio": k / n}) for k in COV_K]
    out += [("entropy_bonus", "entropy_coef", c, {"entropy_coef": c}) for c in ENTROPY_COEF]
    return out


def ceiling_fn(world: str):
    """J ``[M]`` -> H_max(J) ``[M]`` of ``world``: its problem's ``entropy_ceiling`` (the
    success the ceiling takes is pass@1 = J on both worlds: 0/1 rewards; the simulator's frames
    carry the same ceiling as their ``H_max`` column)."""
    from entropy_lab.problems import get_problem

    spec = WORLDS[world]
    extra = {k.split(".", 1)[1]: v for k, v in spec["overrides"].items()
             if k.startswith("problem.")}
    problem = get_problem(spec["problem"], **extra)
    return lambda j: problem.entropy_ceiling(torch.as_tensor(j, dtype=torch.float64)).numpy()


def _activity(frame: pd.DataFrame) -> dict:
    trained = frame[frame["step"] > 0]
    last = frame[frame["step"] == frame["step"].max()]
    out = {k: float(trained[k].mean()) if k in trained else float("nan") for k in ACTIVITY}
    out["zeta_final"] = float(last["zeta"].abs().mean()) if "zeta" in last else float("nan")
    out["eps_high_final"] = float(last["eps_high"].mean()) if "eps_high" in last else float("nan")
    return out


def run_world(world: str, steps: int = STEPS, seeds: int = SEEDS, lr: float | None = None,
              seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """The point table of ``world`` and its calibration (``lr`` None: calibrated on GRPO).

    Returns:
        (points: one row per (method, knob value), GRPO one per checkpoint, with
        :func:`entropy_lab.analysis.fronts.front_points` columns, ``world``, ``method``,
        ``knob``, ``value`` and the activity columns; info: lr and its calibration numbers).
    """
    from entropy_lab.sim import simulate, single_thread
    from entropy_lab.sim.regimes import calibrate, get_regime

    spec = WORLDS[world]
    common = {**spec["overrides"], **BATCH}
    reg = get_regime(REGIME)
    info = {"world": world, "problem": spec["problem"], **common,
            "minibatch_tokens": minibatch_tokens(world), "regime": REGIME}
    rows = []
    with single_thread():
        if lr is None:
            cal = calibrate(spec["problem"], "grpo", REGIME, **common)
            lr = cal.lr
            info.update(calibrated_on="grpo", clip_frac=cal.clip_frac, kl=cal.kl)
        info["lr"] = lr
        sched = {"lr": lr, "optimizer": reg.optimizer, "epochs": reg.epochs,
                 "minibatches": reg.minibatches, "steps": steps, "seeds": seeds}
        for method, knob, value, over in grid(world):
            over = dict(over)
            algo = over.pop("algo", method)
            frame = simulate(spec["problem"], algo, **common, **sched, **over,
                             generator=torch.Generator().manual_seed(seed)).assign(method=method)
            ckpts = (sorted({max(1, round(steps * i / 10)) for i in range(1, 11)})
                     if knob == "steps" else None)
            pts = front_points(frame, by=["method"], steps=ckpts)
            pts["knob"], pts["value"] = knob, (pts["step"].astype(float) if knob == "steps"
                                               else value)
            for k, v in _activity(frame).items():
                pts[k] = v
            rows.append(pts)
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "world", world)
    return out, info


def slug(world: str) -> str:
    """``prompts-many/lowrank`` -> ``prompts-many_lowrank`` (a file name)."""
    return world.replace("/", "_")


def run_study(out: str | Path, quick: bool = False, command: str = "",
              worlds=tuple(WORLDS)) -> pd.DataFrame:
    """Each world's points to ``out/points-<world>.csv`` and its command, settings,
    calibration, versions and wall time to ``out/fronts-<world>.json`` (one pair per world, so
    worlds can run in parallel processes)."""
    from entropy_lab.project import environment

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    budget = QUICK if quick else {"steps": STEPS, "seeds": SEEDS, "lr": None}
    frames = []
    for world in worlds:
        t = time.time()
        pts, info = run_world(world, **budget)
        meta = {"command": command, "quick": quick, "steps": budget["steps"],
                "seeds": budget["seeds"], "generator_seed": 0, **info,
                "environment": environment(), "wall_s": round(time.time() - t, 1)}
        pts.to_csv(out / f"points-{slug(world)}.csv", index=False, float_format="%.8g")
        (out / f"fronts-{slug(world)}.json").write_text(
            json.dumps(meta, indent=1, default=str) + "\n")
        print(f"{world}: lr {info['lr']:.4g}, {meta['wall_s']} s", flush=True)
        frames.append(pts)
    return pd.concat(frames, ignore_index=True)


def read_points(folder: str | Path) -> tuple[pd.DataFrame, dict]:
    """(every world's points, {world: its fronts json}) of a study folder; raises
    FileNotFoundError when a world of :data:`WORLDS` is missing."""
    folder = Path(folder)
    frames, meta = [], {}
    for world in WORLDS:
        frames.append(pd.read_csv(folder / f"points-{slug(world)}.csv"))
        meta[world] = json.loads((folder / f"fronts-{slug(world)}.json").read_text())
    return pd.concat(frames, ignore_index=True), meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m entropy_lab.analysis.fronts_study")
    p.add_argument("--out", default="results/fronts")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--worlds", nargs="+", default=list(WORLDS), choices=list(WORLDS))
    args = p.parse_args(argv)
    run_study(args.out, args.quick, command="python -m entropy_lab.analysis.fronts_study "
              + " ".join(sys.argv[1:] if argv is None else argv), worlds=tuple(args.worlds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
