"""The paper-checks ledger: one registered check per claim of docs/claims.md.

A check is a function ``check(quick: bool) -> CheckResult`` in a module of the top-level
``paper_checks/`` folder, registered with :func:`register_check`::

    @register_check("claim01_theorem1_bandit", claim=1, kind="theorem",
                    title="Theorem 1 general form, O(η²) on a bandit")
    def _(quick: bool) -> CheckResult:
        ...
        return CheckResult.judge(ok, measured={...}, summary=..., precise=..., tolerance=...)

``kind="theorem"`` checks are mathematics: a failure makes ``entropy-lab check`` exit non-zero.
``kind="empirical"`` checks report a paper claim as reproduced / partly / not reproduced: a
"not reproduced" is a finding, reported with its numbers, never an error.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import pkgutil
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from entropy_lab.project import environment
from entropy_lab.registry import Registry

VERDICTS = ("reproduced", "partly", "not reproduced", "error")
KINDS = ("theorem", "empirical")


@dataclass(frozen=True)
class CheckResult:
    """What one check found (immutable: the runner returns a copy carrying the spec's fields).

    Attributes:
        verdict: one of ``reproduced``, ``partly``, ``not reproduced``, ``error``.
        measured: the numbers behind the verdict (name -> float/int/str), JSON-serialisable.
        summary: the claim as the paper's summary states it (docs/claims.md).
        precise: our precise, checkable form of the claim.
        tolerance: what counts as agreement, and why (e.g. "ratio (exact−pred)/η² bounded").
        reason: one or two sentences on why the verdict is what it is.
    """

    verdict: str
    measured: dict = field(default_factory=dict)
    summary: str = ""
    precise: str = ""
    tolerance: str = ""
    reason: str = ""
    # Set by the runner (``run_check`` returns a new result with them):
    check_id: str = ""
    claim: int = 0
    kind: str = "theorem"
    title: str = ""
    seconds: float = 0.0

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r} is not allowed: expected one of {VERDICTS}")
        object.__setattr__(self, "measured", {k: _jsonable(v) for k, v in self.measured.items()})

    @classmethod
    def judge(cls, ok: bool, partly: bool = False, **kw) -> CheckResult:
        """``reproduced`` if ``ok``, else ``partly`` if ``partly``, else ``not reproduced``."""
        verdict = "reproduced" if ok else ("partly" if partly else "not reproduced")
        return cls(verdict=verdict, **kw)

    @property
    def failed(self) -> bool:
        """A theorem check that did not reproduce, or any check that crashed."""
        return self.verdict == "error" or (self.kind == "theorem" and self.verdict != "reproduced")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _jsonable(v):
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if hasattr(v, "tolist"):
        return _jsonable(v.tolist())
    return str(v)


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its id, the claim number (docs/claims.md), kind, title and function."""

    check_id: str
    claim: int
    kind: str
    title: str
    fn: Callable[[bool], CheckResult]
    slow: bool = False


CHECKS: Registry[CheckSpec] = Registry("check")


def register_check(check_id: str, *, claim: int, kind: str, title: str, slow: bool = False):
    """Decorator registering ``fn(quick: bool) -> CheckResult`` as a paper check.

    Args:
        check_id: stable id, e.g. ``"claim01_theorem1_tree"``.
        claim: the claim's number in docs/claims.md.
        kind: ``"theorem"`` (failure is an error) or ``"empirical"`` (a finding either way).
        title: one line for the verdict table.
        slow: excluded from ``entropy-lab check`` unless ``--all`` (still run by ``--only``).
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not allowed: expected one of {KINDS}")

    def add(fn):
        CHECKS.register(check_id, CheckSpec(check_id, claim, kind, title, fn, slow))
        return fn

    return add


def load_check_modules(folder: Path) -> None:
    """Import every module of the ``paper_checks`` package in ``folder`` (registers its checks)."""
    folder = Path(folder).resolve()
    parent = str(folder.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    package = importlib.import_module(folder.name)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{folder.name}.{info.name}")


def select(only: Iterable[str] | None = None, include_slow: bool = False) -> list[CheckSpec]:
    """Checks to run: those named in ``only`` (exact ids, or id prefixes), else all fast ones."""
    specs = [CHECKS.get(n) for n in CHECKS.names()]
    if only:
        only = list(only)
        # An entry naming a check exactly selects that check alone; any other is a prefix.
        chosen = [
            s for s in specs
            if s.check_id in only
            or any(o not in CHECKS and s.check_id.startswith(o) for o in only)
        ]
        if not chosen:
            CHECKS.get(only[0])  # raises, listing the valid ids
        return sorted(chosen, key=lambda s: (s.claim, s.check_id))
    return sorted(
        (s for s in specs if include_slow or not s.slow), key=lambda s: (s.claim, s.check_id)
    )


def run_check(spec: CheckSpec, quick: bool = False) -> CheckResult:
    """Run one check; a crash becomes an ``error`` verdict carrying the traceback's last line."""
    start = time.perf_counter()
    try:
        result = spec.fn(quick)
        if not isinstance(result, CheckResult):
            raise TypeError(
                f"check {spec.check_id} returned {type(result).__name__}, not CheckResult"
            )
    except Exception as exc:  # a crashing check is reported, not fatal to the ledger
        last = traceback.format_exc().strip().splitlines()[-1]
        result = CheckResult("error", reason=f"{type(exc).__name__}: {exc}"[:500] or last)
    return dataclasses.replace(result, check_id=spec.check_id, claim=spec.claim, kind=spec.kind,
                               title=spec.title, seconds=round(time.perf_counter() - start, 2))


def run_checks(specs: Iterable[CheckSpec], quick: bool = False, progress=None) -> list[CheckResult]:
    """Run checks in order; ``progress(spec)`` is called before each (e.g. to print its id)."""
    results = []
    for spec in specs:
        if progress is not None:
            progress(spec)
        results.append(run_check(spec, quick))
    return results


def results_frame(results: Iterable[CheckResult]) -> pd.DataFrame:
    """One row per check: claim, id, kind, verdict, seconds, title, measured (as JSON)."""
    rows = [
        {
            "claim": r.claim,
            "check_id": r.check_id,
            "kind": r.kind,
            "verdict": r.verdict,
            "seconds": r.seconds,
            "title": r.title,
            "measured": json.dumps(r.measured, sort_keys=True),
        }
        for r in results
    ]
    return pd.DataFrame(
        rows, columns=["claim", "check_id", "kind", "verdict", "seconds", "title", "measured"]
    )


def record_references(results: Iterable[CheckResult], path: Path) -> Path:
    """Pin the measured numbers of ``results`` (merged into ``path``) with the environment."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.exists() else {"checks": {}}
    for r in results:
        data["checks"][r.check_id] = {"verdict": r.verdict, "measured": r.measured}
    data["environment"] = environment()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def compare_to_references(results: Iterable[CheckResult], path: Path) -> pd.DataFrame:
    """Each result against its pinned reference (``--record``): the pinned verdict and the
    largest relative drift |x − x_ref| / max(|x_ref|, 1e-12) over the numbers both share.

    Returns one row per result (``check_id``, ``pinned``, ``max_rel_drift``); ``pinned`` is empty
    and the drift NaN where nothing was recorded. A drift is information (a library update, a
    changed default), not a failure: the verdict decides.
    """
    path = Path(path)
    pinned = json.loads(path.read_text())["checks"] if path.exists() else {}
    rows = []
    for r in results:
        ref = pinned.get(r.check_id)
        drift = math.nan
        if ref is not None:
            pairs = [
                (v, ref["measured"][k]) for k, v in r.measured.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
                and isinstance(ref["measured"].get(k), (int, float))
                and not isinstance(ref["measured"].get(k), bool)
            ]
            if pairs:
                drift = max(abs(v - w) / max(abs(w), 1e-12) for v, w in pairs)
        rows.append({"check_id": r.check_id, "pinned": ref["verdict"] if ref else "",
                     "max_rel_drift": drift})
    return pd.DataFrame(rows, columns=["check_id", "pinned", "max_rel_drift"])
