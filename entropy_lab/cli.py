"""`entropy-lab` — the command line.

    entropy-lab check [--only ID ...] [--quick] [--all] [--record] [--json]
    entropy-lab figures [--only NAME ...]
    entropy-lab reproduce [--quick]
    entropy-lab sim --problem ID --algo NAME --steps S --seeds B [--set key=value ...] --out FILE
    entropy-lab sweep --problem ID --grid key=v1,v2 ... [--backend local|ray [--address A]]
        [--store DIR] --out FILE
    entropy-lab harness --task T --algo NAME --precision bf16 --steps S [--model PATH]
    entropy-lab harness-study [--steps S] [--seeds N] [--device cuda] --out DIR
    entropy-lab bench [--only NAME ...] [--json]

Each subcommand lives in ``entropy_lab/commands/<name>.py`` with ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their command runs, so ``entropy-lab check``
never pays for importing transformers.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap

from entropy_lab.validation import InputError

COMMANDS = {
    "check": "run the paper checks and print the verdict table",
    "figures": "regenerate the figures (figures/*.py)",
    "reproduce": "every fast check + every figure + paper_checks/REPORT.md (the main job)",
    "sim": "train tabular policies with exact per-step theory; write a DataFrame",
    "sweep": "a grid of sim runs (locally or on Ray), cells stored as they finish",
    "harness": "RL on a small transformer with LoRA, in bf16 / fp16 / fp32",
    "harness-study": "the harness study: algorithms × precisions × seeds, resumable",
    "bench": "speed and memory benchmarks, each with its ratio against a reference",
}


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, wrapped at spaces only (never inside ``cpu-tiny`` or
    ``fp32-logprobs``)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _command_module(name: str):
    return importlib.import_module(f"entropy_lab.commands.{name.replace('-', '_')}")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entropy-lab",
        description="Exact, checkable entropy dynamics of policy-gradient RL for language models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    wanted = next((a for a in (argv or []) if a in COMMANDS), None)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=HelpFormatter)
        # Only the chosen command's module is imported (and so only its arguments are known).
        if name == wanted:
            _command_module(name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(_command_module(args.command).run(args) or 0)
    except (InputError, FileNotFoundError, FileExistsError) as exc:
        print(f"entropy-lab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"entropy-lab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
