"""`entropy-lab figures`: run every ``figures/figNN_slug.py`` script (each writes its PNG).

Scripts run in their own process (one failing figure does not stop the others) with
``ENTROPY_LAB_QUICK=1`` in the environment when ``--quick`` is given; they read it through
:func:`entropy_lab.analysis.style.quick_mode`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from entropy_lab.project import project_root


def add_arguments(p) -> None:
    p.add_argument("--only", nargs="+", metavar="NAME", help="figure names or prefixes (fig02)")
    p.add_argument("--quick", action="store_true", help="smaller budgets (CI)")


def figure_scripts(root: Path, only=None) -> list[Path]:
    """The figure scripts under ``root/figures``, sorted, filtered by name prefixes ``only``."""
    scripts = sorted((root / "figures").glob("fig[0-9][0-9]_*.py"))
    if only:
        scripts = [s for s in scripts if any(s.stem.startswith(o) for o in only)]
        if not scripts:
            names = ", ".join(s.stem for s in sorted((root / "figures").glob("fig*.py")))
            raise FileNotFoundError(f"--only {only} matches no figure; choose from: {names}")
    return scripts


def run_figures(root: Path, only=None, quick: bool = False, out=sys.stdout) -> list[dict]:
    """Run the scripts; return one dict per script: name, ok, seconds, and the error tail."""
    env = dict(os.environ, ENTROPY_LAB_QUICK="1" if quick else "0", MPLBACKEND="Agg")
    results = []
    for script in figure_scripts(root, only):
        start = time.perf_counter()
        print(f"  figure {script.stem} ...", file=out, flush=True)
        proc = subprocess.run(
            [sys.executable, str(script)], cwd=root, env=env, capture_output=True, text=True
        )
        seconds = round(time.perf_counter() - start, 1)
        tail = "" if proc.returncode == 0 else (proc.stderr or proc.stdout)[-800:]
        results.append({"name": script.stem, "ok": proc.returncode == 0, "seconds": seconds,
                        "error": tail})
        if tail:
            print(f"    FAILED ({seconds}s):\n{tail}", file=out, flush=True)
    return results


def run(args) -> int:
    results = run_figures(project_root(), args.only, args.quick)
    for r in results:
        print(f"{'ok ' if r['ok'] else 'FAIL'} {r['name']:<40} {r['seconds']:>6.1f}s")
    return 0 if all(r["ok"] for r in results) else 1
