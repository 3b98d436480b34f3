"""One generic registry for every pluggable family (losses, advantages, problems, checks, ...).

    LOSSES = Registry("loss")

    @LOSSES.register("ppo")
    def ppo_loss(...): ...

    LOSSES.get("ppo")        # -> the function
    LOSSES.get("ppx")        # KeyError: unknown loss 'ppx'; choose one of: 'pg', 'ppo', ...

Tests iterate over ``registry.names()`` so a new entry gets the family's invariant checks for free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from entropy_lab.validation import InputError

T = TypeVar("T")


class UnknownNameError(KeyError, InputError):
    """Raised by :meth:`Registry.get` for a name that was never registered.

    It is both a ``KeyError`` (a failed lookup) and an :class:`InputError` (a ``ValueError``: bad
    user input), so callers may catch either.
    """

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly.
        return str(self.args[0])


class Registry(Generic[T]):
    """A name -> object map with a decorator to fill it and errors that list the choices.

    Args:
        kind: what the entries are, used in error messages ("loss", "advantage", "problem").
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name``; without ``obj`` return a decorator.

        Raises:
            ValueError: ``name`` is empty, not a string, or already registered.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = entry
            return entry

        return add if obj is None else add(obj)

    def get(self, name: str) -> T:
        """The entry called ``name``; an :class:`UnknownNameError` lists the valid names."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            choices = ", ".join(repr(n) for n in self.names()) or "(none registered)"
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; choose one of: {choices}"
            ) from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._entries)

    def unregister(self, name: str) -> T:
        """Remove and return an entry (for tests that register temporary entries)."""
        self.get(name)
        return self._entries.pop(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"
