"""Smoke tier: every notebook executes top to bottom with the small settings
(``ENTROPY_LAB_QUICK=1``), and each stored ``.ipynb`` is exactly what ``notebooks/build.py``
builds from its jupytext percent source ``notebooks/NN_name.py`` (so the reviewed, linted
source is what users open)."""

import importlib.util

import pytest

from entropy_lab.project import project_root

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("jupytext")

ROOT = project_root()
FOLDER = ROOT / "notebooks"
# Notebooks that need the optional harness extra (transformers, peft).
NEEDS_HARNESS = {"04_harness"}


def _builder():
    spec = importlib.util.spec_from_file_location("notebook_builder", FOLDER / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BUILDER = _builder()
NAMES = list(BUILDER.NOTEBOOKS)


@pytest.mark.parametrize("name", NAMES)
def test_stored_notebook_matches_builder(name, tmp_path):
    stored = (FOLDER / f"{name}.ipynb").read_text()
    assert BUILDER.write(name, tmp_path).read_text() == stored, (
        f"notebooks/{name}.ipynb differs from notebooks/{name}.py: run `python notebooks/build.py`"
    )


def test_every_source_has_its_notebook_and_no_cell_defines_a_helper():
    assert len(NAMES) >= 4
    assert sorted(p.stem for p in FOLDER.glob("*.ipynb")) == NAMES
    for name in NAMES:  # helpers belong in entropy_lab.analysis, cells only call them
        for cell in BUILDER.build(name).cells:
            if cell.cell_type == "code":
                assert "\ndef " not in "\n" + cell.source, (name, cell.source[:80])


def test_every_notebook_has_a_reading_after_each_plot():
    for name in NAMES:
        cells = BUILDER.build(name).cells
        for i, cell in enumerate(cells):
            if cell.cell_type == "code" and "plot_" in cell.source:
                after = cells[i + 1] if i + 1 < len(cells) else None
                assert after is not None and after.cell_type == "markdown", (name, i)
                assert "Reading this plot" in after.source, (name, i)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_with_small_settings(name, monkeypatch):
    if name in NEEDS_HARNESS:
        pytest.importorskip("transformers")
        pytest.importorskip("peft")
    monkeypatch.setenv("ENTROPY_LAB_QUICK", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend makes the images
    nb = nbformat.read(FOLDER / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(FOLDER)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    assert images >= 1
