"""Progress of the slow steps, reported to whoever listens (the CLI draws a Rich bar).

The library only announces steps and advances them; it never draws. The
default reporter does nothing, so library users and tests pay nothing.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Iterator

from .signals import pause_for_tests


class Reporter:
    """Does nothing; the CLI subclasses it to draw."""

    def begin(self, step: str, total: float | None = None) -> None:
        pass

    def advance(self, amount: float = 1.0) -> None:
        pass

    def end(self) -> None:
        pass


_current: ContextVar[Reporter] = ContextVar("skprune_progress", default=Reporter())


def reporter() -> Reporter:
    return _current.get()


@contextlib.contextmanager
def reporting(to: Reporter) -> Iterator[Reporter]:
    token = _current.set(to)
    try:
        yield to
    finally:
        _current.reset(token)


@contextlib.contextmanager
def step(name: str, total: float | None = None) -> Iterator[Reporter]:
    pause_for_tests(name)
    current = reporter()
    current.begin(name, total)
    try:
        yield current
    finally:
        current.end()
