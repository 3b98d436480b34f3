"""`entropy-lab reproduce`: every fast paper check, every figure, and ``paper_checks/REPORT.md``.

Only a full run writes the committed outputs (``paper_checks/REPORT.md``, ``figures/out/``).
``--quick`` writes ``paper_checks/REPORT-quick.md`` and ``figures/out-quick/`` (both git-ignored),
so a quick run leaves the checkout clean (``docs/architecture.md``, "Outputs").

The figure scripts (each its own process) run beside the checks, so a 2-core machine is busy
on both cores: the checks and the simulator run single-threaded (``sim/threads.py``,
``figures/_common.py``). ``--sequential`` runs the figures after the checks instead.

Prints the verdict table. Exits 1 if a theorem check fails, a check crashes or a figure fails;
an empirical claim that does not reproduce is a finding (it is in the table), not a failure.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from entropy_lab import checks
from entropy_lab.commands.figures import run_figures
from entropy_lab.project import project_root
from entropy_lab.report import write_report


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="smaller budgets (CI)")
    p.add_argument("--skip-figures", action="store_true", help="checks and report only")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="a subset: check ids or prefixes (claim06) and figure names or prefixes "
                        "(fig07); names starting with 'fig' select figures, the others checks")
    p.add_argument("--report", metavar="PATH", help="where to write the report "
                   "(default paper_checks/REPORT.md; REPORT-quick.md with --quick)")
    p.add_argument("--sequential", action="store_true",
                   help="run the figures after the checks, not beside them")


def run(args) -> int:
    start = time.perf_counter()
    root = project_root()
    checks.load_check_modules(root / "paper_checks")
    only = args.only or []
    fig_only = [o for o in only if o.startswith("fig")]
    check_only = [o for o in only if not o.startswith("fig")]
    specs = checks.select(check_only) if check_only else ([] if fig_only else checks.select(None))
    skip_figures = args.skip_figures or (check_only and not fig_only)
    figures: list[dict] = []

    def figure_job() -> None:
        figures.extend(run_figures(root, fig_only or None, quick=args.quick))

    beside = None
    if not skip_figures and not args.sequential:
        beside = threading.Thread(target=figure_job, name="figures", daemon=True)
        beside.start()
    print(f"Running {len(specs)} paper checks{' (quick)' if args.quick else ''} ...", flush=True)
    results = checks.run_checks(
        specs, quick=args.quick,
        progress=lambda s: print(f"  check {s.check_id} ...", file=sys.stderr, flush=True),
    )
    default_name = "REPORT-quick.md" if args.quick else "REPORT.md"
    report_path = Path(args.report) if args.report else root / "paper_checks" / default_name
    report = write_report(results, report_path, quick=args.quick)
    if beside is not None:
        beside.join()
    elif not skip_figures:
        figure_job()
    table = checks.results_frame(results).drop(columns="measured")
    print()
    print(table.to_string(index=False))
    failed_figs = [f["name"] for f in figures if not f["ok"]]
    n_ok = len(figures) - len(failed_figs)
    out_dir = "figures/out-quick" if args.quick else "figures/out"
    print(f"\nReport: {report}; figures: {n_ok}/{len(figures)} regenerated in "
          f"{out_dir}/; {time.perf_counter() - start:.0f}s in all.")
    failed = [r.check_id for r in results if r.failed]
    if failed or failed_figs:
        print(f"FAILED: {', '.join(failed + failed_figs)}", file=sys.stderr)
        return 1
    return 0
