"""`entropy-lab check`: run the paper checks, print the verdict table, exit 1 if a theorem fails."""

from __future__ import annotations

import json
import sys

from entropy_lab import checks
from entropy_lab.project import project_root


def add_arguments(p) -> None:
    p.add_argument("--only", nargs="+", metavar="ID", help="check ids (or id prefixes) to run")
    p.add_argument("--quick", action="store_true", help="smaller budgets (CI)")
    p.add_argument("--all", action="store_true", help="include checks marked slow")
    p.add_argument("--json", action="store_true", help="print JSON, one object per check")
    p.add_argument(
        "--record", action="store_true",
        help="pin the measured numbers as references (paper_checks/references.json)",
    )


def run(args) -> int:
    if args.record and args.quick:
        print("--record pins the full-budget numbers; it cannot be combined with --quick",
              file=sys.stderr)
        return 2
    root = project_root()
    checks.load_check_modules(root / "paper_checks")
    specs = checks.select(args.only, include_slow=args.all)

    def progress(spec):
        if not args.json:
            print(f"  running {spec.check_id} ...", file=sys.stderr, flush=True)

    results = checks.run_checks(specs, quick=args.quick, progress=progress)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        table = checks.results_frame(results).drop(columns="measured")
        refs = root / "paper_checks" / "references.json"
        if refs.exists() and not args.record:
            table = table.merge(checks.compare_to_references(results, refs), on="check_id")
        print(table.to_string(index=False))
    if args.record:
        path = checks.record_references(results, root / "paper_checks" / "references.json")
        print(f"recorded {len(results)} references in {path}", file=sys.stderr)
    failed = [r.check_id for r in results if r.failed]
    if failed:
        print(f"FAILED theorem checks or errors: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
