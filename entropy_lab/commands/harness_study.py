"""`entropy-lab harness-study`: the committed CPU study of the transformer harness, resumable.

    entropy-lab harness-study --out results/harness_study --jobs 2   # the full grid, 2 cores
    entropy-lab harness-study --steps 2 --seeds 1 --out /tmp/s        # a smoke run
    entropy-lab harness-study --device cuda --size 4 --out runs/gpu   # the same study, larger

Kill it at any time and rerun the same command: finished runs are skipped and a partial run
resumes from its last checkpoint (``entropy_lab.harness.study``).
"""

from __future__ import annotations


def add_arguments(p) -> None:
    from entropy_lab.harness.study import ALGOS, PRECISIONS

    p.add_argument("--out", default="results/harness_study", metavar="DIR")
    p.add_argument("--steps", type=int, default=200, help="RL steps per run (and per phase)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--algos", nargs="+", default=list(ALGOS))
    p.add_argument("--precisions", nargs="+", default=list(PRECISIONS))
    p.add_argument("--no-extra", action="store_true", help="skip dapo × fp32_logprobs")
    p.add_argument("--no-sequential", action="store_true",
                   help="skip the task A → B runs and their fresh task-B baselines")
    p.add_argument("--device", default="cpu")
    p.add_argument("--size", type=int, default=1, help="the harness model-size dial")
    p.add_argument("--threads", type=int, default=1, help="torch threads per job")
    p.add_argument("--jobs", type=int, default=1, help="runs at once, one process each")
    p.add_argument("--engine", default=None, metavar="NAME",
                   help="the sampler engine of every run (default: "
                        "entropy_lab.harness.engine.DEFAULT_ENGINE)")


def run(args) -> int:
    import sys

    import torch

    from entropy_lab.harness.engine import DEFAULT_ENGINE
    from entropy_lab.harness.study import EXTRA, FRESH, SEQUENTIAL, run_study, study_runs

    torch.set_num_threads(args.threads)
    runs = study_runs(args.steps, args.seeds, tuple(args.algos), tuple(args.precisions),
                      extra=() if args.no_extra else EXTRA,
                      sequential=() if args.no_sequential else SEQUENTIAL,
                      fresh=() if args.no_sequential else FRESH,
                      device=args.device, size=args.size, engine=args.engine or DEFAULT_ENGINE)
    df = run_study(args.out, runs, command="entropy-lab " + " ".join(sys.argv[1:]),
                   jobs=args.jobs, threads=args.threads)
    n_runs = df["run_id"].nunique() if len(df) else 0
    print(f"{n_runs} runs, {len(df)} rows: {args.out}/study.csv.gz")
    return 0
