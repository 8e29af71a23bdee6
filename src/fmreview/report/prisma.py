"""PRISMA 2020 flow counts, computed only from the store (never typed in).

Every number comes from the ``records``, ``works``, ``work_records``, ``searches`` and
``versions`` tables and from each work's screening status as derived by
:func:`fmreview.status.work_statuses` (the one place that turns the append-only decision
history into a state). The flow is drawn for one pooled deduplication: records from
databases and from other methods (curated lists, citation searching, files) are identified
separately and then deduplicated together, as the pipeline does.

Boxes and how they add up (checked by :meth:`PrismaCounts.invariants`)::

    records_identified   = sum(databases) + sum(other_methods)
    records_identified   = duplicates_removed + works + records_awaiting_dedupe
    duplicates_removed   >= versions_linked   (versions are reports of a study, see below)
    works                = excluded_automation + records_screened
    records_screened     = excluded_screening + conflict_screening + awaiting_screening
                           + reports_sought
    reports_sought       = reports_not_retrieved + awaiting_full_text + reports_assessed
    reports_assessed     = excluded_full_text + conflict_full_text + studies_included
    studies_included     = included_human + included_rules

*Reports* and *studies*: a work (dedupe cluster) is one study. Its reports are its
canonical record plus every member record linked as ``version-of`` (a preprint and its
published version are two reports of one study); members linked as ``duplicate`` are the
same report retrieved twice and were counted in ``duplicates_removed``. Screening acts on
works, so the screening boxes count one report per work. A full-text exclusion whose
criterion is one of :data:`NOT_RETRIEVED` counts as *report not retrieved*.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from fmreview.errors import StatsError
from fmreview.status import work_statuses
from fmreview.store import schema

#: Full-text exclusion criteria that mean "the report could not be retrieved".
NOT_RETRIEVED = frozenset(
    {"not_retrieved", "not-retrieved", "no_full_text", "no-full-text", "unavailable"}
)
#: Key used for an exclusion without a criterion.
UNSPECIFIED = "unspecified"


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
    name: str
    left: int
    right: int

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
    versions_linked: int = (
        0  # of the duplicates removed: other versions (preprint/published) of a study
    )
    works: int = 0
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

    def invariants(self) -> list[Invariant]:
        """Every box that must add up, as ``left == right`` pairs (see the module docstring)."""
        inv = [
            Invariant(
                "identified = databases + other methods",
                self.records_identified,
                self.records_from_databases + self.records_from_other_methods,
            ),
            Invariant(
                "identified = duplicates + works + awaiting dedupe",
                self.records_identified,
                self.duplicates_removed + self.works + self.records_awaiting_dedupe,
            ),
            Invariant(
                "duplicates >= versions linked",
                min(self.versions_linked, self.duplicates_removed),
                self.versions_linked,
            ),
            Invariant(
                "works = excluded by automation + screened",
                self.works,
                self.excluded_automation + self.records_screened,
            ),
            Invariant(
                "excluded by automation = sum of criteria",
                self.excluded_automation,
                sum(self.excluded_automation_by.values()),
            ),
            Invariant(
                "screened = excluded + conflicts + awaiting + sought",
                self.records_screened,
                self.excluded_screening
                + self.conflict_screening
                + self.awaiting_screening
                + self.reports_sought,
            ),
            Invariant(
                "excluded at screening = sum of criteria",
                self.excluded_screening,
                sum(self.excluded_screening_by.values()),
            ),
            Invariant(
                "sought = not retrieved + awaiting full text + assessed",
                self.reports_sought,
                self.reports_not_retrieved + self.awaiting_full_text + self.reports_assessed,
            ),
            Invariant(
                "assessed = excluded + conflicts + included",
                self.reports_assessed,
                self.excluded_full_text + self.conflict_full_text + self.studies_included,
            ),
            Invariant(
                "excluded at full text = sum of reasons",
                self.excluded_full_text,
                sum(self.excluded_full_text_by.values()),
            ),
            Invariant(
                "included = human-confirmed + by rules",
                self.studies_included,
                self.included_human + self.included_rules,
            ),
            Invariant(
                "reports included >= studies included",
                min(self.reports_included, self.studies_included),
                self.studies_included,
            ),
        ]
        if self.previous is not None:
            p = self.previous
            inv.append(
                Invariant(
                    "included = previous - dropped + new",
                    self.studies_included,
                    p.studies_included - p.dropped_studies + p.new_studies,
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


def _reports(conn: sa.engine.Connection, work_ids: set[int]) -> int:
    """Reports of the given works: one per work plus its ``version-of`` member records."""
    if not work_ids:
        return 0
    wr = schema.work_records
    versions = Counter(
        conn.execute(sa.select(wr.c.work_id).where(wr.c.link == "version-of")).scalars()
    )
    return len(work_ids) + sum(n for w, n in versions.items() if w in work_ids)


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


def prisma_counts(store: Any) -> PrismaCounts:
    """The PRISMA 2020 flow numbers of a review, derived from its store."""
    statuses = work_statuses(store)
    c = PrismaCounts(screening_mode=store.protocol.screening.mode)
    with store.connect() as conn:
        r, w, wr, s = schema.records, schema.works, schema.work_records, schema.searches
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
        c.records_identified = int(
            conn.execute(sa.select(sa.func.count()).select_from(r)).scalar_one()
        )
        in_works = int(conn.execute(sa.select(sa.func.count()).select_from(wr)).scalar_one())
        c.works = int(
            conn.execute(
                sa.select(sa.func.count()).select_from(w).where(w.c.merged_into.is_(None))
            ).scalar_one()
        )
        c.records_awaiting_dedupe = c.records_identified - in_works
        c.duplicates_removed = in_works - c.works
        c.versions_linked = int(
            conn.execute(
                sa.select(sa.func.count()).select_from(wr).where(wr.c.link == "version-of")
            ).scalar_one()
        )

        auto: Counter[str] = Counter()
        ta: Counter[str] = Counter()
        ft: Counter[str] = Counter()
        for st in statuses.values():
            if st.status == "excluded_automation":
                auto[_crit(st.criterion)] += 1
            elif st.status == "excluded_title_abstract":
                ta[_crit(st.criterion)] += 1
            elif st.status == "awaiting_screening":
                c.awaiting_screening += 1
            elif st.status == "conflict":
                if st.stages.get("title_abstract") == "conflict":
                    c.conflict_screening += 1
                else:
                    c.conflict_full_text += 1
            elif st.status == "awaiting_full_text":
                c.awaiting_full_text += 1
            elif st.status == "excluded_full_text":
                if (st.criterion or "").lower() in NOT_RETRIEVED:
                    c.reports_not_retrieved += 1
                else:
                    ft[_crit(st.criterion)] += 1
            elif st.status == "included":
                c.included_ids.append(st.work_id)
                if st.human:
                    c.included_human += 1
                else:
                    c.included_rules += 1
        c.included_ids.sort()
        c.excluded_automation_by = dict(sorted(auto.items()))
        c.excluded_automation = sum(auto.values())
        c.excluded_screening_by = dict(sorted(ta.items()))
        c.excluded_screening = sum(ta.values())
        c.excluded_full_text_by = dict(sorted(ft.items()))
        c.excluded_full_text = sum(ft.values())
        c.studies_included = len(c.included_ids)
        c.records_screened = c.works - c.excluded_automation
        c.reports_assessed = c.excluded_full_text + c.conflict_full_text + c.studies_included
        c.reports_sought = c.reports_assessed + c.reports_not_retrieved + c.awaiting_full_text
        c.reports_included = _reports(conn, set(c.included_ids))
        c.previous = _previous(conn, c)
    return c


def version_counts(store: Any, counts: PrismaCounts) -> dict[str, Any]:
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


def record_version(store: Any, counts: PrismaCounts, *, run_id: int, note: str = "") -> int | None:
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
            sa.insert(v).values(
                run_id=run_id,
                created_at=store.clock(),
                counts=vc,
                included=list(counts.included_ids),
                note=note,
            )
        ).inserted_primary_key[0]
    return int(vid)
