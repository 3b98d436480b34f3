"""The decision rules of paper_checks/harness_scale.py on synthetic studies whose answers are
known by construction (each rule once on the side it must accept, once on the side it must
reject)."""

import numpy as np
import pandas as pd
import pytest

from paper_checks import harness_scale as H

ALGOS = ("grpo", "dapo", "rloo", "repo_r", "adapo")
PRECISIONS = ("bf16", "fp16", "fp32")
SEEDS = (0, 1, 2)
STEPS = 20
META = {"settings": {"size": 1, "lora_rank": 8, "task": "digitsum", "prompts_per_step": 4,
                     "group_size": 8, "lr": 2e-3, "steps": STEPS, "engine": "bf16-engine",
                     "old_logp": "rollout"}, "seeds": list(SEEDS)}


def study(metric) -> pd.DataFrame:
    """The grid (+ dapo × fp32_logprobs, sequential and fresh runs) with every metric from
    ``metric(algo, precision, kind, seed, phase, step, rng) -> dict``."""
    rng = np.random.default_rng(0)
    cells = [(a, p, "grid") for a in ALGOS for p in PRECISIONS] + [("dapo", "fp32_logprobs",
                                                                    "grid")]
    cells += [(a, "fp32", "sequential") for a in ("grpo", "dapo", "repo_r")]
    cells += [("grpo", "fp32", "fresh")]
    rows = []
    for algo, prec, kind in cells:
        for seed in SEEDS:
            for phase in ((1, 2) if kind == "sequential" else (1,)):
                for step in range(STEPS):
                    base = {"ratio0/mean": 1.0, "ratio0/frac_out_band": 0.0,
                            "ratio0/frac_ne1": 0.3, "clip/frac": 0.01, "entropy/token": 1.0,
                            "exact/pass@1": 0.4, "exact/pass@64": 0.99}
                    base.update(metric(algo, prec, kind, seed, phase, step, rng))
                    rows.append({"run_id": f"{kind}_{algo}_{prec}_s{seed}", "algo": algo,
                                 "precision": prec, "seed": seed, "kind": kind, "phase": phase,
                                 "step": step, **base})
    return pd.DataFrame(rows)


def verdict(monkeypatch, check, metric) -> str:
    monkeypatch.setattr(H, "load", lambda: (study(metric), META))
    return check(quick=True).verdict


def test_claim08_rule(monkeypatch):
    def biased(algo, prec, kind, seed, phase, step, rng, fp32_shift=0.0):
        shift = {"bf16": 0.01, "fp32": fp32_shift}.get(prec, 0.0)
        return {"ratio0/mean": 1 + shift + (1e-4 * rng.standard_normal() if shift else 0)}

    assert verdict(monkeypatch, H.check_claim08, biased) == "reproduced"
    assert verdict(monkeypatch, H.check_claim08,
                   lambda *a: biased(*a, fp32_shift=0.01)) == "partly"
    assert verdict(monkeypatch, H.check_claim08, lambda *a: {}) == "not reproduced"


def test_claim09_rule(monkeypatch):
    def trend(slope_bf16, slope_fix):
        def metric(algo, prec, kind, seed, phase, step, rng):
            slope = {"bf16": slope_bf16, "fp32_logprobs": slope_fix}.get(prec, 0.0)
            return {"entropy/token": 1.0 + slope * step / STEPS + 0.01 * rng.standard_normal()}
        return metric

    assert verdict(monkeypatch, H.check_claim09, trend(-0.8, +0.3)) == "reproduced"
    assert verdict(monkeypatch, H.check_claim09, trend(-0.3, 0.0)) == "partly"
    assert verdict(monkeypatch, H.check_claim09, trend(0.0, 0.0)) == "not reproduced"


def test_claim10_rule(monkeypatch):
    def passk(d1, dk):
        def metric(algo, prec, kind, seed, phase, step, rng):
            on = algo == "grpo" and step == STEPS - 1
            return {"exact/pass@1": 0.4 + (d1 + 0.001 * seed if on else 0),
                    "exact/pass@64": 0.99 + (dk + 0.001 * seed if on else 0)}
        return metric

    assert verdict(monkeypatch, H.check_claim10, passk(0.1, -0.05)) == "reproduced"
    assert verdict(monkeypatch, H.check_claim10, passk(0.1, +0.005)) == "not reproduced"


def test_claim11_rule(monkeypatch):
    keep = {a: i for i, a in enumerate(ALGOS)}

    def metric(algo, prec, kind, seed, phase, step, rng, sign=1.0):
        h = 0.5 + 0.1 * keep[algo]
        return {"entropy/token": h, "exact/pass@1": 0.3 + sign * 0.1 * h,
                "exact/pass@64": 0.9 + 0.05 * h}

    assert verdict(monkeypatch, H.check_claim11, metric) == "reproduced"
    assert verdict(monkeypatch, H.check_claim11, lambda *a: metric(*a, sign=-1.0)) == "partly"


def test_claim12_rule(monkeypatch):
    def metric(algo, prec, kind, seed, phase, step, rng, seq_gain=0.1):
        last = step == STEPS - 1
        if kind == "fresh" and last:
            return {"exact/pass@1": 0.6 + 0.001 * seed}
        if kind == "sequential" and phase == 2 and last:
            gain = 0.0 if algo == "grpo" else seq_gain
            return {"exact/pass@1": 0.3 + gain + 0.002 * seed}
        return {}

    assert verdict(monkeypatch, H.check_claim12, metric) == "reproduced"
    assert verdict(monkeypatch, H.check_claim12, lambda *a: metric(*a, seq_gain=0.0)) == "partly"


def test_per_run_refuses_to_mix_runs_under_one_seed():
    with pytest.raises(ValueError, match="one run per seed"):
        H.per_run(study(lambda *a: {}), "entropy/token", "final")
