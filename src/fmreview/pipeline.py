"""The whole pipeline for a review: ``fmreview run`` and the stage list ``fmreview update`` reuses.

Each stage is a function ``(store, reporter) -> dict`` that reads from and writes to the
store and is idempotent, so a run that was interrupted is simply run again.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmreview.progress import NullReporter, Reporter

StageFn = Callable[[Any, Reporter], dict[str, Any]]


def _stage_dedupe(store: Any, reporter: Reporter) -> dict[str, Any]:
    from fmreview.dedupe.store_io import dedupe_store

    with store.run("dedupe", {"settings": store.protocol.dedupe.model_dump()}) as run:
        counts = dedupe_store(store, run_id=run.id, reporter=reporter)
        run.counts.update(counts)
    return counts


def _stage_works_fallback(store: Any, reporter: Reporter) -> dict[str, Any]:
    from fmreview.store.works import works_from_records

    with store.run("works", {}) as run:
        n = works_from_records(store, run.id)
        run.counts["works_made"] = n
    return {"works_made": n}


def _stage_eligibility(store: Any, reporter: Reporter) -> dict[str, Any]:
    from fmreview.screening.eligibility import apply_rules

    # In ``screening.mode: rules`` (an offline review of curated lists) the rules of every
    # stage decide; with human screening only the automation-stage rules run before people.
    rules_mode = store.protocol.screening.mode == "rules"
    stages = ("automation", "title_abstract", "full_text") if rules_mode else ("automation",)
    with store.run(
        "eligibility", {"stages": list(stages), "mode": store.protocol.screening.mode}
    ) as run:
        counts = apply_rules(store, stages=stages, run_id=run.id).as_dict()
        run.counts.update(counts)
    return counts


def _stage_extract(store: Any, reporter: Reporter) -> dict[str, Any]:
    from fmreview.extract.store_io import extract_store

    with store.run("extract", {"methods": store.protocol.extraction.methods}) as run:
        counts = extract_store(store, run_id=run.id, reporter=reporter)
        run.counts.update(counts)
    return counts


def _stage_analyze(store: Any, reporter: Reporter) -> dict[str, Any]:
    from fmreview.analysis_store import analyze_store

    return analyze_store(store, reporter=reporter).summary_counts()


def _stage_report(store: Any, reporter: Reporter) -> dict[str, Any]:
    from fmreview.report.build import build_report

    return build_report(store, reporter=reporter)


def _stage_report_for_update(store: Any, reporter: Reporter) -> dict[str, Any]:
    from fmreview.report.build import build_report

    return build_report(store, reporter=reporter, record_versions=False)


@dataclass
class Stage:
    name: str
    module: str  # the module that must exist for the stage to run
    fn: StageFn
    fallback: StageFn | None = None


STAGES = (
    Stage("dedupe", "fmreview.dedupe.store_io", _stage_dedupe, _stage_works_fallback),
    Stage("eligibility", "fmreview.screening.eligibility", _stage_eligibility),
    Stage("extract", "fmreview.extract.store_io", _stage_extract),
    Stage("analyze", "fmreview.analysis_store", _stage_analyze),
    Stage("report", "fmreview.report.build", _stage_report),
)


def _available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return False
        raise
    return True


@dataclass
class StageResult:
    name: str
    status: str  # ran | fallback | skipped
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def run_stages(
    store: Any, *, reporter: Reporter | None = None, only: list[str] | None = None
) -> list[StageResult]:
    """Run the pipeline stages after import, in order; a missing stage is skipped."""
    reporter = reporter or NullReporter()
    results = []
    for stage in STAGES:
        if only and stage.name not in only:
            continue
        t0 = time.perf_counter()
        if _available(stage.module):
            counts, status = stage.fn(store, reporter), "ran"
        elif stage.fallback is not None:
            counts, status = stage.fallback(store, reporter), "fallback"
        else:
            results.append(StageResult(stage.name, "skipped"))
            continue
        results.append(StageResult(stage.name, status, counts, time.perf_counter() - t0))
    return results


@dataclass
class RunSummary:
    folder: Path
    created: bool
    imported: dict[str, int]
    stages: list[StageResult]
    outputs: dict[str, str]


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
    store = (
        Store.create(folder, protocol_path=protocol_path, db_url=db_url)
        if created
        else Store.open(folder)
    )
    with store.run("run", {"dir": str(folder), "created": created}) as run:
        imported: dict[str, int] = {}
        if store.protocol.snapshot:
            imported = import_snapshot(store, store.protocol.snapshot, reporter=reporter)
        stages = run_stages(store, reporter=reporter)
        run.counts.update({"imported": imported, "stages": {s.name: s.status for s in stages}})
    outputs = {
        "store": str((folder / "review.db").resolve())
        if store.dialect == "sqlite"
        else "postgresql"
    }
    for s in stages:
        for k, v in s.counts.items():
            if k.endswith("_path") or k == "report":
                outputs[k] = str(Path(v).resolve())
    store.close()
    return RunSummary(folder, created, imported, stages, outputs)


def update_stages() -> list[tuple[str, Callable[[Any, Any], dict[str, Any]]]]:
    """The pipeline stages as ``fmreview update`` callbacks ``(store, run) -> counts``."""
    out: list[tuple[str, Callable[[Any, Any], dict[str, Any]]]] = []
    for stage in STAGES:

        def callback(store: Any, run: Any, _stage: Stage = stage) -> dict[str, Any]:
            # which function runs is decided here, when the stage runs: deciding it when the
            # stages are registered imported every stage's libraries (scikit-learn,
            # matplotlib, ...) into every ``fmreview`` command at start, 2.3 s and 250 MB
            # before the command began (``fmreview import`` went over its memory budget)
            fn = _stage.fn if _available(_stage.module) else _stage.fallback
            if fn is None:
                return {"skipped": f"{_stage.module} is not part of this build"}
            if _stage.name == "report":
                fn = _stage_report_for_update
            return fn(store, NullReporter())

        out.append((stage.name, callback))
    return out


def register_update_stages() -> None:
    """Make ``fmreview update`` run the pipeline stages after its searches (idempotent)."""
    hooks = importlib.import_module("fmreview.search.update").UPDATE_STAGES
    names = {n for n, _ in hooks}
    hooks.extend((n, cb) for n, cb in update_stages() if n not in names)
