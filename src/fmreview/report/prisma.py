"""PRISMA 2020 flow counts, computed only from the store (never typed in).

Every number comes from the ``records``, ``works``, ``work_records``, ``searches`` and
``versions`` tables and from each work's screening status as derived by
:func:`fmreview.status.work_statuses` (the one place that turns the append-only decision
history into a state). The flow is drawn for one pooled deduplication: records from
databases and from other methods (curated lists, citation searching, files) are identified
separately and then deduplicated together, as the pipeline does.

Boxes and how they add up (checked by :meth:`PrismaCounts.invariants`, one check per
arrow of the diagram, in reports and again in studies)::

    records_identified   = sum(databases) + sum(other_methods)
    records_identified   = duplicates_removed + excluded_automation + records_awaiting_dedupe
                           + records_screened                       (arrows 1 and 2)
    records_screened     = excluded_screening + conflict_screening + awaiting_screening
                           + reports_sought                         (arrows 3 and 4)
    reports_sought       = reports_not_retrieved + awaiting_full_text + reports_assessed
                                                                    (arrows 5 and 6)
    reports_assessed     = excluded_full_text + conflict_full_text + reports_included
                                                                    (arrows 7 and 8)
    studies_included     = included_human + included_rules

*Reports* and *studies*: a work (dedupe cluster) is one study. Its reports are its
canonical record plus every member record linked as ``version-of`` (a preprint and its
published version are two reports of one study); members linked as ``duplicate`` are the
same report retrieved twice and are the only records counted in ``duplicates_removed``.
Every box from "records screened" down counts reports: a study with two versions counts
twice in each box it passes, so the reports that reach "reports of included studies" are
exactly the reports assessed minus those excluded. The same boxes counted in studies are
in :attr:`PrismaCounts.studies` and obey the same arrows. A full-text exclusion whose
criterion is one of :data:`NOT_RETRIEVED` counts as *report not retrieved*.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from fmreview.errors import StatsError
from fmreview.status import WorkStatus, work_statuses
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store

#: Full-text exclusion criteria that mean "the report could not be retrieved".
NOT_RETRIEVED = frozenset(
    {"not_retrieved", "not-retrieved", "no_full_text", "no-full-text", "unavailable"}
)
#: Key used for an exclusion without a criterion.
UNSPECIFIED = "unspecified"
#: The arrows of the flow diagram, by the names :attr:`Invariant.arrows` uses.
ARROWS = (
    "identified->removed",
    "identified->screened",
    "screened->excluded",
    "screened->sought",
    "sought->not_retrieved",
    "sought->assessed",
    "assessed->excluded",
    "assessed->included",
    "previous->included",
)


@dataclass
class PreviousVersion:
    """The "previous version" arm of a living review (PRISMA 2020 flow for updates)."""

    version_id: int
    created_at: str
    studies_included: int
    reports_included: int
    records_identified: int
    new_records: int  # records added to the store since that version
    new_studies: int  # included now, not included then
    dropped_studies: int  # included then, not now (excluded later, or merged into another work)


@dataclass
class Invariant:
    """One check ``left == right``; ``arrows`` names the diagram arrows it covers."""

    name: str
    left: int
    right: int
    arrows: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.left == self.right


@dataclass
class PrismaCounts:
    """The numbers of a PRISMA 2020 flow diagram (see the module docstring for the boxes)."""

    databases: dict[str, int] = field(default_factory=dict)
    database_hits: dict[str, int] = field(default_factory=dict)  # total hits the searches reported
    database_searches: dict[str, int] = field(default_factory=dict)
    other_methods: dict[str, int] = field(default_factory=dict)
    records_identified: int = 0
    records_awaiting_dedupe: int = 0
    duplicates_removed: int = 0
    versions_linked: int = 0  # other versions (preprint/published) of a study: extra reports
    works: int = 0  # studies (dedupe clusters)
    excluded_automation: int = 0
    excluded_automation_by: dict[str, int] = field(default_factory=dict)
    records_screened: int = 0
    excluded_screening: int = 0
    excluded_screening_by: dict[str, int] = field(default_factory=dict)
    awaiting_screening: int = 0
    conflict_screening: int = 0
    reports_sought: int = 0
    reports_not_retrieved: int = 0
    awaiting_full_text: int = 0
    reports_assessed: int = 0
    excluded_full_text: int = 0
    excluded_full_text_by: dict[str, int] = field(default_factory=dict)
    conflict_full_text: int = 0
    studies_included: int = 0
    reports_included: int = 0
    included_human: int = 0
    included_rules: int = 0
    screening_mode: str = "human"
    previous: PreviousVersion | None = None
    #: The boxes from "records screened" down counted in studies (works) instead of reports.
    studies: dict[str, int] = field(default_factory=dict)
    included_ids: list[int] = field(default_factory=list)

    # ------------------------------------------------------------------ derived
    @property
    def records_from_databases(self) -> int:
        return sum(self.databases.values())

    @property
    def records_from_other_methods(self) -> int:
        return sum(self.other_methods.values())

    @property
    def conflicts(self) -> int:
        return self.conflict_screening + self.conflict_full_text

    @property
    def reports_deduplicated(self) -> int:
        """Reports left after removing duplicates: one per study plus its other versions."""
        return self.works + self.versions_linked

    def studies_at(self, box: str) -> int:
        """The number of studies in ``box`` (a report-counting field name)."""
        return int(self.studies.get(box, 0))

    def invariants(self) -> list[Invariant]:
        """Every box that must add up, as ``left == right`` pairs (see the module docstring).

        Every arrow of the flow diagram (:data:`ARROWS`) is covered by at least one check
        in reports and one in studies, so a box that does not follow from the one above it
        (e.g. more reports of included studies than reports assessed) is caught.
        """
        st = self.studies_at
        inv = [
            Invariant(
                "identified = databases + other methods",
                self.records_identified,
                self.records_from_databases + self.records_from_other_methods,
                ("sources",),
            ),
            Invariant(
                "identified = duplicates + excluded by automation + awaiting dedupe + screened",
                self.records_identified,
                self.duplicates_removed
                + self.excluded_automation
                + self.records_awaiting_dedupe
                + self.records_screened,
                ("identified->removed", "identified->screened"),
            ),
            Invariant(
                "deduplicated reports = studies + other versions",
                self.reports_deduplicated,
                self.excluded_automation + self.records_screened,
                ("identified->removed", "identified->screened"),
            ),
            Invariant(
                "studies = excluded by automation + screened (studies)",
                self.works,
                st("excluded_automation") + st("records_screened"),
                ("identified->removed", "identified->screened"),
            ),
            Invariant(
                "excluded by automation = sum of criteria",
                self.excluded_automation,
                sum(self.excluded_automation_by.values()),
                ("identified->removed",),
            ),
            Invariant(
                "screened = excluded + conflicts + awaiting + sought",
                self.records_screened,
                self.excluded_screening
                + self.conflict_screening
                + self.awaiting_screening
                + self.reports_sought,
                ("screened->excluded", "screened->sought"),
            ),
            Invariant(
                "screened = excluded + conflicts + awaiting + sought (studies)",
                st("records_screened"),
                st("excluded_screening")
                + st("conflict_screening")
                + st("awaiting_screening")
                + st("reports_sought"),
                ("screened->excluded", "screened->sought"),
            ),
            Invariant(
                "excluded at screening = sum of criteria",
                self.excluded_screening,
                sum(self.excluded_screening_by.values()),
                ("screened->excluded",),
            ),
            Invariant(
                "sought = not retrieved + awaiting full text + assessed",
                self.reports_sought,
                self.reports_not_retrieved + self.awaiting_full_text + self.reports_assessed,
                ("sought->not_retrieved", "sought->assessed"),
            ),
            Invariant(
                "sought = not retrieved + awaiting full text + assessed (studies)",
                st("reports_sought"),
                st("reports_not_retrieved") + st("awaiting_full_text") + st("reports_assessed"),
                ("sought->not_retrieved", "sought->assessed"),
            ),
            Invariant(
                "assessed = excluded + conflicts + reports of included studies",
                self.reports_assessed,
                self.excluded_full_text + self.conflict_full_text + self.reports_included,
                ("assessed->excluded", "assessed->included"),
            ),
            Invariant(
                "assessed = excluded + conflicts + included (studies)",
                st("reports_assessed"),
                st("excluded_full_text") + st("conflict_full_text") + self.studies_included,
                ("assessed->excluded", "assessed->included"),
            ),
            Invariant(
                "excluded at full text = sum of reasons",
                self.excluded_full_text,
                sum(self.excluded_full_text_by.values()),
                ("assessed->excluded",),
            ),
            Invariant(
                "included = human-confirmed + by rules",
                self.studies_included,
                self.included_human + self.included_rules,
                ("assessed->included",),
            ),
            Invariant(
                "reports of included studies >= studies included",
                min(self.reports_included, self.studies_included),
                self.studies_included,
                ("assessed->included",),
            ),
        ]
        if self.previous is not None:
            p = self.previous
            inv.append(
                Invariant(
                    "included = previous - dropped + new",
                    self.studies_included,
                    p.studies_included - p.dropped_studies + p.new_studies,
                    ("previous->included",),
                )
            )
        return inv

    def check(self) -> None:
        """Raise :class:`~fmreview.errors.StatsError` naming every box that does not add up."""
        bad = [i for i in self.invariants() if not i.ok]
        if bad:
            raise StatsError(
                "PRISMA counts do not add up: "
                + "; ".join(f"{i.name}: {i.left} != {i.right}" for i in bad)
                + " — the store is inconsistent; re-run `fmreview dedupe` and report this"
            )

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("included_ids")
        d["reports_deduplicated"] = self.reports_deduplicated
        d["records_from_databases"] = self.records_from_databases
        d["records_from_other_methods"] = self.records_from_other_methods
        return d

    def flat(self) -> dict[str, int]:
        """Every number by its dotted key (``databases.openalex``, ``excluded_screening_by.E-REVIEW``)."""
        out: dict[str, int] = {}
        for k, v in self.as_dict().items():
            if isinstance(v, bool) or v is None or isinstance(v, str):
                continue
            if isinstance(v, int):
                out[k] = v
            elif isinstance(v, dict):
                for kk, vv in v.items():
                    if isinstance(vv, int) and not isinstance(vv, bool) and kk != "version_id":
                        out[f"{k}.{kk}"] = vv
        return out


# ----------------------------------------------------------------------------- computing
def _by_source(conn: sa.engine.Connection, kinds: tuple[str, ...]) -> dict[str, int]:
    r = schema.records
    q = (
        sa.select(r.c.source, sa.func.count())
        .where(r.c.source_kind.in_(kinds))
        .group_by(r.c.source)
        .order_by(r.c.source)
    )
    return {str(s): int(n) for s, n in conn.execute(q)}


def _crit(c: str | None) -> str:
    return c or UNSPECIFIED


def _versions_per_work(conn: sa.engine.Connection) -> Counter[int]:
    """Member records linked as ``version-of`` per work (each is one more report of it)."""
    wr = schema.work_records
    return Counter(
        int(w)
        for w in conn.execute(sa.select(wr.c.work_id).where(wr.c.link == "version-of")).scalars()
    )


def _previous(conn: sa.engine.Connection, counts: PrismaCounts) -> PreviousVersion | None:
    v, r = schema.versions, schema.records
    now_ids = set(counts.included_ids)
    for row in conn.execute(sa.select(v).order_by(v.c.id.desc())):
        m = row._mapping
        vc = dict(m["counts"] or {})
        then = {int(i) for i in (m["included"] or [])}
        if then == now_ids and int(vc.get("records_identified", -1)) == counts.records_identified:
            continue  # this version is the current state; look further back
        max_id = vc.get("max_record_id")
        if max_id is not None:
            new_records = conn.execute(
                sa.select(sa.func.count()).select_from(r).where(r.c.id > int(max_id))
            ).scalar_one()
        else:
            new_records = conn.execute(
                sa.select(sa.func.count()).select_from(r).where(r.c.retrieved_at > m["created_at"])
            ).scalar_one()
        created = m["created_at"]
        return PreviousVersion(
            version_id=int(m["id"]),
            created_at=created.isoformat()
            if isinstance(created, dt.datetime | dt.date)
            else str(created),
            studies_included=len(then),
            reports_included=int(vc.get("reports_included", len(then))),
            records_identified=int(vc.get("records_identified", 0)),
            new_records=int(new_records),
            new_studies=len(now_ids - then),
            dropped_studies=len(then - now_ids),
        )
    return None


#: The report-counting boxes that :func:`_count_boxes` fills from the work statuses.
_STATUS_BOXES = (
    "excluded_automation",
    "excluded_screening",
    "awaiting_screening",
    "conflict_screening",
    "conflict_full_text",
    "awaiting_full_text",
    "reports_not_retrieved",
    "excluded_full_text",
    "reports_included",
)


def prisma_counts(store: Store) -> PrismaCounts:
    """The PRISMA 2020 flow numbers of a review, derived from its store."""
    statuses = work_statuses(store)
    c = PrismaCounts(screening_mode=store.protocol.screening.mode)
    with store.connect() as conn:
        _count_sources(conn, c)
        w, wr = schema.works, schema.work_records
        in_works = int(conn.execute(sa.select(sa.func.count()).select_from(wr)).scalar_one())
        c.works = int(
            conn.execute(
                sa.select(sa.func.count()).select_from(w).where(w.c.merged_into.is_(None))
            ).scalar_one()
        )
        c.records_awaiting_dedupe = c.records_identified - in_works
        versions = _versions_per_work(conn)
        active = set(statuses)
        c.versions_linked = sum(n for wid, n in versions.items() if wid in active)
        # version-of members of works merged away follow their records into the active work;
        # anything else in a work that is not a study is a duplicate retrieval of a report
        c.duplicates_removed = in_works - c.works - c.versions_linked
        _count_boxes(c, statuses, versions)
        c.previous = _previous(conn, c)
    return c


def _count_sources(conn: sa.engine.Connection, c: PrismaCounts) -> None:
    """Identification: records per database and other method, searches and their hits."""
    r, s = schema.records, schema.searches
    c.databases = _by_source(conn, ("database",))
    c.other_methods = _by_source(conn, ("other", "file"))
    # any other source_kind still counts as "other methods", so nothing is lost
    known = ("database", "other", "file")
    for src, n in conn.execute(
        sa.select(r.c.source_kind, sa.func.count())
        .where(r.c.source_kind.not_in(known))
        .group_by(r.c.source_kind)
    ):
        c.other_methods[str(src)] = c.other_methods.get(str(src), 0) + int(n)
    for src, hits, n in conn.execute(
        sa.select(s.c.source, sa.func.sum(s.c.total_hits), sa.func.count()).group_by(s.c.source)
    ):
        c.database_searches[str(src)] = int(n)
        if hits is not None:
            c.database_hits[str(src)] = int(hits)
    c.records_identified = int(conn.execute(sa.select(sa.func.count()).select_from(r)).scalar_one())


def _count_boxes(c: PrismaCounts, statuses: dict[int, WorkStatus], versions: Counter[int]) -> None:
    """Screening to inclusion: each work's status into its box, in reports and in studies;
    the boxes on the main path follow from the boxes that leave it."""
    auto: Counter[str] = Counter()
    ta: Counter[str] = Counter()
    ft: Counter[str] = Counter()
    box: Counter[str] = Counter()  # reports per box
    stu: Counter[str] = Counter()  # studies per box
    for st in statuses.values():
        reports = 1 + versions.get(st.work_id, 0)
        key = _box_of(st)
        if key is None:
            continue
        box[key] += reports
        stu[key] += 1
        by = {"excluded_automation": auto, "excluded_screening": ta, "excluded_full_text": ft}
        if key in by:
            by[key][_crit(st.criterion)] += reports
        elif key == "reports_included":
            c.included_ids.append(st.work_id)
            if st.human:
                c.included_human += 1
            else:
                c.included_rules += 1
    c.included_ids.sort()
    c.excluded_automation_by = dict(sorted(auto.items()))
    c.excluded_screening_by = dict(sorted(ta.items()))
    c.excluded_full_text_by = dict(sorted(ft.items()))
    for key in _STATUS_BOXES:
        setattr(c, key, box[key])
    c.studies_included = len(c.included_ids)
    for counter in (box, stu):
        counter["reports_assessed"] = (
            counter["excluded_full_text"]
            + counter["conflict_full_text"]
            + counter["reports_included"]
        )
        counter["reports_sought"] = (
            counter["reports_assessed"]
            + counter["reports_not_retrieved"]
            + counter["awaiting_full_text"]
        )
        counter["records_screened"] = (
            counter["reports_sought"]
            + counter["excluded_screening"]
            + counter["conflict_screening"]
            + counter["awaiting_screening"]
        )
    c.reports_assessed = box["reports_assessed"]
    c.reports_sought = box["reports_sought"]
    c.records_screened = box["records_screened"]
    c.studies = {k: int(v) for k, v in sorted(stu.items())}


def _box_of(st: WorkStatus) -> str | None:
    """The report-counting box a work's status puts it in (None: in no box)."""
    if st.status == "excluded_title_abstract":
        return "excluded_screening"
    if st.status == "conflict":
        if st.stages.get("title_abstract") == "conflict":
            return "conflict_screening"
        return "conflict_full_text"
    if st.status == "excluded_full_text":
        if (st.criterion or "").lower() in NOT_RETRIEVED:
            return "reports_not_retrieved"
        return "excluded_full_text"
    if st.status == "included":
        return "reports_included"
    if st.status in ("excluded_automation", "awaiting_screening", "awaiting_full_text"):
        return st.status
    return None


