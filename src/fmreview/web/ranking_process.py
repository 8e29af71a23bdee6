"""The web app's active-learning refit, run in a child process.

A refit (read every work and decision, build or load the feature matrix, fit the ranker,
score every work) costs ~0.4-0.9 s of CPU over 6,300 works, ~1.5-2 s of wall time on a
busy machine. In a thread of the app it holds the GIL for most of that time, and every
request waits behind it: traced under ``benchmarks/load.py`` on PostgreSQL, the 4.5% of
requests answered while a refit ran held 114 of the 200 slowest (their p99 464 ms, the
others' 200 ms). In a child process it competes for a core only through the
operating system's scheduler, and at a lower priority (:data:`NICE`): the requests go first.

:class:`RankingProcess` keeps one child (``spawn``: the app has threads, which ``fork``
would copy half-way), started on the first refit. The child opens the review from its
folder (the same database, SQLite file or PostgreSQL server) and keeps the store and the
ranker between refits, so the feature matrix is built once. It runs the screening
engine's own :func:`~fmreview.screening.engine.compute_ranking`: the order is the one a
refit in the app would give on the same decisions. The app applies it when it arrives
(:meth:`fmreview.web.assignments.StoredQueue.refit`).

A review without a folder (an in-memory store: tests) has nothing a child could open;
its refits stay in a thread.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: How much lower the child's scheduling priority is than the app's (``nice`` steps).
NICE = 5

# In the child: folder -> (store, {config key: ranker}), kept between refits.
_CHILD: dict[str, tuple[Any, dict[str, Any]]] = {}


def _child_init() -> None:
    try:
        os.nice(NICE)
    except OSError:  # pragma: no cover - not permitted: run at the app's priority
        pass
    # import the engine now (a second or two), not at the first refit
    import fmreview.screening.engine  # noqa: F401


def _child_ranking(folder: str, config: Any) -> Any:
    """In the child: the ranking of the review in ``folder`` with ``config``."""
    import json

    from fmreview.screening.engine import compute_ranking
    from fmreview.screening.ranking import ActiveRanker
    from fmreview.store import Store

    entry = _CHILD.get(folder)
    if entry is None:
        entry = _CHILD[folder] = (Store.open(folder, upgrade=False), {})
    store, rankers = entry
    store.reload_protocol()  # an amended protocol is read again from the folder
    key = json.dumps(config.to_meta(), sort_keys=True, default=str)
    ranker = rankers.get(key)
    if ranker is None:
        rankers.clear()  # one configuration at a time: an amendment replaces it
        ranker = rankers[key] = ActiveRanker(store, config=config)
    return compute_ranking(store, ranker)


class RankingProcess:
    """Computes rankings of the review in ``folder`` in one child process (module
    docstring). Thread-safe; :meth:`close` stops the child."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = str(Path(folder).resolve())
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the ranking process is closed")
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_child_init,
                )
            return self._pool

    def compute(self, config: Any, timeout: float | None = 600.0) -> Any:
        """The engine's ``Ranking`` (or None: nothing to learn from yet), computed in the
        child; its exceptions are raised here. A child that died is replaced at the next
        call (this one raises)."""
        pool = self._executor()
        try:
            return pool.submit(_child_ranking, self.folder, config).result(timeout=timeout)
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
