"""Controllers: deterministic traces on scripted entropy sequences, bounds, per-replica state,
state_dict round trips."""

from __future__ import annotations

import pytest
import torch

from entropy_lab.algorithms import (
    EntropyCoefController,
    EpsHighController,
    ZetaController,
    controller_names,
)
from entropy_lab.validation import InputError

F64 = torch.float64
LOW, HIGH = torch.tensor(0.5, dtype=F64), torch.tensor(1.5, dtype=F64)


def trace(ctrl, entropies, h0=1.0):
    ctrl.reset(torch.tensor(h0, dtype=F64))
    return [float(ctrl.update(h)) for h in entropies]


def approx(xs, ys):
    assert xs == pytest.approx(ys, rel=1e-12, abs=1e-15)


def test_names():
    assert controller_names() == ["entropy_coef", "eps_high", "zeta"]


def test_zeta_doubles_below_target_up_to_max():
    approx(trace(ZetaController(), [LOW] * 8),
           [2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2, 5e-2, 5e-2, 5e-2])


def test_zeta_halves_above_target_then_flips_sign_and_grows_negative():
    # 1e-3 -> 5e-4 -> 2.5e-4 -> 1.25e-4 -> (6.25e-5 < ζ_min) flip: −1e-4 -> −2e-4 -> −4e-4
    approx(trace(ZetaController(), [HIGH] * 6),
           [5e-4, 2.5e-4, 1.25e-4, -1e-4, -2e-4, -4e-4])


def test_zeta_two_way_control_flips_back():
    # from −4e-4 entropy falls below target: shrink −2e-4, −1e-4, then flip to +1e-4, grow 2e-4
    approx(trace(ZetaController(), [HIGH] * 6 + [LOW] * 4)[6:], [-2e-4, -1e-4, 1e-4, 2e-4])


def test_zeta_without_sign_flip_stays_at_min():
    approx(trace(ZetaController(sign_flip=False), [HIGH] * 5),
           [5e-4, 2.5e-4, 1.25e-4, 1e-4, 1e-4])


def test_zeta_at_target_is_unchanged_and_replicas_are_independent():
    approx(trace(ZetaController(), [torch.tensor(1.0, dtype=F64)] * 3), [1e-3] * 3)
    c = ZetaController()
    c.reset(torch.tensor([1.0, 1.0, 2.0], dtype=F64))
    out = c.update(torch.tensor([0.5, 1.5, 2.0], dtype=F64))
    torch.testing.assert_close(out, torch.tensor([2e-3, 5e-4, 1e-3], dtype=F64))


def test_fixed_target_overrides_initial_entropy():
    c = ZetaController(target=0.2)
    approx(trace(c, [LOW]), [5e-4])      # 0.5 is above the fixed target 0.2


def test_eps_high_multiplicative_and_additive_with_bounds():
    approx(trace(EpsHighController(), [LOW] * 7),
           [0.308, 0.3388, 0.37268, 0.409948, 0.4509428, 0.49603708, 0.5])
    approx(trace(EpsHighController(mode="additive", step=0.1), [HIGH] * 3), [0.18, 0.1, 0.1])
    approx(trace(EpsHighController(mode="additive", step=0.1), [LOW] * 3), [0.38, 0.48, 0.5])


def test_entropy_coef_additive_and_clamped():
    approx(trace(EntropyCoefController(), [HIGH, LOW, LOW, HIGH]), [0.0, 5e-3, 1e-2, 5e-3])
    approx(trace(EntropyCoefController(delta=0.04), [LOW] * 4), [0.04, 0.08, 0.1, 0.1])


@pytest.mark.parametrize("cls", [ZetaController, EpsHighController, EntropyCoefController])
def test_state_dict_round_trip_continues_identically(cls):
    g = torch.Generator().manual_seed(0)
    seq = [torch.rand(3, generator=g, dtype=F64) * 2 for _ in range(12)]
    a = cls()
    a.reset(torch.ones(3, dtype=F64))
    for h in seq[:5]:
        a.update(h)
    b = cls()
    b.load_state_dict(a.state_dict())
    for h in seq[5:]:
        torch.testing.assert_close(a.update(h), b.update(h), rtol=0, atol=0)
    assert a.steps == b.steps == 12


def test_load_rejects_other_controller_or_config():
    a = ZetaController()
    a.reset(torch.ones(()))
    with pytest.raises(InputError, match="controller"):
        EpsHighController().load_state_dict(a.state_dict())
    with pytest.raises(InputError, match="config"):
        ZetaController(factor=3.0).load_state_dict(a.state_dict())


def test_update_before_reset_and_wrong_shape():
    with pytest.raises(InputError, match="before reset"):
        ZetaController().update(torch.ones(()))
    c = ZetaController()
    c.reset(torch.ones(2))
    with pytest.raises(InputError, match="entropy"):
        c.update(torch.ones(3))
