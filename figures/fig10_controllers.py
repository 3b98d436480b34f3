"""Figure 10 — the entropy controllers where clipping is active: when they have authority and
when they saturate (seed means ± 1 SE).

Top row, REPO-R's ζ controller (ζ from 1e-3, doubling while entropy is below its target, the
initial entropy, up to ζ_max) on ``prompts-many/lowrank`` — the shared-parameter world of the
trade-off fronts (``entropy_lab.analysis.fronts_study``: 16 prompts × 1024 answers, H_max(J) > H_0
at every J), N×G = 16×16, the ``llm-clip`` regime (1 epoch × 16 minibatches, Adam) at the lr the
fronts study calibrated on GRPO (``results/fronts``), for several ζ_max: (a) |ζ| — at the published
cap 0.05 it saturates within a few iterations, after which REPO-R is constant-ζ REPO-R; (b) the
entropy it steers against GRPO's; (c) the exact J it costs. With the same seeds and steps the final
points are figure 14's.

Bottom row, ADAPO's ε_high controller (×/÷ 1.1 from 0.28 in [0.1, 0.5]) in two clipped regimes:
the same fronts world (upper clip never fires: ε_high runs to its cap with no effect, ADAPO ≡
GRPO) and ``claim07_clip_higher_llm``'s world P (``bandit64/anti``, 2 × 16 Adam 0.01, where the
upper clip fires): (d) ε_high, (e) the per-minibatch upper clip fraction ``clip/frac_high``, (f)
entropy relative to its start, ADAPO against its unadapted reference.

Reading: a parameter pinned at a bound has run out of authority; a controller has authority only
where its curve in (b)/(f) leaves its reference's.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from _common import budget, require, require_finite, save, setup
from _runs import ROOT, cached, paper_checks_module

from entropy_lab.algorithms import get_preset
from entropy_lab.algorithms.controllers import CONTROLLERS
from entropy_lab.analysis.fronts_study import BATCH, REGIME, WORLDS, read_points
from entropy_lab.analysis.plots_dynamics import plot_trajectories
from entropy_lab.analysis.style import algo_color
from entropy_lab.sim import simulate, single_thread
from entropy_lab.sim.regimes import get_regime

FRONTS_WORLD = "prompts-many/lowrank"
FRONTS = ROOT / "results" / "fronts"
ZETA_MAX = (0.05, 0.2, 0.5)          # 0.05: the published cap
STEPS, SEEDS = budget(40, 8), budget(4, 2)   # the fronts study's 40 × 4
CLAIM7 = paper_checks_module("claim07_clip_higher_llm")
P_STEPS, P_SEEDS = budget(CLAIM7.STEPS, 8), budget(CLAIM7.SEEDS, 2)
ZETA_COLORS = ("#98df8a", "#2ca02c", "#0b4f0b")


def fronts_lr() -> float:
    """The llm-clip lr the fronts study calibrated on GRPO in :data:`FRONTS_WORLD`."""
    _, meta = read_points(FRONTS)
    return float(meta[FRONTS_WORLD]["lr"])


def _runs() -> dict[str, pd.DataFrame]:
    spec, reg = WORLDS[FRONTS_WORLD], get_regime(REGIME)
    fronts = {**spec["overrides"], **BATCH, "lr": fronts_lr(), "optimizer": reg.optimizer,
              "epochs": reg.epochs, "minibatches": reg.minibatches, "steps": STEPS,
              "seeds": SEEDS}
    cells = [("fronts", "grpo", "grpo", {}), ("fronts", "adapo", "adapo", {})]
    cells += [("fronts", f"zeta_max={z:g}", "repo_r", {"controller.zeta_max": z})
              for z in ZETA_MAX]
    frames = []
    with single_thread():
        for world, label, algo, over in cells:
            f = simulate(spec["problem"], algo, **fronts, **over,
                         generator=torch.Generator().manual_seed(0))
            frames.append(f.assign(world=world, label=label))
        for algo in ("dapo", "adapo"):
            f = simulate(CLAIM7.WORLDS["present"], algo, **CLAIM7.REGIME, steps=P_STEPS,
                         seeds=P_SEEDS, generator=torch.Generator().manual_seed(
                             CLAIM7.GENERATOR_SEED))
            frames.append(f.assign(world="claim7", label=algo))
    return {"runs": pd.concat(frames, ignore_index=True)}


def runs() -> pd.DataFrame:
    settings = {"world": FRONTS_WORLD, "lr": fronts_lr(), "zeta_max": ZETA_MAX, "steps": STEPS,
                "seeds": SEEDS, "claim7": (CLAIM7.WORLDS["present"], CLAIM7.REGIME, P_STEPS,
                                           P_SEEDS, CLAIM7.GENERATOR_SEED)}
    return cached("controllers_clip", settings, _runs)["runs"]


def _after(n: float) -> str:
    return "never reached" if np.isnan(n) else f"reached after {n:.0f} it."


def saturation(frame: pd.DataFrame, param: str, bound: float) -> tuple[float, float]:
    """(iterations from the parameter's first move to its first seed-mean arrival at ``bound``,
    NaN if never; fraction of iterations ≥ 1 with every seed at ``bound``)."""
    m = frame.groupby("step")[param]
    mean, at = m.mean().abs(), m.apply(lambda v: bool(np.isclose(v.abs(), bound).all()))
    moved = mean.index[~np.isclose(mean, mean.iloc[0])]
    hit = mean.index[np.isclose(mean, bound)]
    n = float(hit[0] - moved[0] + 1) if len(moved) and len(hit) else float("nan")
    return n, float(at[at.index > 0].mean())


def _final(frame: pd.DataFrame, col: str) -> float:
    return float(frame.loc[frame["step"] == frame["step"].max(), col].mean())


def _repo_row(ax_z, ax_h, ax_j, fr: pd.DataFrame) -> None:
    grpo = fr[fr["label"] == "grpo"]
    h0 = float(grpo.loc[grpo["step"] == 0, "entropy"].mean())
    plot_trajectories(grpo, y="entropy", hue=None, ax=ax_h, color=algo_color("grpo"),
                      label_prefix=f"grpo (final J {_final(grpo, 'J'):.3f})")
    plot_trajectories(grpo, y="J", hue=None, ax=ax_j, color=algo_color("grpo"),
                      label_prefix="grpo")
    for z, color in zip(ZETA_MAX, ZETA_COLORS):
        sub = fr[fr["label"] == f"zeta_max={z:g}"].assign(zeta_abs=lambda d: d["zeta"].abs())
        require_finite(f"zeta (zeta_max {z:g})", sub["zeta"])
        n, share = saturation(sub, "zeta", z)
        plot_trajectories(sub, y="zeta_abs", hue=None, ax=ax_z, color=color,
                          label_prefix=f"ζ_max {z:g}: {_after(n)}, at cap {share:.0%} "
                                       "of iterations")
        ax_z.axhline(z, color=color, lw=0.8, linestyle="--")
        plot_trajectories(sub, y="entropy", hue=None, ax=ax_h, color=color,
                          label_prefix=f"REPO-R ζ_max {z:g} (final J {_final(sub, 'J'):.3f})")
        plot_trajectories(sub, y="J", hue=None, ax=ax_j, color=color,
                          label_prefix=f"REPO-R ζ_max {z:g}")
    ax_z.set_yscale("log")
    ax_z.set_ylabel("|ζ| (dashed: ζ_max)")
    ax_z.set_title("(a) REPO-R: ζ doubles to its cap", fontsize=10)
    ax_h.axhline(h0, color="#1f77b4", lw=1, linestyle=":", label="target (initial entropy)")
    ax_h.set_ylabel("token entropy (nats)")
    ax_h.set_title("(b) the entropy ζ steers", fontsize=10)
    ax_j.set_ylabel("exact J")
    ax_j.set_title("(c) the reward it costs", fontsize=10)
    for ax in (ax_z, ax_h, ax_j):
        ax.legend(fontsize=6.5)


def _adapo_row(ax_e, ax_c, ax_h, data: pd.DataFrame) -> str:
    bounds = CONTROLLERS.get("eps_high")(**get_preset("adapo").controller_hp).config()
    lo, hi = bounds["eps_high_min"], bounds["eps_high_max"]
    worlds = {"fronts": (f"{FRONTS_WORLD}, llm-clip 1×16", "grpo", "-"),
              "claim7": (f"{CLAIM7.WORLDS['present']}, 2×16 Adam {CLAIM7.REGIME['lr']:g}",
                         "dapo", "--")}
    notes = []
    for world, (name, ref, style) in worlds.items():
        w = data[data["world"] == world]
        adapo, base = w[w["label"] == "adapo"], w[w["label"] == ref]
        require_finite(f"{world} eps_high", adapo["eps_high"])
        require_finite(f"{world} clip/frac_high", adapo.loc[adapo["step"] > 0, "clip/frac_high"])
        final = _final(adapo, "eps_high")
        bound = hi if abs(final - hi) < abs(final - lo) else lo
        n, share = saturation(adapo, "eps_high", bound)
        high = float(adapo.loc[adapo["step"] > 0, "clip/frac_high"].mean())
        plot_trajectories(adapo, y="eps_high", hue=None, ax=ax_e, color=algo_color("adapo"),
                          linestyle=style, label_prefix=f"{name}:\n{bound:g} {_after(n)}, at it "
                                                        f"{share:.0%} of iterations")
        # ADAPO drawn wide underneath, so it stays visible where it coincides with its reference.
        for frame, label, lw in ((adapo, "adapo", 3.5), (base, ref, 1.5)):
            trained = frame[frame["step"] > 0]
            plot_trajectories(trained, y="clip/frac_high", hue=None, ax=ax_c, linestyle=style,
                              lw=lw, color=algo_color(label), label_prefix=f"{label}, {name}")
            h0 = frame[frame["step"] == 0].set_index("seed")["entropy"]
            h = frame.assign(h_rel=frame["entropy"] / frame["seed"].map(h0))
            plot_trajectories(h, y="h_rel", hue=None, ax=ax_h, linestyle=style, lw=lw,
                              color=algo_color(label),
                              label_prefix=f"{label}, {name} (final J {_final(frame, 'J'):.3f})")
        notes.append(f"{name}: ADAPO mean clip/frac_high {high:.2%}")
    for b in (lo, hi):
        ax_e.axhline(b, color="#999999", lw=0.8, linestyle=":")
    ax_e.set_ylabel("ε_high (dotted: its bounds)")
    ax_e.set_title("(d) ADAPO: ε_high runs to a bound", fontsize=10)
    ax_c.set_ylabel("clip/frac_high (per-minibatch mean)")
    ax_c.set_title("(e) does the upper clip fire?", fontsize=10)
    ax_h.axhline(1.0, color="#1f77b4", lw=1, linestyle=":")
    ax_h.set_ylabel("entropy / initial entropy")
    ax_h.set_title("(f) the entropy ε_high steers", fontsize=10)
    ax_e.legend(fontsize=6.5, loc="center right")
    ax_c.legend(fontsize=6.5)
    ax_h.legend(fontsize=6.5, loc="center left")
    return "; ".join(notes)


def main() -> None:
    setup()
    data = runs()
    require(len(data) > 0, "no controller runs")
    require_finite("entropy", data["entropy"])
    fig, axes = plt.subplots(2, 3, figsize=(15.5, 8.6), gridspec_kw={"hspace": 0.4,
                                                                     "wspace": 0.3})
    _repo_row(*axes[0], data[data["world"] == "fronts"])
    clip = _adapo_row(*axes[1], data)
    grpo = data[(data["world"] == "fronts") & (data["label"] == "grpo") & (data["step"] > 0)]
    save(fig, "fig10_controllers",
         note=f"top: {FRONTS_WORLD} (prompts-many/calibrated, lowrank), N×G = 16×16, "
              f"{REGIME} (1×16 Adam, lr {fronts_lr():.3g} calibrated on GRPO, results/fronts; "
              f"GRPO's mean clip fraction {grpo['clip/frac'].mean():.2%}), {SEEDS} seeds × {STEPS} "
              f"steps\nbottom: {clip}; claim 7's world P: N×G = 8×8, {P_SEEDS} seeds × "
              f"{P_STEPS} steps; ± 1 SE over seeds")


if __name__ == "__main__":
    main()
