"""The web app's screening queue, with its assignments kept in the store.

The screening engine takes a web user's first vote on a work only when it served them that
work (blinding and dual screening rest on it), and it keeps what it served in memory. The
app's queue (:class:`StoredQueue`, a :class:`~fmreview.screening.engine.ScreeningEngine`)
also writes each new assignment to the ``web_assignments`` table (one row per reviewer and
stage), and a new app reads them back: after a restart a reviewer is served the work on
their screen again and their vote on it is taken, instead of a 403 until they reload.

Writes are batched: a served work is written within ``flush_interval`` seconds by a
background thread (one transaction for all of them; on SQLite through the app's single
writer), and at once when the app shuts down. A write per served work cost ~0.3 ms of CPU
a request under ``benchmarks/load.py``; a crash loses at most the last interval's
assignments, whose reviewers are then served a new work (their vote on the old one is
refused as before, and nothing else is lost: votes are written before they are answered).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fmreview.screening.engine import QueueItem, ScreeningEngine
from fmreview.store import schema
from fmreview.web.ranking_process import RankingProcess
from fmreview.web.writer import WriterClosed

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (stage, reviewer)

_T = schema.web_assignments
_D = schema.decisions
#: The stored assignments a reviewer has not voted on yet.
_OPEN = sa.select(_T).where(
    ~sa.exists().where(
        _D.c.work_id == _T.c.work_id, _D.c.stage == _T.c.stage, _D.c.reviewer == _T.c.reviewer
    )
)


def _upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (stage, reviewer) DO UPDATE, in the store's dialect."""
    ins = (postgresql if dialect == "postgresql" else sqlite).insert(_T)
    cols = ("work_id", "phase", "rank", "score", "served_at")
    return ins.on_conflict_do_update(
        index_elements=["stage", "reviewer"], set_={c: ins.excluded[c] for c in cols}
    )


class StoredQueue(ScreeningEngine):
    """A :class:`ScreeningEngine` whose assignments outlive the process (module docstring).

    Parameters
    ----------
    store, **kwargs
        As for :class:`ScreeningEngine`.
    run_write
        Runs a write function and returns its result (the app's ``Writer.call``: the single
        writer thread on SQLite).
    flush_interval
        Seconds between batched writes of new assignments (0: written within the request).
    ranking_process
        With ``ranking="background"`` and a review folder: refit in a child process
        (:mod:`fmreview.web.ranking_process`) instead of a thread of the app.
    """

    def __init__(
        self,
        store: Any,
        *,
        run_write: Any = None,
        flush_interval: float = 0.5,
        ranking_process: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(store, **kwargs)
        folder = getattr(store, "folder", None)
        self._process: RankingProcess | None = None
        if ranking_process and self.ranking_mode == "background" and folder is not None:
            self._process = RankingProcess(folder)
        self._run_write = run_write or (lambda fn: fn())
        self.flush_interval = flush_interval
        self._written: dict[Key, int] = {}  # what the table holds (as far as we know)
        self._dirty: dict[Key, QueueItem] = {}
        self._dirty_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._upsert = _upsert(store.dialect)
        self._flusher: threading.Thread | None = None
        self._seat(self._load())

    # ------------------------------------------------------------------ reading back
    def _load(self) -> dict[Key, QueueItem]:
        with self.store.connect() as conn:
            rows = conn.execute(_OPEN).all()
        out = {}
        for r in rows:
            key = (str(r.stage), str(r.reviewer))
            self._written[key] = int(r.work_id)
            out[key] = QueueItem(
                work_id=int(r.work_id),
                stage=str(r.stage),
                rank=r.rank,
                score=r.score,
                phase=str(r.phase),
                remaining=0,
            )
        return out

    def _seat(self, restored: dict[Key, QueueItem]) -> None:
        """Give the engine back the stored assignments: as served, and leased anew (so they
        count against serving the same work to more reviewers than it needs)."""
        until = self.clock() + self.lease_seconds
        with self._lock:
            for key, item in restored.items():
                # the engine's own state of what it served (see ScreeningEngine.next_for)
                self._served[key] = item
                self._leases[key] = (item.work_id, until)

    def next_for(self, reviewer: str, stage: str = "title_abstract") -> QueueItem | None:
        key = (stage, reviewer)
        item = super().next_for(reviewer, stage)
        if item is not None and self._written.get(key) != item.work_id:
            self._written[key] = item.work_id
            with self._dirty_lock:
                self._dirty[key] = item
                if self.flush_interval > 0 and self._flusher is None:
                    self._flusher = threading.Thread(
                        target=self._flush_loop, name="fmreview-assignments", daemon=True
                    )
                    self._flusher.start()
            if self.flush_interval <= 0:
                self.flush()
        return item

    # ------------------------------------------------------------------ ranking
    def _compute_ranking(self) -> Any:
        """The engine's ranking, computed in the child process when there is one (it holds
        no lock of the app and hardly the GIL while it waits); the engine's ``refit``
        applies it as it applies its own."""
        if self._process is None:
            return super()._compute_ranking()
        ranker = self._ranker
        return self._process.compute(ranker.config if ranker is not None else self.config)

    # ------------------------------------------------------------------ writing
    def flush(self) -> int:
        """Write the assignments served since the last flush (one transaction); how many."""
        with self._dirty_lock:
            batch, self._dirty = self._dirty, {}
        if not batch:
            return 0
        now = datetime.now(UTC)
        rows = [
            {
                "stage": stage,
                "reviewer": reviewer,
                "work_id": item.work_id,
                "phase": item.phase,
                "rank": item.rank,
                "score": item.score,
                "served_at": now,
            }
            for (stage, reviewer), item in batch.items()
        ]

        def write() -> None:
            with self.store.begin() as conn:
                conn.execute(self._upsert, rows)

        try:
            self._run_write(write)
        except Exception:
            with self._dirty_lock:  # kept for the next flush, unless newer ones came
                for key, item in batch.items():
                    self._dirty.setdefault(key, item)
            raise
        return len(rows)

    #: Idle intervals after which the background writer stops (the next serve restarts it).
    IDLE_ROUNDS = 120
    #: Failed writes in a row after which the background writer stops until the next serve
    #: (a store that went away must not keep a thread retrying and logging for ever).
    FAILED_ROUNDS = 10

    def _flush_loop(self) -> None:
        idle = failed = 0
        while not self._stopped:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if getattr(self.store, "closed", False):  # the review was closed: nothing to do
                break
            try:
                idle = 0 if self.flush() else idle + 1
                failed = 0
            except WriterClosed:  # the app's writer has stopped: nothing can be stored
                break
            except Exception:  # noqa: BLE001 - retried at the next interval
                failed += 1
                if failed == 1:
                    log.exception("storing the web app's assignments failed; retrying")
                if failed >= self.FAILED_ROUNDS:
                    log.error(
                        "storing the web app's assignments failed %d times in a row; "
                        "trying again at the next served work",
                        failed,
                    )
                    break
            if idle >= self.IDLE_ROUNDS:
                with self._dirty_lock:
                    if not self._dirty:  # else a serve just counted on this thread
                        self._flusher = None
                        return
        if not self._stopped:
            with self._dirty_lock:
                self._flusher = None

    def close(self) -> None:
        """Write what is pending, stop the background writes and the ranking process."""
        if self._process is not None:
            self._process.close()
        self._stopped = True
        self._wake.set()
        flusher = self._flusher
        if flusher is not None:
            flusher.join(timeout=30)
        self.flush()
