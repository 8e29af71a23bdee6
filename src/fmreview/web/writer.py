"""One writer for the store: every write of the web app goes through :class:`Writer`.

SQLite allows one writer at a time; many request threads each opening a write transaction
would queue on the database lock (``busy_timeout``) and could time out under load. As in
datasette's ``execute_write_fn``, the app therefore hands each write — a function that opens
its own ``store.begin()`` transaction — to a single thread that runs them one after another.
Decisions are append-only, so two reviewers voting on the same work at the same instant are
two inserts, run in turn: both count.

PostgreSQL handles concurrent transactions itself: the write runs in the calling thread.

A write that raises rolls its transaction back (``store.begin``) and the exception reaches
the caller; the writer thread carries on with the next write.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class WriterClosed(RuntimeError):
    """Raised by :meth:`StoreWriter.submit` once the writer thread has stopped."""


class Writer:
    """Serialise writes to a store (a thread for SQLite, pass-through for PostgreSQL).

    Parameters
    ----------
    store
        The review store.
    threaded
        Force the single writer thread on (True) or off (False); default: on for SQLite.
    """

    def __init__(self, store: Any, *, threaded: bool | None = None) -> None:
        self.store = store
        self.threaded = (store.dialect == "sqlite") if threaded is None else threaded
        self.writes = 0
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        if self.threaded:
            self._thread = threading.Thread(target=self._loop, name="fmreview-writer", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fn, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                result = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)
            else:
                self.writes += 1
                fut.set_result(result)

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Queue ``fn`` (which opens its own transaction); its result arrives in the future."""
        fut: Future[T] = Future()
        if not self.threaded:
            try:
                fut.set_result(fn())
                with self._lock:
                    self.writes += 1
            except BaseException as exc:  # noqa: BLE001
                fut.set_exception(exc)
            return fut
        if self._thread is None or not self._thread.is_alive():
            raise WriterClosed("the store writer is closed")
        self._queue.put((fn, fut))
        return fut

    async def run(self, fn: Callable[[], T]) -> T:
        """Await ``fn`` from async code: through the writer thread (SQLite), or in a worker
        thread of the event loop's pool (PostgreSQL), never blocking the loop."""
        if self.threaded:
            return await asyncio.wrap_future(self.submit(fn))
        from starlette.concurrency import run_in_threadpool

        result = await run_in_threadpool(fn)
        with self._lock:
            self.writes += 1
        return result

    def call(self, fn: Callable[[], T], timeout: float | None = 60.0) -> T:
        """Run ``fn`` through the writer and wait for its result (or its exception)."""
        return self.submit(fn).result(timeout=timeout)

    def close(self) -> None:
        """Finish the queued writes and stop the thread."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=30)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
