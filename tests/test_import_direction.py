"""Imports point one way (docs/architecture.md, "Dependency direction"): a module of the package
imports only from its own layer or the layers below it, anywhere in the file (function-level
imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "entropy_lab"
LAYERS = [
    {"validation", "registry", "project", "passk", "theory"},
    {"algorithms"},
    {"problems", "precision", "policies"},
    {"sim", "harness"},
    {"analysis"},
    {"checks", "report", "commands", "cli", "__init__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "entropy_lab"):
            parts = node.module.split(".")
            if len(parts) == 1:  # from entropy_lab import x: x is the imported part
                yield from (alias.name for alias in node.names)
            else:
                yield parts[1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "entropy_lab" and len(parts) > 1:
                    yield parts[1]


def test_every_part_of_the_package_has_a_layer():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())}
    assert parts <= set(LAYER), sorted(parts - set(LAYER))


def test_no_import_points_up():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for target in _imports(path):
            target = target.removesuffix(".py")
            if target in LAYER and LAYER[target] > LAYER[part]:
                upward.append(f"{path.relative_to(PACKAGE)} imports entropy_lab.{target}")
    assert not upward, upward
