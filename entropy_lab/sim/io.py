"""Writing result frames: parquet or CSV by suffix, atomically, never clobbering by accident.

The frame is written to a temporary file in the target's folder and moved into place with
``os.replace`` (atomic on POSIX), so a reader never sees half a file and an interrupted write
leaves the previous file intact. ``df.attrs`` (config, algorithm) travel in the parquet metadata;
CSV has no place for them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from entropy_lab.validation import fail

WRITERS = {
    ".parquet": lambda df, path: df.to_parquet(path, index=False),
    ".csv": lambda df, path: df.to_csv(path, index=False),
}


def check_output(path, force: bool = False) -> Path:
    """Validate an output path before any work is done; return it as a Path.

    Raises:
        InputError: the suffix is neither .parquet nor .csv.
        FileExistsError: the file exists and ``force`` is False.
    """
    path = Path(path)
    if path.suffix.lower() not in WRITERS:
        raise fail("out", str(path), "a file name ending in .parquet or .csv")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force (force=True) to overwrite it")
    return path


def write_frame(df: pd.DataFrame, path, force: bool = False) -> Path:
    """Write ``df`` to ``path`` (.parquet or .csv) atomically; returns the path."""
    path = check_output(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        WRITERS[path.suffix.lower()](df, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
