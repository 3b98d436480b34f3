"""validation.trusted(): check_tensor skips only its finiteness scan, only inside the block."""

import threading

import pytest
import torch

from entropy_lab.validation import InputError, check_tensor, finite_scans_enabled, trusted

NAN_X = torch.tensor([1.0, float("nan")], dtype=torch.float64)


def test_finite_scan_runs_by_default_and_again_after_the_block():
    with pytest.raises(InputError, match="x has 1 non-finite entries"):
        check_tensor("x", NAN_X)
    with trusted():
        assert check_tensor("x", NAN_X) is NAN_X
    with pytest.raises(InputError, match="non-finite"):
        check_tensor("x", NAN_X)


def test_blocks_nest_and_an_exception_restores_the_flag():
    assert finite_scans_enabled()
    with trusted():
        with trusted():
            assert not finite_scans_enabled()
        assert not finite_scans_enabled()
    assert finite_scans_enabled()
    with pytest.raises(RuntimeError), trusted():
        raise RuntimeError("boom")
    assert finite_scans_enabled()


@pytest.mark.parametrize("x, kwargs, match", [
    ([1.0], {}, "a torch.Tensor"),
    (torch.zeros(3, dtype=torch.float64), {"ndim": 2}, "rank 2"),
    (torch.zeros(3, dtype=torch.float64), {"min_ndim": 2}, "rank >= 2"),
    (torch.zeros(1, dtype=torch.float64), {"last_dim_min": 2}, "last dimension"),
    (torch.zeros(3, dtype=torch.long), {}, "floating-point"),
])
def test_every_other_check_still_runs_inside_the_block(x, kwargs, match):
    with trusted(), pytest.raises(InputError, match=match):
        check_tensor("x", x, **kwargs)


def test_another_thread_is_not_trusted():
    seen = []
    with trusted():
        worker = threading.Thread(target=lambda: seen.append(finite_scans_enabled()))
        worker.start()
        worker.join()
    assert seen == [True]
