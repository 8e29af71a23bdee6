"""The living update: search again since the last retrieval, import, re-run the stages.

:func:`update` is what cron or a systemd timer runs (``fmreview update``):

1. take the review's lock (one update at a time);
2. per source, search from the last *successful* retrieval date minus the protocol's
   ``search.overlap_days`` (a source never searched gets its full date range);
3. run the pipeline stages the integrator registered (dedupe, screening ranking,
   extraction, report), each a callback ``(store, run) -> counts``;
4. record a new row in ``versions`` (the PRISMA "previous review" arm and the "what
   changed" section are derived from these rows).

A stage that fails stops the update without recording a version; a source that fails is
retried from the same date next time, the update still records a version from the sources
that worked, and the call raises so the exit status is non-zero.

The lock is :mod:`filelock` when it is installed (an OS lock, released by the kernel when
the process dies); otherwise an ``O_CREAT | O_EXCL`` lock file holding the owner's pid,
host and start time, taken over when that process is gone or the file is older than
``stale_after`` seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from fmreview.errors import FmreviewError, SourceError, StoreError
from fmreview.progress import NullReporter, Reporter
from fmreview.search.http import HttpClient
from fmreview.search.runner import run_search
from fmreview.search.sources import enabled_sources
from fmreview.store import schema

#: A pipeline stage: called with the store and the update's run; returns counts (or None).
StageCallback = Callable[[Any, Any], Mapping[str, Any] | None]

#: Stages ``fmreview update`` runs after the search, in order; the integrator fills this
#: (or passes ``stages=`` to :func:`fmreview.cli.search.register`).
UPDATE_STAGES: list[tuple[str, StageCallback]] = []

LOCK_FILE = ".update.lock"


# ----------------------------------------------------------------------------- lock
class ReviewLock:
    """An exclusive lock on a review folder's updates.

    Parameters
    ----------
    path : Path
        The lock file (``<review>/.update.lock``).
    timeout : float
        Seconds to wait for the lock (0: fail at once).
    stale_after : float
        Age in seconds after which an ``O_EXCL`` lock file is considered abandoned.
    backend : {"auto", "filelock", "exclusive-file"}
        ``auto`` uses :mod:`filelock` when installed.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        timeout: float = 0.0,
        stale_after: float = 6 * 3600,
        backend: str = "auto",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path)
        self.sleep = sleep
        self.timeout = timeout
        self.stale_after = stale_after
        self.clock = clock
        if backend == "auto":
            try:
                import filelock  # noqa: F401

                backend = "filelock"
            except ImportError:
                backend = "exclusive-file"
        self.backend = backend
        self._lock: Any = None

    def _busy(self, owner: str = "") -> StoreError:
        return StoreError(
            f"another fmreview update is running on this review (lock {self.path}{owner}); "
            "wait for it to finish, or delete the lock file if no update is running"
        )

    def acquire(self) -> None:
        if self.backend == "filelock":
            import filelock

            self._lock = filelock.FileLock(str(self.path) + ".flock", timeout=self.timeout)
            try:
                self._lock.acquire()
            except filelock.Timeout as exc:
                raise self._busy() from exc
            return
        deadline = self.clock() + self.timeout
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = self._read()
                if self._stale(info):
                    self.path.unlink(missing_ok=True)
                    continue
                if self.clock() >= deadline:
                    owner = f", held by pid {info.get('pid')} on {info.get('host')}" if info else ""
                    raise self._busy(owner) from None
                self.sleep(0.1)
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(
                    {"pid": os.getpid(), "host": socket.gethostname(), "started": self.clock()}, fh
                )
            self._lock = fd
            return

    def _read(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def _stale(self, info: dict[str, Any]) -> bool:
        if not info:
            # unreadable or half-written: stale only when old
            try:
                return self.clock() - self.path.stat().st_mtime > self.stale_after
            except OSError:
                return True
        if self.clock() - float(info.get("started", 0)) > self.stale_after:
            return True
        if info.get("host") == socket.gethostname():
            return not _pid_alive(int(info.get("pid", 0)))
        return False

    def release(self) -> None:
        if self._lock is None:
            return
        if self.backend == "filelock":
            self._lock.release()
        else:
            self.path.unlink(missing_ok=True)
        self._lock = None

    def __enter__(self) -> ReviewLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------- versions
def record_update_version(
    store: Any,
    *,
    run_id: int,
    extra: Mapping[str, Any],
    included: Callable[[Any], list[int]] | None = None,
    note: str = "",
) -> int:
    """Append the ``versions`` row of an update and return its id.

    The state is described the way the PRISMA report reads it
    (:func:`fmreview.report.prisma.version_counts`: ``records_identified``, ``works``,
    ``studies_included``, ``reports_included``, ``max_record_id``), plus ``extra`` (the
    update's search and stage counts). A version that a stage (the report) already recorded
    in this run is completed, not duplicated.
    """
    v = schema.versions
    work_ids: list[int]
    try:
        from fmreview.report.prisma import prisma_counts, version_counts
    except ImportError:  # the report stage is not part of this build
        with store.connect() as conn:
            max_id = conn.execute(sa.select(sa.func.max(schema.records.c.id))).scalar_one()
            n = conn.execute(sa.select(sa.func.count()).select_from(schema.records)).scalar_one()
        state: dict[str, Any] = {"records_identified": int(n), "max_record_id": int(max_id or 0)}
        work_ids = []
    else:
        pc = prisma_counts(store)
        state = version_counts(store, pc)
        work_ids = list(pc.included_ids)
    if included is not None:
        work_ids = list(included(store))
    counts = json.loads(json.dumps({**state, **extra}, default=str))
    with store.begin() as conn:
        last = conn.execute(sa.select(v).order_by(v.c.id.desc()).limit(1)).first()
        if last is not None and last.run_id == run_id:
            conn.execute(
                sa.update(v)
                .where(v.c.id == last.id)
                .values(counts={**(last.counts or {}), **counts}, note=note or last.note)
            )
            return int(last.id)
        return int(
            conn.execute(
                sa.insert(v).values(
                    run_id=run_id,
                    created_at=store.clock(),
                    counts=counts,
                    included=work_ids,
                    note=note,
                )
            ).inserted_primary_key[0]
        )


# ----------------------------------------------------------------------------- update
def last_retrievals(store: Any) -> dict[str, dt.datetime | None]:
    """Per source, when its last successful (``done``) search finished."""
    s = schema.searches
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(s.c.source, sa.func.max(s.c.finished_at))
            .where(s.c.status == "done")
            .group_by(s.c.source)
        ).all()
    return {str(src): when for src, when in rows}


