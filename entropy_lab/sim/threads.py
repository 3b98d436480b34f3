"""One intra-op thread for the duration of a block, the caller's setting restored after.

Tabular tensors are tiny (``[B, S, K]`` of a few thousand entries): waking OpenMP workers costs
more than the work, so a simulator step runs 3–10× faster on one thread (measured on 2 shared
cores). The thread count is process-wide, so :func:`simulate` leaves it to the caller; entry
points that run many small simulations (paper checks, benchmarks, tests) wrap them in this.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def single_thread() -> Iterator[None]:
    """``with single_thread(): ...`` runs torch on one intra-op thread, then restores it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
