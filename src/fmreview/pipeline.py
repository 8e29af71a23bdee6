"""The whole pipeline for a review: ``fmreview run``.

:data:`STAGES` lists the stage functions of :mod:`fmreview.stages` in order; ``fmreview
run`` imports the protocol's bundled snapshot and runs them, and ``fmreview update``
(:mod:`fmreview.update`) runs the same list after its searches. Each stage records its own
run and is idempotent, so a run that was interrupted is simply run again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmreview import stages
from fmreview.errors import StoreError
from fmreview.progress import NullReporter, Reporter
from fmreview.stages import StageResult

if TYPE_CHECKING:
    from fmreview.store import Store

log = logging.getLogger(__name__)

#: A stage: ``fn(store, reporter=...) -> StageResult``.
StageFn = Callable[..., StageResult]


@dataclass(frozen=True)
class Stage:
    name: str
    fn: StageFn


STAGES: tuple[Stage, ...] = (
    Stage("dedupe", stages.dedupe),
    Stage("eligibility", stages.screen_rules),
    Stage("extract", stages.extract),
    Stage("analyze", stages.analyze),
    Stage("report", stages.report),
)


def run_stages(
    store: Store,
    *,
    reporter: Reporter | None = None,
    only: list[str] | None = None,
    on_done: Callable[[StageResult], None] | None = None,
) -> list[StageResult]:
    """Run the pipeline stages after import, in order (``only``: just these).

    ``on_done`` is called after each stage (``fmreview run`` keeps the list of finished
    stages so an interrupted run can say what it kept).
    """
    reporter = reporter or NullReporter()
    results = []
    for stage in STAGES:
        if only and stage.name not in only:
            continue
        result = stage.fn(store, reporter=reporter)
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results


@dataclass
class RunSummary:
    folder: Path
    created: bool
    imported: dict[str, int]
    stages: list[StageResult]
    outputs: dict[str, Path] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: folder, created, imported, per stage counts and seconds, outputs."""
        return {
            "folder": str(self.folder.resolve()),
            "created": self.created,
            "imported": self.imported,
            "stages": [
                {"name": s.name, "seconds": round(s.seconds, 3), "counts": s.counts}
                for s in self.stages
            ],
            "outputs": {k: str(v) for k, v in self.outputs.items()},
        }

    @property
    def report(self) -> Path | None:
        """The HTML report to open in a browser (None when no report was written)."""
        return self.outputs.get("report")


def check_new_folder(folder: Path) -> None:
    """Refuse to make a review folder whose parent does not exist.

    ``fmreview run /nonexistent/a/b`` used to create the whole path silently; a typo in
    the parent is far likelier than a wish for three new folders.
    """
    parent = folder.resolve().parent
    if not parent.is_dir():
        raise StoreError(
            f"cannot create the review folder {folder}: its parent {parent} does not exist; "
            f"create it first (mkdir -p {parent}) or choose another folder"
        )


def run_review(
    folder: Path | str,
    *,
    protocol_path: Path | str | None = None,
    db_url: str | None = None,
    reporter: Reporter | None = None,
) -> RunSummary:
    """Build (or bring up to date) a review from its protocol's bundled snapshot, offline."""
    from fmreview.snapshot import import_snapshot
    from fmreview.store import Store
    from fmreview.store.store import PROTOCOL_FILE

    reporter = reporter or NullReporter()
    folder = Path(folder)
    created = not (folder / PROTOCOL_FILE).exists()
    if created:
        check_new_folder(folder)
    store = (
        Store.create(folder, protocol_path=protocol_path, db_url=db_url)
        if created
        else Store.open(folder)
    )
    try:
        with store.run("run", {"dir": str(folder), "created": created}) as run:
            imported: dict[str, int] = {}
            if store.protocol.snapshot:
                log.info("importing the bundled snapshot %s", store.protocol.snapshot)
                imported = import_snapshot(store, store.protocol.snapshot, reporter=reporter)
                run.counts["imported"] = imported

            def done(result: StageResult) -> None:
                run.counts.setdefault("stages", {})[result.name] = "ok"

            results = run_stages(store, reporter=reporter, on_done=done)
        outputs: dict[str, Path] = {}
        if store.dialect == "sqlite":
            outputs["store"] = (folder / "review.db").resolve()
        for result in results:
            outputs.update(result.outputs)
    finally:
        store.close()
    return RunSummary(folder, created, imported, results, outputs)
