"""Claims 8–12 at transformer scale: verdicts read from the committed harness study.

World: the transformer harness on a CPU (``entropy_lab/harness``): a random-init Llama of size 1
(hidden 64, 2 layers, 2 heads) pretrained on the teacher distribution, LoRA rank 8, N = 4 prompts ×
G = 8 samples per step, 200 RL steps, the sampler engine ``bf16-engine`` (the study's default: its
own attention, norm, residual and split-K kernels in real arithmetic), old log-probs from the
rollout. The study is ``results/harness_study/`` (``entropy-lab harness-study``; the command,
versions and wall times are in its ``study.json``). These checks run nothing: they read the file.

Definitions (per run, phase 1 unless said): initial = step 0; final entropy = mean of
``entropy/token`` over the last ``LAST`` steps (a sample estimate per step); final exact pass@k =
the last step's ``exact/pass@k`` (exact enumeration of the correct set, every step); Σ_t H_t = the
sum of ``entropy/token`` over the phase's steps. SE = standard error over seeds (over runs where
said). Decision rules, fixed before the study was read:

- claim 8 (ratio bias): per run the mean over steps of ``ratio0/mean`` − 1 (trainer recompute vs
  sampler log-probs on the batch, before any update); per precision mean ± SE over its runs
  (algorithms × seeds). Reproduced if bf16 is upward at 3 SE with < 0.1% of tokens outside the
  clip band [0.8, 1.28], and fp16 and fp32 are within max(3 SE, 1e-4) of 0; partly if bf16 is
  upward at 3 SE. Mechanism: the share of tokens with r ≠ 1 in bf16 (must be > 0).
- claim 9 (DAPO × precision): DAPO's final entropy per precision. Reproduced if bf16 collapses
  (mean final H < ½ its mean initial H) and fp32_logprobs grows (mean final H > its mean initial
  H); partly if bf16 and fp32_logprobs differ by > 3 SE. Mechanism: DAPO's mean per-step clip
  fraction in bf16 ≥ 0.1% and the bf16 share of tokens with r ≠ 1 > 0.
- claim 10 (pass@k): GRPO fp32, paired over seeds: final − initial exact pass@1 > 2 SE and final
  − initial pass@64 < −2 SE: reproduced; partly if instead GRPO − REPO-R (fp32, paired) has
  pass@1 > 2 SE and pass@64 < −2 SE. Mechanism: GRPO's final / initial entropy and the initial
  headroom 1 − pass@64 are reported.
- claim 11 (cumulative entropy): Pearson r of Σ_t H_t with final pass@1 and with final pass@64
  over the grid's cells (algorithm × precision, means over seeds), 95% bootstrap CI
  (``entropy_lab.analysis.metrics.correlation``). Reproduced if the CI is above 0 for both
  metrics; partly for one.
- claim 12 (sequential): task A (digitsum) for 200 steps then task B (palindrome, other prompts
  and answers) for 200; J_B = final exact pass@1 on B. Reproduced if fresh GRPO on B (from the
  pretrained base, 200 steps) beats sequential GRPO by > 2 SE (paired over seeds) and sequential
  REPO-R and DAPO both beat sequential GRPO by > 2 SE; partly: the first part only.
"""

from __future__ import annotations

import math

import pandas as pd

from entropy_lab.analysis.metrics import correlation
from entropy_lab.checks import CheckResult, register_check
from entropy_lab.harness.study import describe, read_study
from entropy_lab.project import project_root
from paper_checks._sim_common import fmt, mean_se, rounded

STUDY = "results/harness_study"
SIZE = 1
WORLD = f"harness (CPU, size {SIZE})"
LAST = 10
BAND = (0.8, 1.28)
MIN_CLIP_FRAC = 1e-3
K_LARGE = 64


def load() -> tuple[pd.DataFrame, dict]:
    """(the committed study's tidy frame, its study.json)."""
    df, meta = read_study(project_root() / STUDY)
    if meta["settings"]["size"] != SIZE:
        raise ValueError(f"the study's model size is {meta['settings']['size']}; these checks "
                         f"are registered for size {SIZE}")
    return df, meta


