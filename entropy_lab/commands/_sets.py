"""The ``--set KEY=VALUE ...`` option shared by `entropy-lab sim` and `entropy-lab harness`."""

from __future__ import annotations

import ast

from entropy_lab.validation import fail


def add_set_argument(p, help_text: str) -> None:
    """``--set a=1 b=x`` and ``--set a=1 --set b=x`` both work (values accumulate)."""
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help=help_text)


def parse_sets(items: list[str]) -> dict:
    """``["eps_high=0.3", "optimizer=adam"]`` -> ``{"eps_high": 0.3, "optimizer": "adam"}``.

    Values are Python literals where they parse as one (numbers, None, True), else strings.
    """
    out = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise fail("--set", item, "KEY=VALUE")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out[key.strip()] = value
    return out
