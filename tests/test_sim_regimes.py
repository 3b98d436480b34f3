"""Named regimes (entropy_lab/sim/regimes.py): the calibration's selection rule on a fake
measurement, one real calibration whose chosen lr is re-measured by a direct run, bad input."""

import math

import pytest
import torch

from entropy_lab.sim import regimes as R
from entropy_lab.sim import simulate
from entropy_lab.validation import InputError

SMALL = R.Regime("small", "test", minibatches=16, steps=6, seeds=2,
                 lr_grid=(0.01, 0.02, 0.04, 0.08))


def test_selection_rule_on_a_fake_measurement(monkeypatch):
    """clip(lr) = lr / 4, kl(lr) = lr² (both increasing): in the band [1e-3, 2e-2] are lrs
    0.01–0.08; the KL target 1e-3 is nearest at lr = √1e-3 ≈ 0.0316, so the grid point 0.04
    (|log(1.6)| < |log(0.4)| for 0.02); the search stops after the first lr above the band."""
    seen = []

    def fake(problem, algorithm, regime, lr, seed, overrides):
        seen.append(lr)
        return lr / 4, lr**2

    monkeypatch.setattr(R, "_measure", fake)
    reg = R.Regime("fake", "test", lr_grid=(0.001, 0.01, 0.02, 0.04, 0.1, 0.2, 0.4))
    cal = R.calibrate("p", "a", reg)
    assert cal.lr == 0.04 and cal.clip_frac == 0.01 and math.isclose(cal.kl, 0.0016)
    assert seen == [0.001, 0.01, 0.02, 0.04, 0.1]  # 0.1 gives 0.025 > 0.02: stop
    assert list(cal.table.in_band) == [False, True, True, True, False]


def test_no_lr_in_band_names_the_nearest(monkeypatch):
    monkeypatch.setattr(R, "_measure", lambda *a: (0.5, 1.0))
    with pytest.raises(R.CalibrationError, match="nearest lr 0.01 .*clip fraction 0.5"):
        R.calibrate("p", "a", SMALL)


def test_real_calibration_is_reproduced_by_a_direct_run():
    """bandit64/calibrated, DAPO, 1 × 16 minibatches: the chosen lr's clip fraction is in the
    band, and a direct run at that lr with the regime's schedule measures the same numbers."""
    cal = R.calibrate("bandit64/calibrated", "dapo", SMALL)
    assert SMALL.clip_band[0] <= cal.clip_frac <= SMALL.clip_band[1]
    df = simulate("bandit64/calibrated", "dapo", steps=SMALL.steps, seeds=SMALL.seeds,
                  lr=cal.lr, optimizer="adam", epochs=1, minibatches=16,
                  generator=torch.Generator().manual_seed(0))
    trained = df[df.step > 0]
    assert trained["clip/frac"].mean() == cal.clip_frac
    assert trained["kl/old_new"].mean() == cal.kl


def test_calibration_runs_at_the_overrides_batch_size():
    """The overrides reach the calibration runs: at N = 4 × G = 4 (16 samples, 1 per minibatch
    of 16) the chosen lr's clip fraction is re-measured by a direct run with those sizes."""
    cal = R.calibrate("bandit64/calibrated", "dapo", SMALL, n_prompts=4, group_size=4)
    df = simulate("bandit64/calibrated", "dapo", steps=SMALL.steps, seeds=SMALL.seeds,
                  lr=cal.lr, optimizer="adam", epochs=1, minibatches=16, n_prompts=4,
                  group_size=4, generator=torch.Generator().manual_seed(0))
    assert df[df.step > 0]["clip/frac"].mean() == cal.clip_frac
    with pytest.raises(InputError, match="set by the regime"):
        R.calibrate("bandit64/calibrated", "dapo", SMALL, lr=0.1)


def test_simulate_with_a_regime_uses_its_schedule(monkeypatch):
    monkeypatch.setattr(R, "_cached", lambda p, a, r: R.Calibration(
        R.get_regime(r), p, a, 0.0123, 0.01, 1e-3, None))
    df = simulate("bandit64/calibrated", "dapo", regime="llm-clip", steps=1, seeds=1)
    assert df.attrs["config"]["lr"] == 0.0123 and df.attrs["config"]["optimizer"] == "adam"
    assert df.attrs["algorithm"]["minibatches"] == 16


@pytest.mark.parametrize("make", [
    lambda: R.Regime("x", "", clip_band=(0.05, 0.01)),
    lambda: R.Regime("x", "", lr_grid=(0.1, 0.01)),
    lambda: R.Regime("x", "", kl_target=0.0),
    lambda: R.get_regime("llm-clipp"),
    lambda: simulate("bandit64/calibrated", "dapo", regime="llm-clip", lr=0.1, steps=1),
])
def test_bad_input(make):
    with pytest.raises(InputError):
        make()
