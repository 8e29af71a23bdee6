"""The living update: search again since the last retrieval, import, re-run the stages.

:func:`update` is what cron or a systemd timer runs (``fmreview update``):

1. take the review's lock (one update at a time; :mod:`filelock`, an OS lock the kernel
   releases when the process dies, so a killed update never leaves a stale lock);
2. per source, search from the last *successful* retrieval date minus the protocol's
   ``search.overlap_days`` (a source never searched gets its full date range);
3. run the pipeline's stages (:data:`fmreview.pipeline.STAGES`: dedupe, eligibility rules,
   extraction, analysis, report), the same functions ``fmreview run`` calls;
4. record a new row in ``versions`` (the PRISMA "previous review" arm and the "what
   changed" section are derived from these rows).

New works go where the protocol's screening mode sends them: with human screening they
wait, ranked, for ``fmreview screen`` (``to_screen``); in ``screening.mode: rules`` the
rules decide and the works they leave are counted as ``included_by_rules`` (said so in
the result, the version row and the command's output), never silently included.

When every source fails (offline, say) the update stops before the stages, records no
version and raises :class:`~fmreview.errors.SourceError` with one line per source. When
some fail, the version is recorded from the sources that worked, the failed ones are
searched from the same date next time, and the call still raises (a non-zero exit).
A stage that fails stops the update without recording a version.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock
import httpx
import sqlalchemy as sa

from fmreview import stages as stage_fns
from fmreview.errors import FmreviewError, SourceError, StoreError
from fmreview.pipeline import STAGES, Stage
from fmreview.progress import NullReporter, Reporter
from fmreview.search.http import HttpClient
from fmreview.search.runner import run_search
from fmreview.search.sources import enabled_sources
from fmreview.stages import StageResult, unexcluded_works
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store

log = logging.getLogger(__name__)

LOCK_FILE = ".update.lock"


def default_stages() -> list[Stage]:
    """The pipeline's stages; the report leaves the ``versions`` row to the update."""
    return [
        Stage(s.name, partial(stage_fns.report, record_versions=False)) if s.name == "report" else s
        for s in STAGES
    ]


# ----------------------------------------------------------------------------- lock
class ReviewLock:
    """An exclusive lock on a review folder's updates (:class:`filelock.FileLock`).

    ``timeout`` is how many seconds to wait for a running update (0: fail at once).
    """

    def __init__(self, path: Path | str, *, timeout: float = 0.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._lock = filelock.FileLock(str(self.path), timeout=timeout)

    def acquire(self) -> None:
        try:
            self._lock.acquire()
        except filelock.Timeout as exc:
            raise StoreError(
                f"another fmreview update is running on this review (lock {self.path}); "
                "wait for it to finish (or pass --wait SECONDS)"
            ) from exc

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> ReviewLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# ----------------------------------------------------------------------------- versions
def record_update_version(
    store: Store,
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
    update's search and stage counts).
    """
    from fmreview.report.prisma import prisma_counts, version_counts

    pc = prisma_counts(store)
    state = version_counts(store, pc)
    work_ids = list(included(store)) if included is not None else list(pc.included_ids)
    counts = json.loads(json.dumps({**state, **extra}, default=str))
    with store.begin() as conn:
        key = conn.execute(
            sa.insert(schema.versions).values(
                run_id=run_id,
                created_at=store.clock(),
                counts=counts,
                included=work_ids,
                note=note,
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


# ----------------------------------------------------------------------------- since
def last_retrievals(store: Store) -> dict[str, dt.datetime | None]:
    """Per source, when its last successful (``done``) search finished."""
    s = schema.searches
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(s.c.source, sa.func.max(s.c.finished_at))
            .where(s.c.status == "done")
            .group_by(s.c.source)
        ).all()
    return {str(src): when for src, when in rows}


def update_since(
    store: Store, names: Sequence[str], overlap_days: int
) -> dict[str, dt.date | None]:
    """The start date of each source's update search (None: never searched, search all)."""
    last = last_retrievals(store)
    out: dict[str, dt.date | None] = {}
    for n in names:
        when = last.get(n)
        out[n] = None if when is None else (when.date() - dt.timedelta(days=overlap_days))
    return out


# ----------------------------------------------------------------------------- update
@dataclass
class UpdateResult:
    """What :func:`update` did.

    ``new_works`` are works made from this update's records; of them ``to_screen`` wait
    for human screening (``screening.mode: human``) and ``included_by_rules`` were
    included by the eligibility rules without a person (``screening.mode: rules``).
    """

    version: int
    mode: str
    since: dict[str, dt.date | None]
    search: dict[str, dict[str, Any]]
    stages: dict[str, dict[str, Any]]
    new_records: int
    new_works: int
    to_screen: int = 0
    included_by_rules: int = 0
    failed_sources: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


def _max_work_id(store: Store) -> int:
    with store.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(schema.works.c.id))).scalar() or 0)