def world(meta: dict) -> str:
    """The world of every check here: the CPU harness, with the study's settings."""
    return f"harness (CPU): {describe(meta)}"


def runs(df: pd.DataFrame, kind: str = "grid", phase: int = 1, **match) -> pd.DataFrame:
    sel = (df["kind"] == kind) & (df["phase"] == phase)
    for k, v in match.items():
        sel &= df[k] == v
    return df[sel]


def per_run(frame: pd.DataFrame, col: str, how: str, by: str = "seed") -> pd.Series:
    """A per-run statistic of ``col``, indexed by ``by`` (``seed`` within one algorithm ×
    precision, ``run_id`` across them): ``initial`` (step 0), ``last`` (last step), ``final``
    (mean of the last LAST steps), ``mean`` and ``sum`` over the steps."""
    g = frame.sort_values("step").groupby(by)[col]
    if by == "seed" and frame.groupby("seed")["run_id"].nunique().max() > 1:
        raise ValueError("per_run(by='seed') needs one run per seed: select one algorithm × "
                         "precision first")
    return {"initial": g.first(), "last": g.last(), "mean": g.mean(), "sum": g.sum(),
            "final": g.apply(lambda x: x.iloc[-LAST:].mean())}[how]


def paired(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """Mean ± SE over seeds of a − b (paired by seed)."""
    common = a.index.intersection(b.index)
    return mean_se((a.loc[common] - b.loc[common]).to_numpy())


@register_check("claim08_harness_ratio_bias", claim=8, kind="empirical",
                title=f"Ratio bias E[r] − 1 per precision before each update — {WORLD}")
def check_claim08(quick: bool) -> CheckResult:
    df, meta = load()
    m, bias = {}, {}
    for prec in ("bf16", "fp16", "fp32", "fp32_logprobs"):
        fr = runs(df, precision=prec)
        if fr.empty:
            continue
        bias[prec] = mean_se((per_run(fr, "ratio0/mean", "mean", "run_id") - 1).to_numpy())
        m[f"{prec}/E[r]-1"], m[f"{prec}/E[r]-1_se"] = bias[prec]
        for key in ("frac_out_band", "frac_ne1"):
            m[f"{prec}/{key}"] = float(per_run(fr, f"ratio0/{key}", "mean", "run_id").mean())
        m[f"{prec}/runs"] = int(fr["run_id"].nunique())
    up = bias["bf16"][0] > 3 * bias["bf16"][1]
    in_band = m["bf16/frac_out_band"] < 1e-3
    controls = all(abs(bias[p][0]) <= max(3 * bias[p][1], 1e-4) for p in ("fp16", "fp32"))
    m.update({"bf16_upward_3se": bool(up), "bf16_out_band_below_0.1pct": bool(in_band),
              "controls_within_tolerance": bool(controls)})
    return CheckResult.judge(
        up and in_band and controls, partly=up, measured=rounded(m),
        summary="bf16 pipelines bias the importance ratio upward; fp16 and fp32 do not.",
        precise=f"{world(meta)}. Per run the mean over its 200 steps of the token-mean ratio "
                "r = exp(ℓ_trainer − ℓ_sampler) on the sampled batch before the update; mean ± "
                "SE over the runs of each precision (algorithms × seeds; runs of one seed share "
                "the base model).",
        tolerance="reproduced: bf16 E[r] − 1 > 3 SE with < 0.1% of tokens outside [0.8, 1.28], "
                  "fp16 and fp32 within max(3 SE, 1e-4) of 0; partly: bf16 upward at 3 SE.",
        reason=", ".join(f"{p} E[r]−1 {m[f'{p}/E[r]-1']:+.2e}±{m[f'{p}/E[r]-1_se']:.1e} (r ≠ 1 "
                         f"on {m[f'{p}/frac_ne1']:.1%} of tokens, out of band "
                         f"{m[f'{p}/frac_out_band']:.2%})" for p in bias)
        + ". The engine's measured bf16 gap is about a third of the published one "
          "(docs/precision.md, \"Harness sampler engines\").",
    )


@register_check("claim09_harness_dapo_precision", claim=9, kind="empirical",
                title=f"DAPO entropy in bf16 vs fp16/fp32/fp32 log-probs — {WORLD}")
def check_claim09(quick: bool) -> CheckResult:
    df, meta = load()
    m, fin, ini = {}, {}, {}
    for prec in ("bf16", "fp16", "fp32", "fp32_logprobs"):
        fr = runs(df, algo="dapo", precision=prec)
        fin[prec] = mean_se(per_run(fr, "entropy/token", "final").to_numpy())
        ini[prec] = mean_se(per_run(fr, "entropy/token", "initial").to_numpy())
        m[f"H_initial/dapo/{prec}"] = ini[prec][0]
        m[f"H_final/dapo/{prec}"], m[f"H_final_se/dapo/{prec}"] = fin[prec]
        m[f"clip_frac_mean/dapo/{prec}"] = float(per_run(fr, "clip/frac", "mean").mean())
        m[f"frac_ne1/dapo/{prec}"] = float(per_run(fr, "ratio0/frac_ne1", "mean").mean())
    grpo = mean_se(per_run(runs(df, algo="grpo", precision="fp32"), "entropy/token",
                           "final").to_numpy())
    m["H_final/grpo/fp32"], m["H_final_se/grpo/fp32"] = grpo
    bf16, fix = fin["bf16"], fin["fp32_logprobs"]
    collapses = bf16[0] < 0.5 * ini["bf16"][0]
    grows = fix[0] > ini["fp32_logprobs"][0]
    differs = abs(fix[0] - bf16[0]) > 3 * math.hypot(fix[1], bf16[1])
    clipping = m["clip_frac_mean/dapo/bf16"] >= MIN_CLIP_FRAC
    mismatch = m["frac_ne1/dapo/bf16"] > 0
    m.update({"dapo_bf16_collapses": bool(collapses), "dapo_fp32_logprobs_grows": bool(grows),
              "bf16_vs_fp32_logprobs_differs_3se": bool(differs), "clipping_fires": bool(clipping),
              "mismatch_present": bool(mismatch)})
    return CheckResult.judge(
        collapses and grows, partly=differs, measured=rounded(m),
        summary="With log-probs in fp32 (or fp16 end to end) DAPO's entropy grows; in bf16 it "
                "collapses.",
        precise=f"{world(meta)}. DAPO preset in bf16, fp16, fp32 and fp32_logprobs (bf16 network, "
                f"fp32 log-softmax); final H = mean token entropy of the last {LAST} steps.",
        tolerance="collapse: mean final H < ½ initial; growth: mean final H > initial; difference "
                  "resolved at 3 SE (seed-to-seed). Informative only where DAPO clips ≥ 0.1% of "
                  "tokens per step and r ≠ 1 on some bf16 tokens.",
        reason=", ".join(f"DAPO {p} H {ini[p][0]:.3f} → {fmt(*fin[p])}" for p in fin)
        + f"; GRPO fp32 → {fmt(*grpo)}. Mechanism: DAPO bf16 clips "
          f"{m['clip_frac_mean/dapo/bf16']:.2%} of tokens per step, r ≠ 1 on "
          f"{m['frac_ne1/dapo/bf16']:.1%}"
        + ("" if clipping and mismatch else " — the mechanism is not present, so the verdict is "
           "not informative"),
    )


@register_check("claim10_harness_passk", claim=10, kind="empirical",
                title=f"Collapse raises pass@1 and lowers pass@64 (exact) — {WORLD}")
def check_claim10(quick: bool) -> CheckResult:
    df, meta = load()
    m, d = {}, {}
    big = f"exact/pass@{K_LARGE}"
    for algo in ("grpo", "repo_r"):
        fr = runs(df, algo=algo, precision="fp32")
        for col in ("exact/pass@1", big):
            first, last = per_run(fr, col, "initial"), per_run(fr, col, "last")
            d[(algo, col)] = last
            m[f"{algo}/{col}/initial"] = float(first.mean())
            m[f"{algo}/{col}/final"] = float(last.mean())
            m[f"{algo}/{col}/change"], m[f"{algo}/{col}/change_se"] = paired(last, first)
        h = per_run(fr, "entropy/token", "final") / per_run(fr, "entropy/token", "initial")
        m[f"{algo}/H_final_over_initial"] = float(h.mean())
    m["initial_headroom_1-pass@64"] = 1 - m[f"grpo/{big}/initial"]
    up = m["grpo/exact/pass@1/change"] > 2 * m["grpo/exact/pass@1/change_se"]
    down = m[f"grpo/{big}/change"] < -2 * m[f"grpo/{big}/change_se"]
    g1 = paired(d[("grpo", "exact/pass@1")], d[("repo_r", "exact/pass@1")])
    gk = paired(d[("grpo", big)], d[("repo_r", big)])
    m["grpo-repo_r/pass@1"], m["grpo-repo_r/pass@1_se"] = g1
    m["grpo-repo_r/pass@64"], m["grpo-repo_r/pass@64_se"] = gk
    versus = g1[0] > 2 * g1[1] and gk[0] < -2 * gk[1]
    return CheckResult.judge(
        up and down, partly=versus, measured=rounded(m),
        summary="Entropy collapse raises pass@1 but lowers pass@k for large k.",
        precise=f"{world(meta)}. GRPO and REPO-R in fp32; exact pass@1 and pass@{K_LARGE} over "
                "all prompts of the task at step 0 and at the last step, paired over seeds.",
        tolerance=f"reproduced: GRPO's pass@1 up and pass@{K_LARGE} down by > 2 SE; partly: GRPO "
                  f"− REPO-R final pass@1 > 2 SE and pass@{K_LARGE} < −2 SE.",
        reason=f"GRPO pass@1 {m['grpo/exact/pass@1/initial']:.4f} → "
               f"{m['grpo/exact/pass@1/final']:.4f} "
               f"(Δ {fmt(m['grpo/exact/pass@1/change'], m['grpo/exact/pass@1/change_se'])}), "
               f"pass@{K_LARGE} {m[f'grpo/{big}/initial']:.6f} → {m[f'grpo/{big}/final']:.6f} "
               f"(Δ {m[f'grpo/{big}/change']:+.2e}±{m[f'grpo/{big}/change_se']:.1e}); GRPO "
               f"final/initial H {m['grpo/H_final_over_initial']:.3f}, REPO-R "
               f"{m['repo_r/H_final_over_initial']:.3f}; GRPO − REPO-R pass@1 {fmt(*g1)}, "
               f"pass@{K_LARGE} {gk[0]:+.2e}±{gk[1]:.1e}. Initial headroom 1 − pass@{K_LARGE} "
               f"= {m['initial_headroom_1-pass@64']:.1e}.",
    )


@register_check("claim11_harness_cum_entropy", claim=11, kind="empirical",
                title=f"Cumulative entropy vs final pass@1 / pass@64 across cells — {WORLD}")
def check_claim11(quick: bool) -> CheckResult:
    df, meta = load()
    fr = runs(df)
    cells = fr.groupby(["algo", "precision"])
    cum = cells.apply(lambda c: per_run(c, "entropy/token", "sum").mean())
    m, positive, parts = {}, {}, []
    for col in ("exact/pass@1", f"exact/pass@{K_LARGE}"):
        y = cells.apply(lambda c, col=col: per_run(c, col, "last").mean())
        c = correlation(cum.to_numpy(), y.loc[cum.index].to_numpy(), method="pearson")
        for key in ("r", "lo", "hi"):
            m[f"{col}/{key}"] = c[key]
        positive[col] = bool(c["lo"] > 0)
        parts.append(f"{col}: r = {c['r']:+.2f} [{c['lo']:+.2f}, {c['hi']:+.2f}]")
    m["cells"] = int(len(cum))
    m["cum_entropy_range"] = f"{cum.min():.1f}–{cum.max():.1f}"
    return CheckResult.judge(
        all(positive.values()), partly=any(positive.values()), measured=rounded(m),
        summary="Algorithms that keep more entropy over training reach better final performance.",
        precise=f"{world(meta)}. Pearson r over the {len(cum)} algorithm × precision cells (means "
                "over seeds) of Σ_t H_t against the final exact pass@1 and pass@64.",
        tolerance="reproduced: the 95% bootstrap CI lies above 0 for both metrics; partly: for "
                  "one.",
        reason="; ".join(parts) + f"; Σ_t H_t spans {m['cum_entropy_range']} over the cells.",
    )


@register_check("claim12_harness_sequential", claim=12, kind="empirical",
                title=f"Sequential learning: task B after task A; REPO-R/DAPO vs GRPO — {WORLD}")
def check_claim12(quick: bool) -> CheckResult:
    df, meta = load()
    m, jb = {}, {}
    col = "exact/pass@1"
    for algo in ("grpo", "dapo", "repo_r"):
        a = runs(df, kind="sequential", algo=algo)
        b = runs(df, kind="sequential", phase=2, algo=algo)
        jb[algo] = per_run(b, col, "last")
        m[f"seq_{algo}/H_at_switch"] = float(per_run(a, "entropy/token", "final").mean())
        m[f"seq_{algo}/J_A_at_switch"] = float(per_run(a, col, "last").mean())
        m[f"seq_{algo}/J_B_first"] = float(per_run(b, col, "initial").mean())
        m[f"seq_{algo}/J_B_final"], m[f"seq_{algo}/J_B_final_se"] = mean_se(jb[algo].to_numpy())
    fresh = runs(df, kind="fresh", algo="grpo")
    jf = per_run(fresh, col, "last")
    m["fresh_grpo/J_B_initial"] = float(per_run(fresh, col, "initial").mean())
    m["fresh_grpo/J_B_final"], m["fresh_grpo/J_B_final_se"] = mean_se(jf.to_numpy())
    d = paired(jf, jb["grpo"])
    m["fresh_minus_seq_grpo"], m["fresh_minus_seq_grpo_se"] = d
    slower = d[0] > 2 * d[1]
    trainable = {}
    for algo in ("dapo", "repo_r"):
        e = paired(jb[algo], jb["grpo"])
        m[f"seq_{algo}_minus_seq_grpo"], m[f"seq_{algo}_minus_seq_grpo_se"] = e
        trainable[algo] = e[0] > 2 * e[1]
    return CheckResult.judge(
        slower and all(trainable.values()), partly=slower, measured=rounded(m),
        summary="A policy whose entropy collapsed on task A learns a new task B slowly; REPO-R "
                "and DAPO policies stay trainable.",
        precise=f"{world(meta)}. fp32; task A digitsum for {meta['settings']['steps']} steps "
                "then task B palindrome for as many (adapter merged, fresh adapter); fresh GRPO "
                "on B from the pretrained base for as many steps. J_B = final exact pass@1 on B.",
        tolerance="reproduced: fresh GRPO's J_B above sequential GRPO's by > 2 SE and "
                  "sequential REPO-R and DAPO above sequential GRPO by > 2 SE (paired over "
                  "seeds); partly: the first part only.",
        reason="J_B final: fresh GRPO "
               + fmt(m["fresh_grpo/J_B_final"], m["fresh_grpo/J_B_final_se"])
               + "".join(f", after A {a} {fmt(m[f'seq_{a}/J_B_final'], m[f'seq_{a}/J_B_final_se'])}"
                         f" (H at switch {m[f'seq_{a}/H_at_switch']:.3f}, J_A "
                         f"{m[f'seq_{a}/J_A_at_switch']:.3f})" for a in ("grpo", "dapo", "repo_r"))
               + f"; fresh − sequential GRPO {fmt(*d)}.",
    )
