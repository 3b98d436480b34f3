"""`entropy-lab bench`: run ``benchmarks/bench_*.py`` and report each ratio against its reference.

Each benchmark module exposes ``run(quick: bool = False) -> dict`` with at least ``name``,
``ratio`` and ``reference`` (what the ratio is measured against) plus its own figures. Speed
targets are reported here, never asserted in tests.

    entropy-lab bench [--only NAME ...] [--quick] [--json]

``--json`` prints one JSON object per benchmark per line.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from entropy_lab.project import project_root
from entropy_lab.validation import fail


def add_arguments(p) -> None:
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="benchmark names (file stems without 'bench_', or prefixes of them)")
    p.add_argument("--quick", action="store_true", help="smaller budgets")
    p.add_argument("--json", action="store_true", help="one JSON object per benchmark per line")


def discover(folder: Path) -> dict[str, Path]:
    """``{name: path}`` for every ``bench_<name>.py`` in ``folder``, sorted by name."""
    return {p.stem[len("bench_"):]: p for p in sorted(folder.glob("bench_*.py"))}


def select(found: dict[str, Path], only: list[str] | None) -> dict[str, Path]:
    if not only:
        return found
    chosen = {n: p for n, p in found.items() if any(n.startswith(o) for o in only)}
    if not chosen:
        raise fail("--only", only, "names among " + ", ".join(found) if found else
                   "a benchmark (benchmarks/ has none)")
    return chosen


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(f"entropy_lab_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def format_result(result: dict) -> str:
    """Readable lines: name, ratio against reference, then the other figures."""
    head = f"{result.get('name')}: {float(result.get('ratio', float('nan'))):.1f}x vs " \
           f"{result.get('reference')}"
    rest = [f"    {k}: {v:.6g}" if isinstance(v, float) else f"    {k}: {v}"
            for k, v in result.items() if k not in ("name", "ratio", "reference")]
    return "\n".join([head, *rest])


def run(args) -> int:
    found = discover(project_root() / "benchmarks")
    chosen = select(found, args.only)
    failed = []
    for name, path in chosen.items():
        if not args.json:
            print(f"  running {name} ...", file=sys.stderr, flush=True)
        try:
            result = load(name, path).run(quick=args.quick)
        except Exception as exc:  # a broken benchmark is reported, the others still run
            failed.append(name)
            result = {"name": name, "ratio": float("nan"), "reference": "error",
                      "error": f"{type(exc).__name__}: {exc}"}
        result = _jsonable(result)
        print(json.dumps(result) if args.json else format_result(result), flush=True)
    if failed:
        print(f"benchmarks that raised: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
