"""Build each paired notebook ``notebooks/NN_name.ipynb`` from its jupytext percent source
``notebooks/NN_name.py`` (``python notebooks/build.py [NAME ...]``).

The ``.py`` files are the sources: edit them (in an editor, or in Jupyter with jupytext's pairing),
lint them with ruff, run them as scripts (``python notebooks/01_bandit_entropy_theory.py``), then
rebuild and commit both. The ``.ipynb`` files are stored without outputs and with fixed cell ids,
so rebuilding gives a byte-identical file; ``tests/test_notebooks.py`` checks that the stored
notebooks match their sources and executes every one with ``ENTROPY_LAB_QUICK=1``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
NOTEBOOKS = sorted(p.stem for p in HERE.glob("[0-9][0-9]_*.py"))


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` read from its percent source (unexecuted, fixed cell ids)."""
    nb = jupytext.read(HERE / f"{name}.py")
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i:02d}"
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write(name: str, folder: Path = HERE) -> Path:
    path = folder / f"{name}.ipynb"
    nbformat.write(build(name), path)
    return path


def main(argv: list[str]) -> int:
    names = argv or NOTEBOOKS
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        print(f"unknown notebook(s) {unknown}; choose from {NOTEBOOKS}", file=sys.stderr)
        return 2
    for name in names:
        print(f"wrote {write(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
