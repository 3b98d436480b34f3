"""Every environment variable the code reads is documented in one place
(docs/architecture.md, "Environment variables"), and that table names no variable the code
no longer reads."""

import re
import subprocess

import pytest

from entropy_lab.project import project_root

ROOT = project_root()
NAME = re.compile(r"\bENTROPY_LAB_[A-Z][A-Z_]*\b")


def _tracked(suffixes) -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist)
        return []
    return [p for p in out.splitlines() if p.endswith(suffixes) and (ROOT / p).is_file()]


def _documented() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.M)


@pytest.mark.skipif(not _tracked((".py",)), reason="needs a git checkout")
def test_every_environment_variable_is_documented_once():
    used = {}
    for rel in _tracked((".py", "run", ".sh", ".toml")):
        for name in NAME.findall((ROOT / rel).read_text(encoding="utf-8", errors="replace")):
            used.setdefault(name, rel)
    rows = _documented()
    documented = set(rows)
    assert len(rows) == len(documented), f"a variable has two rows: {sorted(rows)}"
    assert "ENTROPY_LAB_CACHE" in used and "ENTROPY_LAB_ROOT" in used  # the scan sees the code
    missing = {name: rel for name, rel in used.items() if name not in documented}
    assert missing == {}, "read by the code, not in docs/architecture.md"
    stale = {name for name in documented if name.startswith("ENTROPY_LAB_")} - set(used)
    assert stale == set(), "in docs/architecture.md, read nowhere"
