"""The pipeline's stages: one function each, the only code that records the stage's run.

``fmreview run`` (:mod:`fmreview.pipeline`), ``fmreview update`` (:mod:`fmreview.update`)
and the stage commands (``fmreview dedupe``, ``screen rules``, ``extract``, ``analyze``,
``report``) all call these functions, so a stage does the same thing, with the same mode
logic, and leaves the same ``runs`` row (the one the methods section and PRISMA read)
whatever started it. Each is idempotent: a stage that was interrupted is simply run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmreview.progress import NullReporter, Reporter

if TYPE_CHECKING:
    from fmreview.store import Store

log = logging.getLogger(__name__)

#: The ``runs.command`` of the eligibility stage, whichever entry point ran it.
ELIGIBILITY_RUN = "eligibility"


@dataclass
class StageResult:
    """What one stage did.

    ``counts`` are the numbers it recorded on its run; ``outputs`` the files it wrote, by
    name (``report``, ``prisma_svg``, ...); ``run_id`` the ``runs`` row (None for a stage
    whose library records its own run under the same name).
    """

    name: str
    counts: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)
    run_id: int | None = None
    seconds: float = 0.0

    def scalar_counts(self) -> dict[str, Any]:
        """The counts that print on one line (no nested tables)."""
        return {k: v for k, v in self.counts.items() if not isinstance(v, dict | list)}


def _timed(name: str, fn: Callable[[], StageResult]) -> StageResult:
    log.info("stage %s: start", name)
    t0 = time.perf_counter()
    result = fn()
    result.seconds = time.perf_counter() - t0
    log.info("stage %s: done in %.1f s: %s", name, result.seconds, result.scalar_counts())
    return result


def dedupe(store: Store, *, reporter: Reporter | None = None) -> StageResult:
    """Cluster records not yet in a work into works (human pair decisions respected)."""
    from fmreview.dedupe.store_io import dedupe_store

    def go() -> StageResult:
        with store.run("dedupe", {"settings": store.protocol.dedupe.model_dump()}) as run:
            counts = dedupe_store(store, run_id=run.id, reporter=reporter or NullReporter())
            run.counts.update(counts)
        return StageResult("dedupe", dict(counts), run_id=run.id)

    return _timed("dedupe", go)


def eligibility_stages(protocol: Any) -> tuple[str, ...]:
    """Which criteria stages the rules decide under the protocol's screening mode.

    In ``screening.mode: rules`` (an offline review of curated lists) the rules of every
    stage decide, and the works they leave are *included by rules*; with human screening
    only the automation-stage rules run and people decide the rest.
    """
    if protocol.screening.mode == "rules":
        return ("automation", "title_abstract", "full_text")
    return ("automation",)


def screen_rules(store: Store, *, reporter: Reporter | None = None) -> StageResult:
    """Apply the protocol's eligibility rules (per :func:`eligibility_stages`).

    Records an ``eligibility`` run whether ``fmreview run``, ``fmreview update`` or
    ``fmreview screen rules`` started it, so the methods section always finds it.
    ``counts`` add ``mode`` and, in rules mode, ``included_by_rules`` (works no rule
    excluded, included without a human).
    """
    from fmreview.screening.eligibility import apply_rules

    def go() -> StageResult:
        mode = store.protocol.screening.mode
        stages = eligibility_stages(store.protocol)
        with store.run(ELIGIBILITY_RUN, {"stages": list(stages), "mode": mode}) as run:
            counts: dict[str, Any] = apply_rules(store, stages=stages, run_id=run.id).as_dict()
            counts["mode"] = mode
            if mode == "rules":
                counts["included_by_rules"] = len(unexcluded_works(store))
            run.counts.update(counts)
        return StageResult("eligibility", counts, run_id=run.id)

    return _timed("eligibility", go)


def unexcluded_works(store: Store, *, after: int = 0) -> list[int]:
    """Active works (id > ``after``) that no decision has excluded, in id order."""
    import sqlalchemy as sa

    from fmreview.store import schema
    from fmreview.store.works import active_works

    d = schema.decisions
    with store.connect() as conn:
        excluded = set(conn.execute(sa.select(d.c.work_id).where(d.c.label == "exclude")).scalars())
        ids = [
            int(r.id)
            for r in conn.execute(
                active_works(conn).where(schema.works.c.id > after).order_by(schema.works.c.id)
            )
        ]
    return [i for i in ids if i not in excluded]


def extract(
    store: Store, *, reporter: Reporter | None = None, methods: Sequence[str] | None = None
) -> StageResult:
    """Label every work on the taxonomy, with evidence (methods: the protocol's by default)."""
    from fmreview.extract.store_io import extract_store

    def go() -> StageResult:
        chosen = list(methods) if methods else None
        with store.run("extract", {"methods": chosen or store.protocol.extraction.methods}) as run:
            counts = extract_store(
                store, run_id=run.id, reporter=reporter or NullReporter(), methods=chosen
            )
            run.counts.update(counts)
        return StageResult("extract", dict(counts), run_id=run.id)

    return _timed("extract", go)


def analyze(store: Store, *, reporter: Reporter | None = None) -> StageResult:
    """Trends, dataset use and co-occurrence, stored for the report (an ``analyze`` run)."""
    from fmreview.analysis_store import analyze_store

    def go() -> StageResult:
        stored = analyze_store(store, reporter=reporter or NullReporter())
        return StageResult("analyze", dict(stored.summary_counts()))

    return _timed("analyze", go)


#: The files :func:`fmreview.report.build.build_report` writes, by the name shown.
REPORT_OUTPUTS = {
    "report": "report_path",
    "prisma_svg": "prisma_svg_path",
    "prisma_png": "prisma_png_path",
    "prisma_pdf": "prisma_pdf_path",
    "exports": "exports_path",
    "tables": "tables_path",
    "figures": "figures_path",
}


def report(
    store: Store, *, reporter: Reporter | None = None, record_versions: bool = True
) -> StageResult:
    """Write the HTML report, PRISMA diagram, tables, figures and exports (a ``report`` run).

    ``record_versions=False`` leaves the ``versions`` row to ``fmreview update``.
    """
    from fmreview.report.build import build_report

    def go() -> StageResult:
        built = build_report(
            store, reporter=reporter or NullReporter(), record_versions=record_versions
        )
        outputs = {name: Path(built[key]).resolve() for name, key in REPORT_OUTPUTS.items()}
        keys = set(REPORT_OUTPUTS.values())
        return StageResult(
            "report", {k: v for k, v in built.items() if k not in keys}, outputs=outputs
        )

    return _timed("report", go)