def update_since(store: Any, names: Sequence[str], overlap_days: int) -> dict[str, dt.date | None]:
    """The start date of each source's update search (None: never searched, search all)."""
    last = last_retrievals(store)
    out: dict[str, dt.date | None] = {}
    for n in names:
        when = last.get(n)
        out[n] = None if when is None else (when.date() - dt.timedelta(days=overlap_days))
    return out


def update(
    store: Any,
    *,
    stages: Sequence[tuple[str, StageCallback]] | None = None,
    sources: Sequence[str] | None = None,
    client: httpx.Client | None = None,
    http: HttpClient | None = None,
    reporter: Reporter | None = None,
    included: Callable[[Any], list[int]] | None = None,
    lock_timeout: float = 0.0,
    note: str = "",
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Bring the review up to date and record a new version.

    Parameters
    ----------
    store : Store
        The review (a folder-backed store gets a lock; an in-memory one needs none).
    stages : list of (name, callback), optional
        Pipeline stages to run after the search (default :data:`UPDATE_STAGES`).
    sources : list of str, optional
        Only these sources.
    included : callable, optional
        ``included(store) -> [work ids]`` included at this version (stored in ``versions``).
    lock_timeout : float
        Seconds to wait for a running update to finish (0: fail at once).

    Returns
    -------
    dict
        ``version`` (new ``versions.id``), ``since`` per source, ``search`` counts per
        source, ``stages`` counts per stage, ``new_records``.

    Raises
    ------
    StoreError
        Another update holds the lock.
    SourceError
        A source failed (the version is still recorded from the others).
    FmreviewError
        A stage failed (no version recorded).
    """
    stages = list(UPDATE_STAGES if stages is None else stages)
    reporter = reporter or NullReporter()
    protocol = store.protocol
    names = enabled_sources(protocol, list(sources) if sources else None)
    lock = (
        ReviewLock(Path(store.folder) / LOCK_FILE, timeout=lock_timeout) if store.folder else None
    )
    if lock is not None:
        lock.acquire()
    try:
        since = update_since(store, names, protocol.search.overlap_days)
        params = {
            "sources": names,
            "since": {k: v.isoformat() if v else None for k, v in since.items()},
        }
        with store.run("update", params) as run:
            search = run_search(
                store,
                sources=names,
                since=since,
                client=client,
                http=http,
                reporter=reporter,
                run=run,
                raise_errors=False,
                environ=environ,
            )
            new_records = sum(int(c.get("added") or 0) for c in search.values())
            run.counts.update({"search": search, "new_records": new_records})
            stage_counts: dict[str, Any] = {}
            for name, fn in stages:
                reporter.log(f"update: {name}")
                try:
                    stage_counts[name] = dict(fn(store, run) or {})
                except FmreviewError as exc:
                    err = FmreviewError(f"update stage {name!r} failed: {exc}")
                    err.exit_code = exc.exit_code
                    raise err from exc
                except Exception as exc:  # a stage's bug must still end in one line
                    raise FmreviewError(
                        f"update stage {name!r} failed: {type(exc).__name__}: {exc}"
                    ) from exc
                run.counts.setdefault("stages", {})[name] = stage_counts[name]
            version = record_update_version(
                store,
                run_id=run.id,
                extra={"new_records": new_records, "search": search, "stages": stage_counts},
                included=included,
                note=note,
            )
            run.counts["version"] = int(version)
            failed = {n: c for n, c in search.items() if c.get("status") != "done"}
            if failed:
                err = SourceError(
                    f"update recorded version {version} but {', '.join(failed)} failed "
                    f"({'; '.join(str(c.get('error')) for c in failed.values())}); "
                    "the next update retries from the same date"
                )
                err.counts = search  # type: ignore[attr-defined]
                raise err
    finally:
        if lock is not None:
            lock.release()
    return {
        "version": int(version),
        "since": since,
        "search": search,
        "stages": stage_counts,
        "new_records": new_records,
    }
