"""Every file a docstring, comment or doc cites exists in the repository, and every cited docs/
section exists: a citation of a missing file (or of a heading that was renamed) fails here.

A citation is a path-like token ending in ``.md`` or a path with a folder ending in ``.py``
(``docs/theory.md``, ``entropy_lab/theory/pg.py``, ``README.md``); a bare file name resolves if
some tracked file has that name. ``docs/<name>.md, "Heading"`` must name a heading of that file.
Papers are cited by arXiv id and are not checked here. Generated reports are skipped (they are
rebuilt from the checks' own text, which is scanned).
"""

import re
import subprocess

import pytest

from entropy_lab.project import project_root

ROOT = project_root()
SKIP = {"paper_checks/REPORT.md", "paper_checks/REPORT-quick.md", "tests/test_citations.py"}
# Outputs a run writes (git-ignored), which text may name without their existing.
GENERATED = {"REPORT-quick.md", "paper_checks/REPORT-quick.md"}
SUFFIXES = (".py", ".md", ".toml", ".cfg", ".txt", ".sh", "run")
PATH = re.compile(r"(?<![\w/.<$-])((?:[\w.-]+/)*[\w-]+\.md|(?:[\w.-]+/)+[\w-]+\.py)\b")
SECTION = re.compile(r"(docs/[\w-]+\.md),?\s+[\"“]([^\"”\n]+)[\"”]")


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [p for p in out.splitlines() if (ROOT / p).is_file()]


try:
    FILES = _tracked()
except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist)
    FILES = []
NAMES = {p.rsplit("/", 1)[-1] for p in FILES}
SCANNED = [p for p in FILES if p.endswith(SUFFIXES) and p not in SKIP]


def _resolves(cited: str, citing: str) -> bool:
    if cited in GENERATED or "NN" in cited or "slug" in cited:  # outputs, name patterns
        return True
    if "/" not in cited:
        return cited in NAMES
    here = (ROOT / citing).parent
    bases = (ROOT, here, ROOT / "entropy_lab")  # root-, file- or package-relative
    return any((base / cited).is_file() for base in bases)


def _headings(doc: str) -> set[str]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return {m.group(1).strip() for m in re.finditer(r"^#+\s+(.+)$", text, flags=re.M)}


@pytest.mark.skipif(not FILES, reason="needs a git checkout")
def test_every_cited_file_exists():
    missing = []
    for rel in SCANNED:
        text = (ROOT / rel).read_text(encoding="utf-8", errors="replace")
        for m in PATH.finditer(text):
            if not _resolves(m.group(1), rel):
                line = text.count("\n", 0, m.start()) + 1
                missing.append(f"{rel}:{line}: {m.group(1)}")
    assert missing == [], "citations of files not in the repository:\n" + "\n".join(missing)


@pytest.mark.skipif(not FILES, reason="needs a git checkout")
def test_every_cited_docs_section_exists():
    missing = []
    for rel in SCANNED:
        text = (ROOT / rel).read_text(encoding="utf-8", errors="replace")
        for m in SECTION.finditer(" ".join(text.split())):
            doc, heading = m.group(1), m.group(2).strip()
            if (ROOT / doc).is_file() and heading not in _headings(doc):
                missing.append(f"{rel}: {doc}, \"{heading}\"")
    assert missing == [], "citations of docs/ sections that do not exist:\n" + "\n".join(missing)


def test_the_checker_catches_a_missing_file_and_section():
    assert not _resolves("SCIENCE.md", "entropy_lab/theory/pg.py")
    assert not _resolves("docs/nowhere.md", "README.md")
    assert _resolves("docs/theory.md", "entropy_lab/theory/pg.py")
    assert _resolves("README.md", "entropy_lab/theory/pg.py") or not FILES
    m = SECTION.search('see docs/theory.md, "Theorem 1" for it')
    assert m and m.group(2) == "Theorem 1" and "Theorem 1" in _headings("docs/theory.md")
    assert [x.group(1) for x in PATH.finditer("cites `entropy_lab/theory/pg.py` and x.py")] == [
        "entropy_lab/theory/pg.py"]
