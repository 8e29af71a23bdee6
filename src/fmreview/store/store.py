"""The review store: one database per review, opened from the review folder.

A review is a folder::

    fm-review/
      protocol.yaml     the protocol (copied in by ``fmreview init``)
      review.db         the SQLite store (default), or
      review.json       {"db": "postgresql://..."} when the store lives in PostgreSQL

The schema is created and upgraded only by Alembic migrations (``fmreview.migrations``).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from fmreview import __version__
from fmreview.errors import FmreviewError, StoreError
from fmreview.progress import Clock, utcnow
from fmreview.protocol import flagship_path, load_protocol
from fmreview.protocol.model import Protocol
from fmreview.store import schema

log = logging.getLogger(__name__)

DB_FILE = "review.db"
CONFIG_FILE = "review.json"
PROTOCOL_FILE = "protocol.yaml"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # 16 KiB pages for a new database (a no-op on an existing one): a record row with its
    # raw entry is ~6 KB, which overflows 4 KiB pages; measured on 600k imported rows the
    # insert cost fell from ~51 to ~44 us of CPU a row (600k rows of the import benchmark)
    cur.execute("PRAGMA page_size=16384")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for a database URL, with SQLite set up for WAL and foreign keys."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url in ("sqlite://", "sqlite:///:memory:"):
        engine = sa.create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    elif url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    else:
        try:
            # A pool as large as a review team: with SQLAlchemy's default 5 (+10 overflow),
            # 20 reviewers voting at once made the pool close and reopen connections (a
            # backend process each) on every burst: benchmarks/load.py went from 226 ms to
            # 154 ms p99 and from 3.2 to 1.8 ms of server CPU a request with this pool.
            size = int(os.environ.get("FMREVIEW_DB_POOL", "20"))
            engine = sa.create_engine(url, pool_size=size, max_overflow=size, pool_recycle=3600)
        except ModuleNotFoundError as exc:  # pragma: no cover - depends on extras
            raise StoreError(
                f"cannot use {url.split('://')[0]}: driver missing ({exc.name}); "
                "install it with: pip install 'fmreview[postgres]'"
            ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine, "checkin", _note_checkin)
        event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


# A connection back in the pool for longer than this is pinged before it is handed out.
# SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip to the server
# per request (a request checks out two or three connections), which cost benchmarks/load.py
# ~0.3 ms of server CPU a request on PostgreSQL. A connection reused within a second of its
# last use is almost never one the server dropped; one that was fails its statement, and
# SQLAlchemy then invalidates it and every older pooled connection (its optimistic disconnect
# handling), so the pool still recovers. This is the custom "pessimistic" checkout ping of
# SQLAlchemy's pooling docs, raising DisconnectionError so the pool reconnects and retries.
PING_IDLE_SECONDS = 1.0


def _note_checkin(_dbapi_conn: Any, record: Any) -> None:
    record.info["fmreview_checkin"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    last = record.info.get("fmreview_checkin")
    if last is None or time.monotonic() - last < PING_IDLE_SECONDS:
        return  # a new connection, or one in use a moment ago
    try:
        dialect.do_ping(dbapi_conn)  # outside any transaction (the dialect's own ping)
    except Exception as exc:  # noqa: BLE001 - any failure: the pool replaces the connection
        record.info.pop("fmreview_checkin", None)
        raise sa.exc.DisconnectionError(f"pooled connection dropped: {exc}") from exc


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option(
        "script_location", str(Path(__file__).resolve().parent.parent / "migrations")
    )
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def schema_revision(engine: Engine) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@dataclass
class Run:
    """A command run in progress: fill ``counts``; it is saved when the run ends."""

    id: int
    command: str
    counts: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


#: Runs stopped by Ctrl-C in this process, innermost first (the CLI says what they kept).
interrupted_runs: list[Run] = []


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 checks, sends nothing)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def mark_interrupted_runs(store: Store) -> list[int]:
    """Mark ``running`` runs whose process has ended as ``interrupted``; return their ids.

    A run records its process id and host. A run still ``running`` whose process no longer
    exists on this host was killed (or the machine stopped) before it could record its
    end. Runs of processes on other hosts (a shared PostgreSQL store) are left alone, and
    so are runs recorded before processes were recorded (no pid): nothing says whether
    their process is alive.
    """
    r = schema.runs
    host = socket.gethostname()
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(r.c.id, r.c.pid).where(
                r.c.status == "running", r.c.host == host, r.c.pid.is_not(None)
            )
        ).all()
    dead = [(int(i), int(pid)) for i, pid in rows if pid != os.getpid() and not _pid_alive(pid)]
    if dead:
        with store.begin() as conn:
            for run_id, pid in dead:
                conn.execute(
                    sa.update(r)
                    .where(r.c.id == run_id, r.c.status == "running")
                    .values(
                        status="interrupted",
                        error=(
                            f"process {pid} ended before the run did (killed or stopped); "
                            "marked interrupted when the review was next opened"
                        ),
                    )
                )
        log.info("marked runs %s interrupted: their processes are gone", [i for i, _ in dead])
    return [i for i, _ in dead]


class Store:
    """A review's store.

    Use :meth:`create` (``fmreview init``), :meth:`open` (every other command) or
    :meth:`memory` (tests). Writes go through :meth:`begin` transactions.
    """

    #: Set by :meth:`close`: background writers (the web app's) stop instead of retrying.
    closed: bool = False

    def __init__(
        self,
        engine: Engine,
        *,
        folder: Path | None = None,
        protocol: Protocol | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.folder = folder
        self._protocol = protocol
        self.clock = clock

    # ------------------------------------------------------------------ opening
    @classmethod
    def memory(cls, protocol: Protocol | None = None, *, clock: Clock = utcnow) -> Store:
        engine = make_engine("sqlite://")
        migrate(engine)
        return cls(engine, protocol=protocol or _flagship(), clock=clock)

    @classmethod
    def create(
        cls,
        folder: Path | str,
        *,
        protocol_path: Path | str | None = None,
        db_url: str | None = None,
        clock: Clock = utcnow,
    ) -> Store:
        """Create a review folder with its protocol and an empty, migrated store."""
        folder = Path(folder)
        if (folder / PROTOCOL_FILE).exists() or (folder / DB_FILE).exists():
            raise StoreError(
                f"{folder} already holds a review; open it with --dir {folder} or choose a new folder"
            )
        src = Path(protocol_path) if protocol_path else _flagship_path()
        protocol = _load_protocol(src)  # validate before writing anything
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, folder / PROTOCOL_FILE)
        if db_url:
            (folder / CONFIG_FILE).write_text(json.dumps({"db": db_url}, indent=2) + "\n")
        url = db_url or f"sqlite:///{(folder / DB_FILE).resolve()}"
        engine = make_engine(url)
        try:
            migrate(engine)
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot reach the database {_safe_url(url)}: {exc.orig}") from exc
        return cls(engine, folder=folder, protocol=protocol, clock=clock)

    @classmethod
    def open(cls, folder: Path | str, *, clock: Clock = utcnow, upgrade: bool = True) -> Store:
        """Open an existing review folder (migrating its schema to the newest version)."""
        folder = Path(folder)
        if not (folder / PROTOCOL_FILE).exists():
            raise StoreError(not_a_review_message(folder))
        url = f"sqlite:///{(folder / DB_FILE).resolve()}"
        if (folder / CONFIG_FILE).exists():
            try:
                url = str(json.loads((folder / CONFIG_FILE).read_text())["db"])
            except (ValueError, KeyError) as exc:
                raise StoreError(
                    f"{folder / CONFIG_FILE}: expected a JSON object with key 'db' (a database URL)"
                ) from exc
        engine = make_engine(url)
        if upgrade:
            try:
                migrate(engine)
            except sa.exc.OperationalError as exc:
                raise StoreError(f"cannot open the database {_safe_url(url)}: {exc.orig}") from exc
        store = cls(engine, folder=folder, clock=clock)
        if upgrade:
            mark_interrupted_runs(store)
        return store

    # ------------------------------------------------------------------ access
    def reload_protocol(self, protocol: Protocol | None = None) -> None:
        """Answer with ``protocol`` from now on (None: read the folder's file again).

        The protocol is cached on first use; an amendment (e.g. from the web app's admin
        page) rewrites the file and hands the validated result here.
        """
        self._protocol = protocol

    @property
    def protocol(self) -> Protocol:
        if self._protocol is None:
            if self.folder is None:
                self._protocol = _flagship()
            else:
                self._protocol = _load_protocol(self.folder / PROTOCOL_FILE)
        return self._protocol

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed on success, rolled back on any exception."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.closed = True
        self.engine.dispose()

    # ------------------------------------------------------------------ runs
    @contextmanager
    def run(self, command: str, params: dict[str, Any] | None = None) -> Iterator[Run]:
        """Record a command run in ``runs``; status ok / failed / interrupted at exit."""
        params = _jsonable(params or {})
        with self.begin() as conn:
            key = conn.execute(
                sa.insert(schema.runs).values(
                    command=command,
                    params=params,
                    version=__version__,
                    started_at=self.clock(),
                    status="running",
                    counts={},
                    config={},
                    pid=os.getpid(),
                    host=socket.gethostname(),
                )
            ).inserted_primary_key
            assert key is not None
            run_id = key[0]
        run = Run(id=int(run_id), command=command)
        status, error = "ok", None
        try:
            yield run
        except KeyboardInterrupt:
            status, error = "interrupted", "interrupted by the user"
            interrupted_runs.append(run)
            raise
        except FmreviewError as exc:
            status, error = "failed", str(exc)
            raise
        except BaseException as exc:
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with self.begin() as conn:
                conn.execute(
                    sa.update(schema.runs)
                    .where(schema.runs.c.id == run.id)
                    .values(
                        ended_at=self.clock(),
                        status=status,
                        counts=_jsonable(run.counts),
                        config=_jsonable(run.config),
                        error=error,
                    )
                )

    # ------------------------------------------------------------------ artifacts
    def add_artifact(
        self,
        kind: str,
        key: str,
        data: bytes | None,
        *,
        meta: dict[str, Any] | None = None,
        run_id: int | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Store an artifact (a cached computation or a result), in its own transaction.

        Artifacts are appended, never replaced: the newest of a kind and key is the current
        one (:meth:`latest_artifact`).
        """
        with self.begin() as conn:
            conn.execute(
                sa.insert(schema.artifacts).values(
                    kind=kind,
                    key=key,
                    run_id=run_id,
                    created_at=self.clock(),
                    content_type=content_type,
                    data=data,
                    meta=meta or {},
                )
            )

    def latest_artifact(self, kind: str, key: str) -> sa.Row[Any] | None:
        """The newest artifact of ``kind`` and ``key`` (all columns), or None."""
        a = schema.artifacts
        with self.connect() as conn:
            return conn.execute(
                sa.select(a)
                .where(a.c.kind == kind, a.c.key == key)
                .order_by(a.c.id.desc())
                .limit(1)
            ).first()

    def runs(self, command: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(schema.runs).order_by(schema.runs.c.id)
        if command:
            q = q.where(schema.runs.c.command == command)
        with self.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]


def reviews_under(folder: Path) -> list[Path]:
    """Review folders directly inside ``folder`` (those holding a protocol and a store)."""
    try:
        subs = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []
    return [
        p
        for p in subs
        if (p / PROTOCOL_FILE).exists() and ((p / DB_FILE).exists() or (p / CONFIG_FILE).exists())
    ]


def not_a_review_message(folder: Path) -> str:
    """Why ``folder`` cannot be opened, and the ``--dir`` that probably was meant."""
    head = f"{folder.resolve()} is not a review folder (no {PROTOCOL_FILE})"
    if not folder.is_dir():
        head = f"{folder} does not exist"
    found = reviews_under(folder) if folder.is_dir() else []
    if found:
        dirs = " or ".join(f"--dir {p if folder != Path('.') else p.name}" for p in found[:3])
        return f"{head}; it holds a review: point at it with {dirs}"
    return (
        f"{head}; point at a review with --dir DIR, or make one with "
        "`fmreview run DIR` (the bundled review) or `fmreview init DIR`"
    )


def _safe_url(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for a message
        return url.split("@")[-1]


def _flagship_path() -> Path:
    return Path(flagship_path())


def _load_protocol(path: Path) -> Protocol:
    return load_protocol(path)


def _flagship() -> Protocol:
    return _load_protocol(_flagship_path())


def env_db_url() -> str | None:
    """The database URL from ``FMREVIEW_DB`` (used by tests and deployments)."""
    return os.environ.get("FMREVIEW_DB") or None