def version_counts(store: Store, counts: PrismaCounts) -> dict[str, Any]:
    """What a ``versions`` row stores about the current state (see :func:`record_version`)."""
    with store.connect() as conn:
        max_id = conn.execute(sa.select(sa.func.max(schema.records.c.id))).scalar_one()
    return {
        "records_identified": counts.records_identified,
        "works": counts.works,
        "studies_included": counts.studies_included,
        "reports_included": counts.reports_included,
        "max_record_id": int(max_id or 0),
    }


def record_version(
    store: Store, counts: PrismaCounts, *, run_id: int, note: str = ""
) -> int | None:
    """Append a ``versions`` row for the current state unless the newest one already is it.

    Returns the new version id, or None when nothing changed since the newest version.
    """
    v = schema.versions
    with store.begin() as conn:
        last = conn.execute(sa.select(v).order_by(v.c.id.desc()).limit(1)).first()
        if last is not None:
            m = last._mapping
            same_ids = {int(i) for i in (m["included"] or [])} == set(counts.included_ids)
            same_n = (
                int((m["counts"] or {}).get("records_identified", -1)) == counts.records_identified
            )
            if same_ids and same_n:
                return None
    vc = version_counts(store, counts)
    with store.begin() as conn:
        vid = conn.execute(
            sa.insert(v)
            .values(
                run_id=run_id,
                created_at=store.clock(),
                counts=vc,
                included=list(counts.included_ids),
                note=note,
            )
            .returning(v.c.id)
        ).scalar_one()
    return int(vid)
