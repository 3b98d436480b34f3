import pytest
import torch

from entropy_lab.sim import single_thread


def test_single_thread_restores_the_callers_setting_even_on_error():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), single_thread():
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
