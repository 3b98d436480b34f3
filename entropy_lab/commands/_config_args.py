"""Command-line flags generated from a frozen config dataclass: one ``--field-name`` per field,
its help the field's docstring (units included) and its default, its allowed values those of
the field's :func:`~entropy_lab.validation.choice_field` (the ones ``__post_init__`` checks).

    add_config_arguments(parser, SimConfig)                 # --steps, --seeds, --lr, ...
    overrides = config_overrides(args, SimConfig)           # only the flags the user gave

Every flag's argparse default is None, so "not given" is distinguishable and the config's own
default (or a preset's) applies; the help still shows that default. A field without a docstring
is an error here, so a new field cannot reach the CLI undocumented. A few choices show in the
flag (``--mode {sampled,expected}``); a registry's longer list is written out in the help.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap

from entropy_lab.validation import field_choices

_SCALARS = {"int": int, "float": float, "str": str}
# At most this many choices are shown in the flag itself as {a,b,...}; more are listed in the help.
INLINE_CHOICES = 6


def field_docs(cls) -> dict[str, str]:
    """``{field name: docstring}`` from the string literal after each field in ``cls``'s body."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    docs = {}
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)):
            text = " ".join(inspect.cleandoc(nxt.value.value).split())
            docs[node.target.id] = text.replace("``", "")  # reST literals read as plain text
    return docs


def _kind(annotation: str) -> tuple[type | None, bool]:
    """(scalar type, is a tuple of them) from a field's annotation string."""
    parts = [p.strip() for p in annotation.split("|") if p.strip() != "None"]
    if len(parts) == 2 and parts[1] == f"tuple[{parts[0]}, ...]":
        parts = parts[1:]  # ``float | tuple[float, ...]``: one value or several (see below)
    text = parts[0] if len(parts) == 1 else annotation
    if text.startswith("tuple[") and text.endswith(", ...]"):
        return _SCALARS.get(text[len("tuple["):-len(", ...]")]), True
    if text == "bool":
        return bool, False
    return _SCALARS.get(text), False


def _default_text(value) -> str:
    if isinstance(value, tuple):
        return " ".join(map(str, value)) if value else "()"
    return repr(value) if isinstance(value, str) else str(value)


def _spelled(scalar, spelling):
    def parse(text):
        return spelling(scalar(text))

    parse.__name__ = scalar.__name__  # argparse names the type in its errors
    return parse


def choice_kwargs(choices, metavar: str = "NAME") -> tuple[dict, str | None]:
    """``add_argument`` keywords for a flag with these allowed values (None: any value), and
    the text listing them for the help (None where the flag itself shows them).

    Up to ``INLINE_CHOICES`` show in the flag (``--mode {sampled,expected}``); a longer list
    (a registry's names) keeps ``metavar`` and is listed in the help: ``"one of: a, b, ..."``.
    """
    if choices is None:
        return {"metavar": metavar}, None
    choices = list(choices)
    if len(choices) <= INLINE_CHOICES:
        return {"choices": choices, "metavar": None}, None  # argparse shows {a,b,...}
    return {"choices": choices, "metavar": metavar}, "one of: " + ", ".join(map(str, choices))


def choice_argument(parser, flag: str, choices, help_text: str, metavar: str = "NAME", **kw):
    """A flag (not a config field) whose values come from a registry: listed as for fields."""
    extra, listing = choice_kwargs(choices, metavar)
    help_text = f"{help_text}; {listing}" if listing else help_text
    return parser.add_argument(flag, help=help_text.replace("%", "%%"), **extra, **kw)


def add_config_arguments(parser, cls, *, skip=(), aliases=None, defaults=None,
                         extra_default=None) -> list[str]:
    """Add one flag per field of ``cls`` (not in ``skip``); return the field names added.

    Args:
        aliases: ``{field: ["--old-flag", ...]}`` extra spellings kept for existing scripts.
        defaults: ``{field: value}`` the default to show where it differs from the dataclass's
            (a preset's).
        extra_default: a callable ``field -> str | None`` adding text after the default (e.g. the
            other preset's value).
    Raises:
        TypeError: a field has no docstring or a type the CLI cannot parse.
    """
    docs, aliases, defaults = field_docs(cls), aliases or {}, defaults or {}
    added = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if f.name not in docs:
            raise TypeError(f"{cls.__name__}.{f.name} has no docstring: document it to expose it")
        scalar, many = _kind(str(f.type))
        if scalar is None:
            raise TypeError(f"{cls.__name__}.{f.name}: annotation {f.type!r} has no CLI form; "
                            f"skip it or give it an int, float, str, bool or tuple type")
        default = defaults.get(f.name, f.default)
        text = f"default: {_default_text(default)}"
        more = extra_default(f.name) if extra_default else None
        extra, listing = choice_kwargs(field_choices(f),
                                       f.metadata.get("metavar") or f.name.upper())
        notes = "; ".join(n for n in (listing, text, more) if n)
        flags = ["--" + f.name.replace("_", "-"), *aliases.get(f.name, [])]
        kw = dict(dest=f.name, default=None, help=f"{docs[f.name]} ({notes})".replace("%", "%%"),
                  **extra)
        spelling = f.metadata.get("spelling")  # other accepted spellings -> the canonical one
        parse = scalar if spelling is None else _spelled(scalar, spelling)
        if scalar is bool:
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, **kw)
        elif many:
            parser.add_argument(*flags, type=parse, nargs="+", **kw)
        else:
            parser.add_argument(*flags, type=parse, **kw)
        added.append(f.name)
    return added


def config_overrides(args, cls, skip=()) -> dict:
    """The fields of ``cls`` given on the command line (``None`` = not given); lists -> tuples."""
    out = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None) if f.name not in skip else None
        if value is not None:
            if isinstance(value, list):  # a scalar-or-tuple field given one value: the scalar
                scalar_too = not str(f.type).startswith(("tuple", "None"))
                value = value[0] if scalar_too and len(value) == 1 else tuple(value)
            out[f.name] = value
    return out
