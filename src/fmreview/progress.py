"""Progress reporting and the clock, both injectable (STYLE.md 11).

Long work reports through a :class:`Reporter`. The default draws rich progress bars on a
terminal; :class:`NullReporter` is used for ``--quiet``, non-TTY output and tests.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Protocol, TypeVar

T = TypeVar("T")

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The default clock: timezone-aware UTC now."""
    return datetime.now(UTC)


class Task(Protocol):
    def advance(self, n: int = 1) -> None: ...
    def update(self, *, total: int | None = None, description: str | None = None) -> None: ...


class Reporter(Protocol):
    """What long-running library code needs from a progress display."""

    def task(self, description: str, total: int | None = None) -> AbstractContextManager[Task]: ...
    def track(
        self, items: Iterable[T], description: str, total: int | None = None
    ) -> Iterator[T]: ...
    def log(self, message: str) -> None: ...


class _NullTask:
    def advance(self, n: int = 1) -> None:
        pass

    def update(self, *, total: int | None = None, description: str | None = None) -> None:
        pass


class _NullCtx(AbstractContextManager[Task]):
    def __enter__(self) -> Task:
        return _NullTask()

    def __exit__(self, *exc: object) -> None:
        return None


class NullReporter:
    """A reporter that shows nothing (quiet mode, tests, non-TTY)."""

    def __init__(self, *, messages: list[str] | None = None) -> None:
        self.messages = messages if messages is not None else []

    def task(self, description: str, total: int | None = None) -> AbstractContextManager[Task]:
        return _NullCtx()

    def track(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        yield from items

    def log(self, message: str) -> None:
        self.messages.append(message)


class _RichTask:
    def __init__(self, progress, task_id) -> None:  # type: ignore[no-untyped-def]
        self._p = progress
        self._id = task_id

    def advance(self, n: int = 1) -> None:
        self._p.advance(self._id, n)

    def update(self, *, total: int | None = None, description: str | None = None) -> None:
        kw: dict[str, object] = {}
        if total is not None:
            kw["total"] = total
        if description is not None:
            kw["description"] = description
        self._p.update(self._id, **kw)


class RichReporter:
    """Rich progress bars on stderr."""

    def __init__(self, console=None) -> None:  # type: ignore[no-untyped-def]
        from rich.console import Console

        self.console = console or Console(stderr=True)

    def _progress(self):  # type: ignore[no-untyped-def]
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        return Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )

    def task(self, description: str, total: int | None = None) -> AbstractContextManager[Task]:
        reporter = self

        class _Ctx(AbstractContextManager[Task]):
            def __enter__(self_inner) -> Task:
                self_inner.p = reporter._progress()
                self_inner.p.__enter__()
                tid = self_inner.p.add_task(description, total=total)
                return _RichTask(self_inner.p, tid)

            def __exit__(self_inner, *exc: object) -> None:
                self_inner.p.__exit__(*exc)

        return _Ctx()

    def track(self, items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
        if total is None and hasattr(items, "__len__"):
            total = len(items)  # type: ignore[arg-type]
        with self.task(description, total) as t:
            # advance in steps: one rich update per item costs more than parsing a
            # record on large imports; the bar refreshes only a few times a second anyway
            pending = 0
            for item in items:
                yield item
                pending += 1
                if pending >= 256:
                    t.advance(pending)
                    pending = 0
            if pending:
                t.advance(pending)

    def log(self, message: str) -> None:
        self.console.print(message)


def default_reporter(quiet: bool = False) -> Reporter:
    """Rich bars on a terminal, nothing when quiet or when stderr is not a TTY."""
    if quiet or not sys.stderr.isatty():
        return NullReporter()
    return RichReporter()
