"""Quick runs never touch the committed outputs: in a clean copy of the checkout,
``entropy-lab reproduce --quick`` leaves ``git status`` clean (its report goes to the git-ignored
``paper_checks/REPORT-quick.md``, its figures to ``figures/out-quick/``; docs/architecture.md,
"Outputs").

The default-suite test runs one check and one figure (the paths are shared by every check and
figure: ``write_report`` and ``figures/_common.save``); the whole quick reproduce is the same test
over every check and figure and takes minutes, so it is marked slow."""

import os
import shutil
import subprocess
import sys

import pytest

from entropy_lab.project import project_root

ROOT = project_root()
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(cwd, *args) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout


def _clean_copy(dest):
    """The checkout's tracked and untracked-but-not-ignored files, committed in a fresh repo."""
    files = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "copy")
    assert _git(dest, "status", "--porcelain") == ""


def _reproduce_quick(dest, *only):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTROPY_LAB_")}
    env.update(PYTHONPATH=str(dest), ENTROPY_LAB_ROOT=str(dest), MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "entropy_lab.cli", "reproduce", "--quick"]
    if only:
        cmd += ["--only", *only]
    proc = subprocess.run(cmd, cwd=dest, env=env, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


def test_quick_reproduce_subset_leaves_clean_checkout(tmp_path):
    dest = tmp_path / "clone"
    _clean_copy(dest)
    _reproduce_quick(dest, "claim02_closed_forms", "fig07")
    assert (dest / "paper_checks" / "REPORT-quick.md").is_file()
    assert list((dest / "figures" / "out-quick").glob("fig07_*.png"))
    assert _git(dest, "status", "--porcelain", "--untracked-files=all") == ""


@pytest.mark.slow
def test_quick_reproduce_leaves_clean_checkout(tmp_path):
    dest = tmp_path / "clone"
    _clean_copy(dest)
    _reproduce_quick(dest)
    assert _git(dest, "status", "--porcelain", "--untracked-files=all") == ""
