"""Shared fixtures; `gpu` tests are skipped without CUDA."""

import pytest
import torch

from entropy_lab.sim import single_thread


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def gen():
    """A fixed-seed CPU generator (tests pass randomness explicitly)."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def one_thread():
    """Tiny tensors: one intra-op thread avoids OpenMP wake-up costs on a shared machine.

    Opt in per module with ``pytestmark = pytest.mark.usefixtures("one_thread")``; the thread
    count is restored after each test."""
    with single_thread():
        yield
