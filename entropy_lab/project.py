"""Where the project's top-level folders (paper_checks/, figures/, benchmarks/) are, and the
environment (versions, device) a set of committed numbers was made in.

The package never imports those folders statically (docs/architecture.md, "Dependency direction");
the
CLI commands that serve them (`check`, `figures`, `bench`, `reproduce`) find them here at run time.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

FOLDERS = ("paper_checks", "figures", "benchmarks")


def _is_root(path: Path) -> bool:
    return (path / "paper_checks").is_dir() and (path / "pyproject.toml").is_file()


def project_root() -> Path:
    """The checkout root: ``$ENTROPY_LAB_ROOT``, else the nearest parent of the working directory
    holding ``pyproject.toml`` and ``paper_checks/``, else the folder above the installed package.

    Raises:
        FileNotFoundError: no checkout could be found (e.g. a wheel install outside the repo).
    """
    env = os.environ.get("ENTROPY_LAB_ROOT")
    if env:
        if not _is_root(Path(env)):
            raise FileNotFoundError(
                f"ENTROPY_LAB_ROOT={env!r} is not an entropy_lab checkout "
                "(expected pyproject.toml and paper_checks/ inside it)"
            )
        return Path(env).resolve()
    cwd = Path.cwd().resolve()
    for path in (cwd, *cwd.parents, Path(__file__).resolve().parents[1]):
        if _is_root(path):
            return path
    raise FileNotFoundError(
        "cannot find the entropy_lab checkout (pyproject.toml + paper_checks/): run from inside "
        "it or set ENTROPY_LAB_ROOT"
    )


def environment(extra: tuple[str, ...] = ()) -> dict:
    """Versions and hardware behind a set of numbers (pinned references, the report, a study):
    python, platform, torch, numpy, pandas, device, default dtype, and the ``__version__`` of each
    module named in ``extra`` (None where it is not installed)."""
    import numpy
    import pandas as pd
    import torch

    out = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "default_dtype": str(torch.get_default_dtype()),
    }
    for name in extra:
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = None
    return out
