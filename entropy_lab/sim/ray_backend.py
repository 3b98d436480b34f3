"""Sweeps on Ray: each cell of :func:`entropy_lab.sim.sweep.sweep` as one Ray task.

    from entropy_lab.sim.ray_backend import RayBackend
    sweep(grid, problem="tree/calibrated", backend=RayBackend(address="auto"), store="cells/")

Needs the ``ray`` extra (``pip install -e ".[ray]"``). With ``address=None`` and no Ray running
in this process a local Ray is started (all cores, or ``num_cpus``); otherwise
``ray.init(address=...)`` joins a running cluster (``"auto"``, ``"ray://host:10001"``, ...).
An already initialised Ray (e.g. one the caller started with ``ray.init(num_cpus=2)``) is used
as it is. Results come back in cell order whatever order the tasks finish in; with ``store=`` the
cells are saved by the worker that ran them as they finish (see :mod:`entropy_lab.sim.sweep`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from entropy_lab.validation import check_number, fail


class RayBackend:
    """Runs each cell as a Ray task (one CPU each by default); yields results in cell order."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 cpus_per_cell: float = 1.0):
        if address is not None and (not isinstance(address, str) or not address):
            raise fail("address", address, "None (a local Ray) or a Ray address string")
        if num_cpus is not None and address is not None:
            raise fail("num_cpus", num_cpus, "None when joining a cluster at an address")
        if num_cpus is not None:
            num_cpus = int(check_number("num_cpus", num_cpus, lo=1, integer=True))
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_cell = float(check_number("cpus_per_cell", cpus_per_cell, lo=0.0))

    def _ray(self):
        try:
            import ray
        except ImportError as exc:
            raise fail("backend", "ray", "an installed Ray: pip install -e \".[ray]\"") from exc
        if not ray.is_initialized():
            if self.address is None:
                ray.init(num_cpus=self.num_cpus, include_dashboard=False)
            else:
                ray.init(address=self.address)
        return ray

    def map(self, fn, cells: Sequence) -> Iterator:
        cells = list(cells)
        if not cells:
            return iter(())
        ray = self._ray()
        task = ray.remote(num_cpus=self.cpus_per_cell)(_apply)
        fn_ref = ray.put(fn)
        refs = [task.remote(fn_ref, cell) for cell in cells]
        return (ray.get(ref) for ref in refs)


def _apply(fn, cell):
    """The Ray task: ``fn(cell)`` (a module-level function, as ``ray.remote`` requires)."""
    return fn(cell)
