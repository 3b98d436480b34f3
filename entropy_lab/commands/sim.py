"""`entropy-lab sim`: train tabular policies with exact per-step theory; write a DataFrame.

    entropy-lab sim --problem tree/calibrated --algo grpo --steps 300 --seeds 32 \
        [--lr 0.1] [--mode sampled|expected] [--set eps_high=0.28 --set optimizer=adam ...] \
        [--out run.parquet] [--force] [--metrics-style native|verl|trl]

Every SimConfig field is a flag (``--n-prompts 8``; its docstring and default in ``--help``).
``--set key=value`` takes SimConfig fields, ``problem.<key>`` builder overrides and algorithm
hyperparameters (values are parsed as Python literals where possible: 0.3, 4, True, None).
A run that stops on non-finite logits still writes the completed rows to ``--out`` and exits 1.
"""

from __future__ import annotations

import sys

from entropy_lab.commands._sets import add_set_argument, parse_sets


def add_arguments(p) -> None:
    from entropy_lab.algorithms import preset_names
    from entropy_lab.commands._config_args import add_config_arguments, choice_argument
    from entropy_lab.problems import problem_names
    from entropy_lab.sim.config import SimConfig

    choice_argument(p, "--problem", problem_names(),
                    'problem preset (docs/worlds.md, "Problems")', metavar="ID", required=True)
    choice_argument(p, "--algo", preset_names(),
                    'algorithm preset (docs/algorithms.md, "Presets")', required=True)
    add_config_arguments(p.add_argument_group("simulation (SimConfig fields)"), SimConfig)
    add_set_argument(p, "SimConfig fields, problem.<key> or algorithm hyperparameters")
    p.add_argument("--out", metavar="FILE", help="write the frame (.parquet or .csv)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.add_argument("--metrics-style", default="native", choices=("native", "verl", "trl"),
                   help="metric names in --out: ours, or verl's / TRL's where they have one "
                        "(docs/algorithms.md, \"Metric names\")")


def summary(df) -> str:
    """First and last step, averaged over seeds: entropy, J and the pass@ columns."""
    cols = ["entropy", "J"] + [c for c in df.columns if c.startswith("pass@")
                               and not c.endswith("_est")]
    first, last = df.step.min(), df.step.max()
    table = df[df.step.isin([first, last])].groupby("step")[cols].mean()
    seeds = df.seed.nunique()
    return f"mean over {seeds} seed(s):\n" + table.to_string(float_format=lambda x: f"{x:.4f}")


def run(args) -> int:
    from entropy_lab.commands._config_args import config_overrides
    from entropy_lab.sim import SimulationError, simulate
    from entropy_lab.sim.config import SimConfig
    from entropy_lab.sim.io import check_output, write_frame

    overrides = config_overrides(args, SimConfig)
    overrides.update(parse_sets(args.set))
    if args.out:
        check_output(args.out, args.force)  # fail before the run, not after it
    try:
        df = simulate(args.problem, args.algo, **overrides)
    except SimulationError as exc:
        print(f"entropy-lab sim: stopped: {exc}", file=sys.stderr)
        if args.out and len(exc.partial):
            path = write_frame(exc.partial, args.out, force=args.force)
            print(f"wrote the {len(exc.partial)} completed rows to {path}", file=sys.stderr)
        return 1
    print(summary(df))
    if args.out:
        from entropy_lab.analysis.metric_names import rename_metrics

        path = write_frame(rename_metrics(df, args.metrics_style), args.out, force=args.force)
        print(f"wrote {len(df)} rows to {path}")
    return 0