def _run_stage(store: Store, stage: Stage, reporter: Reporter) -> dict[str, Any]:
    reporter.log(f"update: {stage.name}")
    try:
        result = stage.fn(store, reporter=reporter)
    except FmreviewError as exc:
        err = FmreviewError(f"update stage {stage.name!r} failed: {exc}")
        err.exit_code = exc.exit_code
        raise err from exc
    except Exception as exc:  # a stage's bug must still end in one line
        raise FmreviewError(
            f"update stage {stage.name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return result.counts if isinstance(result, StageResult) else dict(result or {})


def _failure_lines(failed: Mapping[str, Mapping[str, Any]]) -> str:
    return "\n".join(f"  {name}: {c.get('error') or 'failed'}" for name, c in failed.items())


def _source_error(
    message: str, search: dict[str, Any], result: UpdateResult | None = None
) -> SourceError:
    """A failed update: the search counts (and the version recorded, if any) ride along."""
    err = SourceError(message)
    err.counts = search  # type: ignore[attr-defined]
    if result is not None:
        err.result = result  # type: ignore[attr-defined]
    return err


def update(
    store: Store,
    *,
    stages: Sequence[Stage] | None = None,
    sources: Sequence[str] | None = None,
    client: httpx.Client | None = None,
    http: HttpClient | None = None,
    reporter: Reporter | None = None,
    included: Callable[[Any], list[int]] | None = None,
    lock_timeout: float = 0.0,
    note: str = "",
    environ: Mapping[str, str] | None = None,
) -> UpdateResult:
    """Bring the review up to date and record a new version.

    Parameters
    ----------
    store : Store
        The review (a folder-backed store gets a lock; an in-memory one needs none).
    stages : list of Stage, optional
        Stages to run after the search (default :func:`default_stages`, the pipeline's).
    sources : list of str, optional
        Only these sources.
    included : callable, optional
        ``included(store) -> [work ids]`` included at this version (stored in ``versions``).
    lock_timeout : float
        Seconds to wait for a running update to finish (0: fail at once).

    Raises
    ------
    StoreError
        Another update holds the lock.
    SourceError
        Every source failed (no version recorded), or some did (the version is recorded
        from the others).
    FmreviewError
        A stage failed (no version recorded).
    """
    chosen = default_stages() if stages is None else list(stages)
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
            failed = {n: c for n, c in search.items() if c.get("status") != "done"}
            new_records = sum(int(c.get("added") or 0) for c in search.values())
            run.counts.update({"search": search, "new_records": new_records})
            if failed and len(failed) == len(search):
                raise _source_error(
                    f"update failed: all {len(failed)} source(s) failed; no version recorded, "
                    "nothing else changed; run the update again when they can be reached:\n"
                    + _failure_lines(failed),
                    search,
                )
            before = _max_work_id(store)
            stage_counts: dict[str, Any] = {}
            for stage in chosen:
                stage_counts[stage.name] = _run_stage(store, stage, reporter)
                run.counts.setdefault("stages", {})[stage.name] = stage_counts[stage.name]
            mode = protocol.screening.mode
            new_works = _max_work_id(store) - before
            waiting = len(unexcluded_works(store, after=before))
            result = UpdateResult(
                version=0,
                mode=mode,
                since=since,
                search=search,
                stages=stage_counts,
                new_records=new_records,
                new_works=new_works,
                to_screen=waiting if mode != "rules" else 0,
                included_by_rules=waiting if mode == "rules" else 0,
                failed_sources=sorted(failed),
            )
            extra = {k: v for k, v in result.as_dict().items() if k not in ("version", "since")}
            result.version = record_update_version(
                store, run_id=run.id, extra=extra, included=included, note=note
            )
            run.counts.update(
                version=result.version,
                new_works=new_works,
                to_screen=result.to_screen,
                included_by_rules=result.included_by_rules,
            )
            log.info("update recorded version %d", result.version)
            if failed:
                raise _source_error(
                    f"update recorded version {result.version} from "
                    f"{', '.join(n for n in search if n not in failed)}, but "
                    f"{len(failed)} source(s) failed; the next update retries them from the "
                    "same date:\n" + _failure_lines(failed),
                    search,
                    result,
                )
    finally:
        if lock is not None:
            lock.release()
    return result
