"""Every simulator configuration recorded before the RL step was written once
(tests/step_reference_configs.py) gives the same frame now, except where a default changed on
purpose:

- the controllers (adapo, adaptive_entropy, repo_d, repo_r) now see the rollout's mean token
  entropy before the update, in both worlds (algorithms/step.py), where the simulator used to
  feed the exact entropy after it: those frames must differ in the controller columns (a test
  that the change is real), and only from the first step the controller acts;
- for the same reason the ``entropy_target`` column (the controllers' reference) is the first
  rollout's entropy: NaN at step 0, before any rollout, and elsewhere the rollout's rather than
  the exact entropy. It is excluded from the comparison and checked on its own;
- precision runs now draw their tokens from the sampler path's own distribution
  (``sampling="faithful"``): the recorded precision frames were drawn from the exact π, which is
  now the labelled ``sampling="exact_pi_diagnostic"``, so those configurations run under that
  name here and must still give the recorded frame; the ratio diagnostics they now report
  (``<metric>|tail``, ``|head`` and ``first/...``, added on purpose) are not in the reference.
  That the faithful default really differs is checked on its own;
- runs with an advantage shaping (REPO variants) now also report the shaping metrics
  (``shape/...`` columns, ``algorithms/step.py``), added on purpose and not in the reference;
- token trees now define the entropy ceiling, so their frames carry an ``H_max`` column (added
  on purpose, not in the reference); it is checked on its own against the problem's
  ``entropy_ceiling`` at the frame's pass@1.

The comparison is exact on the machine that recorded the reference; elsewhere a different
vector width may change the last bits of a reduction, so the rule is |Δ| <= 1e-12·(1 + |x|).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from step_reference_configs import CONFIGS, run_config

REF = np.load(Path(__file__).parent / "data" / "step_reference.npz")
CONTROLLED = {"adapo": "eps_high", "adaptive_entropy": "entropy_coef", "repo_d": "zeta",
              "repo_r": "zeta"}


def _reference(cid):
    prefix = f"{cid}|"
    return {k[len(prefix):]: REF[k] for k in REF.files if k.startswith(prefix)}


def _diagnostic(entry):
    """A precision configuration under the sampling its frame was recorded with."""
    cid, problem, algo, sim, over = entry
    if sim.get("precision") is None:
        return entry
    return cid, problem, algo, {**sim, "sampling": "exact_pi_diagnostic"}, over


def _added(col: str) -> bool:
    return "|" in col or col.startswith(("first/", "shape/")) or col == "H_max"


@pytest.mark.parametrize("entry", [c for c in CONFIGS if c[2] not in CONTROLLED],
                         ids=lambda c: c[0])
def test_unchanged_configurations_give_the_recorded_frame(entry):
    ref, now = _reference(entry[0]), run_config(_diagnostic(entry))
    assert sorted(ref) == sorted(c for c in set(now) - {"old_logp"} if not _added(c))
    if entry[3].get("mode") != "expected":  # expected mode: the exact entropy, as before
        assert np.isnan(now["entropy_target"][now["step"] == 0]).all()
    for col, want in ref.items():
        if col == "entropy_target":
            continue
        got = now[col]
        both_nan = np.isnan(want) & np.isnan(got)
        ok = both_nan | (np.abs(got - want) <= 1e-12 * (1 + np.abs(want)))
        assert ok.all(), f"{entry[0]}: column {col} differs"


@pytest.mark.parametrize("entry", [c for c in CONFIGS if c[1].startswith("tree/")],
                         ids=lambda c: c[0])
def test_tree_frames_add_the_entropy_ceiling_column(entry):
    """The one column the tree frames gained: H_max(pass@1) of the tree, every row."""
    from entropy_lab.problems import get_problem

    ref, now = _reference(entry[0]), run_config(_diagnostic(entry))
    assert "H_max" not in ref and "H_max" in now
    want = get_problem(entry[1]).entropy_ceiling(torch.tensor(now["pass@1"])).numpy()
    np.testing.assert_allclose(now["H_max"], want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("entry", [c for c in CONFIGS if c[3].get("precision")],
                         ids=lambda c: c[0])
def test_faithful_sampling_changes_the_precision_frames(entry):
    """The default draws other tokens than the recorded exact-π frames (a real change), while
    the first rows before any draw agree."""
    ref, now = _reference(entry[0]), run_config(entry)
    np.testing.assert_allclose(now["entropy"][ref["step"] == 0], ref["entropy"][ref["step"] == 0],
                               rtol=1e-12, atol=0)
    assert not np.allclose(now["entropy"], ref["entropy"], rtol=1e-12, atol=0)


@pytest.mark.parametrize("entry", [c for c in CONFIGS if c[2] in CONTROLLED],
                         ids=lambda c: c[0])
def test_controller_configurations_changed_on_purpose(entry):
    ref, now = _reference(entry[0]), run_config(entry)
    # the first iteration is the same (the controller has not acted yet) ...
    first = ref["step"] <= 1
    for col in ("entropy", "J"):
        np.testing.assert_allclose(now[col][first], ref[col][first], rtol=1e-12, atol=0)
    # ... and the controlled value is not: the controller now sees another entropy
    key = CONTROLLED[entry[2]]
    assert not np.allclose(now[key], ref[key], rtol=1e-9, atol=0)
