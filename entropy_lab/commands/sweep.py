"""`entropy-lab sweep`: a grid of `sim` runs, here or on Ray; one concatenated DataFrame.

    entropy-lab sweep --problem bandit/calibrated --grid algorithm=grpo,rloo --grid lr=0.1,0.3 \
        [--steps 200 --seeds 32 --mode sampled ...] [--set group_size=16 ...] \
        [--backend local|ray] [--address auto] [--store cells/] --out sweep.parquet [--force]

``--grid KEY=V1,V2,...`` adds a grid axis (the cells are the Cartesian product; values are Python
literals where they parse as one); every SimConfig field is a flag (as in ``entropy-lab sim``)
and, like ``--set`` overrides, is shared by every cell. ``--store DIR``
saves each cell as it finishes, and a rerun with the same DIR runs only the cells not yet saved.
``--backend ray`` runs each cell as a Ray task: on a local Ray, or on the cluster at ``--address``.
"""

from __future__ import annotations

import ast

from entropy_lab.commands._sets import add_set_argument, parse_sets
from entropy_lab.validation import fail


def add_arguments(p) -> None:
    from entropy_lab.algorithms import preset_names
    from entropy_lab.commands._config_args import add_config_arguments, choice_argument
    from entropy_lab.problems import problem_names
    from entropy_lab.sim.config import SimConfig

    choice_argument(p, "--problem", problem_names(),
                    'problem preset of every cell (docs/worlds.md, "Problems")', metavar="ID",
                    required=True)
    p.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2",
                   help="a grid axis (repeat for more axes)")
    choice_argument(p, "--algo", preset_names(), "the algorithm preset of cells without one "
                    "in --grid")
    add_config_arguments(p.add_argument_group("every cell (SimConfig fields)"), SimConfig)
    add_set_argument(p, "overrides shared by every cell")
    p.add_argument("--backend", choices=("local", "ray"), default="local")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--store", metavar="DIR", help="save cells as they finish; reruns skip them")
    p.add_argument("--out", required=True, metavar="FILE", help="the frame (.parquet or .csv)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")


def parse_grid(items: list[str]) -> dict:
    """``["lr=0.1,0.3", "algorithm=grpo"]`` -> ``{"lr": [0.1, 0.3], "algorithm": ["grpo"]}``."""
    grid = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or not raw:
            raise fail("--grid", item, "KEY=V1,V2,...")
        grid[key.strip()] = [_literal(v.strip()) for v in raw.split(",")]
    return grid


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run(args) -> int:
    from entropy_lab.commands._config_args import config_overrides
    from entropy_lab.sim import sweep
    from entropy_lab.sim.config import SimConfig
    from entropy_lab.sim.io import check_output, write_frame

    check_output(args.out, args.force)  # fail before the sweep, not after it
    if args.address is not None and args.backend != "ray":
        raise fail("--address", args.address, "only with --backend ray")
    common = config_overrides(args, SimConfig)
    common.update(parse_sets(args.set))
    if args.algo is not None:
        common["algorithm"] = args.algo
    backend = None
    if args.backend == "ray":
        from entropy_lab.sim.ray_backend import RayBackend

        backend = RayBackend(address=args.address)
    df = sweep(parse_grid(args.grid), problem=args.problem, backend=backend, store=args.store,
               **common)
    cells = len(df.attrs["grid"])
    if args.store:
        print(f"{df.attrs['from_store']} of {cells} cells from {args.store}")
    path = write_frame(df, args.out, force=args.force)
    print(f"wrote {len(df)} rows ({cells} cells) to {path}")
    return 0
