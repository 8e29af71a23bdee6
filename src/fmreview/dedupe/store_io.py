"""Deduplication against the review store: records → works, the review queue, decisions.

:func:`dedupe_store` is incremental: only records not yet in ``work_records`` are
clustered, against representatives of the existing works and each other. Existing works
are never split, and two existing works are merged only by a human "same" decision (the
absorbed work gets ``merged_into``). Human decisions (``dedupe_decisions``, append-only;
the latest decision on a pair counts) are always respected: "same" links, "different"
never merges.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fmreview.errors import InputError, NotFoundError
from fmreview.progress import NullReporter, Reporter
from fmreview.store import schema
from fmreview.store.works import WORK_FIELDS

from .engine import Deduplicator
from .keys import COLUMNS
from .merge import merge_records
from .traps import HARD

if TYPE_CHECKING:
    from fmreview.store import Store

#: Record columns the engine reads.
ENGINE_COLUMNS = COLUMNS
#: Record columns a work is merged from (the work fields, plus the record id).
MERGE_COLUMNS = ("id", *WORK_FIELDS)


#: Rows per INSERT statement.
BATCH = 5000


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a <= b else (b, a)


def human_decisions(conn: Connection) -> dict[tuple[int, int], bool]:
    """The latest human decision per unordered record pair: True = same work."""
    d = schema.dedupe_decisions
    out: dict[tuple[int, int], bool] = {}
    for a, b, same in conn.execute(
        sa.select(d.c.record_a, d.c.record_b, d.c.same).order_by(d.c.id)
    ):
        out[_pair(int(a), int(b))] = bool(same)
    return out


def _membership(conn: Connection) -> dict[int, int]:
    """Record id → its active work id (following ``merged_into``)."""
    w, wr = schema.works, schema.work_records
    merged = dict(
        conn.execute(sa.select(w.c.id, w.c.merged_into).where(w.c.merged_into.is_not(None))).all()
    )

    def active(work: int) -> int:
        seen = set()
        while work in merged and work not in seen:
            seen.add(work)
            work = merged[work]
        return work

    return {
        int(r): active(int(wid)) for r, wid in conn.execute(sa.select(wr.c.record_id, wr.c.work_id))
    }


def _records(
    conn: Connection, ids: Iterable[int] | None, columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    r = schema.records
    q = sa.select(*[r.c[c] for c in columns]).order_by(r.c.id)
    if ids is None:
        return [dict(row._mapping) for row in conn.execute(q)]
    out: list[dict[str, Any]] = []
    ids = list(ids)
    for k in range(0, len(ids), 900):
        out += [dict(row._mapping) for row in conn.execute(q.where(r.c.id.in_(ids[k : k + 900])))]
    return out


def _refresh_works(conn: Connection, work_ids: Iterable[int], run_id: int) -> None:
    """Recompute works' merged values from all their member records (batched)."""
    wr, w = schema.work_records, schema.works
    work_ids = sorted(set(work_ids))
    for start in range(0, len(work_ids), 900):
        chunk = work_ids[start : start + 900]
        members: dict[int, list[int]] = defaultdict(list)
        for rid, wid in conn.execute(
            sa.select(wr.c.record_id, wr.c.work_id).where(wr.c.work_id.in_(chunk))
        ):
            members[int(wid)].append(int(rid))
        recs = {
            rec["id"]: rec
            for rec in _records(conn, [r for m in members.values() for r in m], MERGE_COLUMNS)
        }
        links = {
            int(rid): str(link)
            for rid, link in conn.execute(
                sa.select(wr.c.record_id, wr.c.link).where(wr.c.work_id.in_(chunk))
            )
        }
        work_updates, link_updates = [], []
        for wid, rids in members.items():
            canonical, values, prov = merge_records([recs[r] for r in rids])
            work_updates.append(
                {"_wid": wid, "canonical_record_id": canonical, "updated_run_id": run_id, **values}
            )
            # a former canonical record takes the link its successor had (e.g. the preprint
            # becomes version-of when the published version arrives)
            successor = links.get(canonical, "canonical")
            for rid in rids:
                if rid != canonical and links.get(rid) == "canonical":
                    demoted = successor if successor != "canonical" else "duplicate"
                    link_updates.append(
                        {
                            "_rid": rid,
                            "link": demoted,
                            "reason": {"rule": f"former canonical, now {demoted}"},
                        }
                    )
            link_updates.append(
                {
                    "_rid": canonical,
                    "link": "canonical",
                    "reason": {"rule": "canonical", "provenance": prov},
                }
            )
        if work_updates:
            conn.execute(sa.update(w).where(w.c.id == sa.bindparam("_wid")), work_updates)
            conn.execute(sa.update(wr).where(wr.c.record_id == sa.bindparam("_rid")), link_updates)


def _link_of(links: pd.DataFrame) -> dict[Any, tuple[str, float, dict[str, Any]]]:
    """Record id → (link type, score, reason) of the strongest link that touches it."""
    out: dict[Any, tuple[str, float, dict[str, Any]]] = {}
    rank = {"same": 0, "duplicate": 1, "version-of": 2}
    for row in links.itertuples(index=False):
        kind = "duplicate" if row.link == "same" else row.link
        for rid in (row.a, row.b):
            cur = out.get(rid)
            if cur is None or rank.get(row.link, 3) < rank.get(cur[0], 3):
                out[rid] = (kind, float(row.score), dict(row.reason))
    return out


def _merge_works(conn: Connection, keep: int, absorb: int, run_id: int) -> None:
    w, wr = schema.works, schema.work_records
    conn.execute(
        sa.update(w).where(w.c.id == absorb).values(merged_into=keep, updated_run_id=run_id)
    )
    conn.execute(sa.update(wr).where(wr.c.work_id == absorb).values(work_id=keep))


def apply_decisions(conn: Connection, run_id: int) -> dict[str, int]:
    """Apply human decisions to existing works.

    "Same" merges the two records' works (the later work gets ``merged_into``).
    "Different" on two records that automatic links had put into one work moves one of
    them into a work of its own (``records_split_by_decision``); when both are tied to the
    work by human decisions the conflict is only counted (``decisions_contradicted``).
    """
    decisions = human_decisions(conn)
    member = _membership(conn)
    merged = conflicts = split = 0
    touched: set[int] = set()
    for (a, b), same in decisions.items():
        wa, wb = member.get(a), member.get(b)
        if wa is None or wb is None:
            continue
        if same and wa != wb:
            keep, absorb = min(wa, wb), max(wa, wb)
            _merge_works(conn, keep, absorb, run_id)
            for rid, wid in list(member.items()):
                if wid == absorb:
                    member[rid] = keep
            touched.add(keep)
            merged += 1
        elif not same and wa == wb:
            # automatic links put them together, a person says otherwise: the person wins.
            # Move one record (not the canonical one, not one a person tied to the work)
            # into a work of its own.
            canonical = conn.execute(
                sa.select(schema.works.c.canonical_record_id).where(schema.works.c.id == wa)
            ).scalar_one()
            tied = {
                x
                for (p, q), sm in decisions.items()
                if sm
                for x in (p, q)
                if member.get(p) == member.get(q) == wa
            }
            movable = [x for x in (b, a) if x != canonical and x not in tied]
            if not movable:
                conflicts += 1
                continue
            x = movable[0]
            (rec,) = _records(conn, [x], MERGE_COLUMNS)
            canon, values, prov = merge_records([rec])
            inserted = conn.execute(
                sa.insert(schema.works).values(
                    canonical_record_id=canon, created_run_id=run_id, **values
                )
            ).inserted_primary_key
            assert inserted is not None
            new_work = inserted[0]
            conn.execute(
                sa.update(schema.work_records)
                .where(schema.work_records.c.record_id == x)
                .values(
                    work_id=new_work,
                    link="canonical",
                    score=None,
                    reason={"rule": "split by human decision: different", "provenance": prov},
                    run_id=run_id,
                )
            )
            member[x] = int(new_work)
            touched.add(wa)
            split += 1
    _refresh_works(conn, touched, run_id)
    return {
        "works_merged_by_decision": merged,
        "records_split_by_decision": split,
        "decisions_contradicted": conflicts,
    }


def deduplicator_for(store: Store) -> Deduplicator:
    """A :class:`Deduplicator` configured by the protocol's ``dedupe`` settings."""
    s = store.protocol.dedupe
    return Deduplicator(
        upper=s.upper,
        lower=s.lower,
        title_min=s.title_min,
        link_versions=getattr(s, "link_versions", True),
        merge_conference_abstracts=s.merge_conference_abstracts,
    )


def _member_row(
    rid: int,
    work_id: int,
    canonical: Any,
    prov: dict[str, Any],
    link: tuple[str, Any, dict[str, Any]] | None,
    run_id: int,
) -> dict[str, Any]:
    """A ``work_records`` row: the canonical record, or a linked one with its score and why
    (a record with no link joined by a person's "same" decision)."""
    if rid == canonical:
        kind, score, why = "canonical", None, {"rule": "canonical", "provenance": prov}
    else:
        kind, score, why = link or ("duplicate", None, {"rule": "human decision: same"})
    return {
        "record_id": rid,
        "work_id": work_id,
        "link": kind,
        "score": score,
        "reason": why,
        "run_id": run_id,
    }


def _queue_uncertain(
    conn: sa.Connection, uncertain: pd.DataFrame, decisions: dict[Any, bool], run_id: int
) -> list[dict[str, Any]]:
    """Queue for a person the uncertain pairs not yet queued nor decided; return them."""
    dp = schema.dedupe_pairs
    queued = {
        _pair(int(a), int(b)) for a, b in conn.execute(sa.select(dp.c.record_a, dp.c.record_b))
    }
    pairs: list[dict[str, Any]] = []
    for row in uncertain.itertuples(index=False):
        key = _pair(int(row.a), int(row.b))
        if key in queued or key in decisions:
            continue
        queued.add(key)
        pairs.append(
            {
                "record_a": key[0],
                "record_b": key[1],
                "score": float(row.score),
                "reason": dict(row.reason),
                "run_id": run_id,
            }
        )
    if pairs:
        conn.execute(sa.insert(dp), pairs)
    return pairs


def dedupe_store(store: Store, *, run_id: int, reporter: Reporter | None = None) -> dict[str, int]:
    """Cluster the store's new records into works; queue uncertain pairs for a person.

    Returns counts: ``records_new``, ``works_created``, ``records_joined_existing``,
    ``duplicate_links``, ``version_links``, ``uncertain_pairs`` (queued for a person this
    run; of them ``review_version_proposals`` conference/journal versions,
    ``review_generic_titles`` generic titles without hard evidence,
    ``review_title_conflicts`` titles that differ beyond a typo),
    ``pairs_kept_apart_by_contradiction`` (candidate pairs a trap counted, see
    :mod:`.traps`), ``candidate_pairs``, and
    from :func:`apply_decisions` ``works_merged_by_decision``,
    ``records_split_by_decision``, ``decisions_contradicted``.
    """
    reporter = reporter or NullReporter()
    model = deduplicator_for(store)
    counts: dict[str, int] = {}
    with store.begin() as conn:
        counts.update(apply_decisions(conn, run_id))
        member = _membership(conn)
        decisions = human_decisions(conn)
        r = schema.records
        all_ids = list(conn.execute(sa.select(r.c.id).order_by(r.c.id)).scalars())
        new_ids = [i for i in all_ids if i not in member]
        counts["records_new"] = len(new_ids)
        if not new_ids:
            counts.update(
                works_created=0,
                records_joined_existing=0,
                duplicate_links=0,
                version_links=0,
                uncertain_pairs=0,
                review_version_proposals=0,
                review_generic_titles=0,
                review_title_conflicts=0,
                pairs_kept_apart_by_contradiction=0,
                candidate_pairs=0,
            )
            return counts
        reporter.log(
            f"dedupe: {len(new_ids)} new record(s), {len(set(member.values()))} existing work(s)"
        )
        new = pd.DataFrame(_records(conn, new_ids, ENGINE_COLUMNS), columns=list(ENGINE_COLUMNS))
        same = [p for p, s in decisions.items() if s]
        different = [p for p, s in decisions.items() if not s]
        with reporter.task("dedupe: comparing records", total=None):
            if member:
                existing = pd.DataFrame(
                    _records(conn, list(member), ENGINE_COLUMNS), columns=list(ENGINE_COLUMNS)
                )
                existing["cluster"] = [member[int(x)] for x in existing["id"]]
                model.partial_fit(new, existing=existing, same=same, different=different)
            else:
                model.fit(new, same=same, different=different)
        clusters = model.clusters_
        link_of = _link_of(model.links_)
        existing_works = set(member.values())
        groups: dict[Any, list[int]] = defaultdict(list)
        for rid in new_ids:
            groups[clusters[rid]].append(rid)
        created = joined = 0
        touched: set[int] = set()
        wr = schema.work_records
        recs_by_id = {rec["id"]: rec for rec in _records(conn, new_ids, MERGE_COLUMNS)}

        def member_row(
            rid: int, work_id: int, canonical: Any, prov: dict[str, Any]
        ) -> dict[str, Any]:
            return _member_row(rid, work_id, canonical, prov, link_of.get(rid), run_id)

        member_rows: list[dict[str, Any]] = []
        fresh: list[tuple[list[int], Any, dict[str, Any], dict[str, Any]]] = []
        for cluster, rids in groups.items():
            if cluster in existing_works:
                joined += len(rids)
                touched.add(int(cluster))
                member_rows += [member_row(rid, int(cluster), None, {}) for rid in rids]
            else:
                canonical, values, prov = merge_records([recs_by_id[rid] for rid in rids])
                fresh.append((rids, canonical, values, prov))
        # one INSERT ... RETURNING per batch of works (ids in parameter order)
        for start in range(0, len(fresh), BATCH):
            chunk = fresh[start : start + BATCH]
            work_rows = [
                {"canonical_record_id": c, "created_run_id": run_id, **v} for _, c, v, _ in chunk
            ]
            work_ids = (
                conn.execute(
                    sa.insert(schema.works).returning(
                        schema.works.c.id, sort_by_parameter_order=True
                    ),
                    work_rows,
                )
                .scalars()
                .all()
            )
            for (rids, canonical, _, prov), work_id in zip(chunk, work_ids, strict=True):
                member_rows += [member_row(rid, int(work_id), canonical, prov) for rid in rids]
            created += len(chunk)
        for start in range(0, len(member_rows), BATCH):
            conn.execute(sa.insert(wr), member_rows[start : start + BATCH])
        _refresh_works(conn, touched, run_id)
        pairs = _queue_uncertain(conn, model.uncertain_, decisions, run_id)
        links = model.links_
        kinds = [p["reason"].get("rule") for p in pairs]
        held = [p["reason"].get("trap") for p in pairs]
        counts.update(
            works_created=created,
            records_joined_existing=joined,
            duplicate_links=int((links["link"] == "duplicate").sum()) if len(links) else 0,
            version_links=int((links["link"] == "version-of").sum()) if len(links) else 0,
            uncertain_pairs=len(pairs),
            review_version_proposals=kinds.count("version-of?"),
            review_generic_titles=held.count("generic_title"),
            review_title_conflicts=held.count("title_conflict"),
            pairs_kept_apart_by_contradiction=sum(
                n for name, n in model.traps_.items() if name in HARD
            ),
            candidate_pairs=int(model.n_pairs_),
        )
    return counts


def pending_pairs(store: Store) -> list[dict[str, Any]]:
    """Queued uncertain pairs without a human decision whose records are still in different
    works, best score first; each with ``id``, ``score``, ``reason`` and the two records
    (``a``, ``b``: dicts of record fields)."""
    dp = schema.dedupe_pairs
    with store.connect() as conn:
        decided = human_decisions(conn)
        member = _membership(conn)
        rows = [
            dict(r._mapping)
            for r in conn.execute(sa.select(dp).order_by(dp.c.score.desc(), dp.c.id))
        ]
        rows = [
            r
            for r in rows
            if _pair(r["record_a"], r["record_b"]) not in decided
            and not (
                member.get(r["record_a"]) is not None
                and member.get(r["record_a"]) == member.get(r["record_b"])
            )
        ]
        ids = {r["record_a"] for r in rows} | {r["record_b"] for r in rows}
        cols = (*ENGINE_COLUMNS, "source", "url")
        recs = {rec["id"]: rec for rec in _records(conn, ids, cols)}
    return [
        {
            "id": r["id"],
            "score": r["score"],
            "reason": r["reason"],
            "a": recs[r["record_a"]],
            "b": recs[r["record_b"]],
        }
        for r in rows
    ]


def decide_pair(store: Store, a: int, b: int, same: bool, reviewer: str, note: str = "") -> int:
    """Append a human decision on records ``a`` and ``b``; returns the decision id.

    The decision takes effect at the next :func:`dedupe_store` (``same`` merges their
    works; ``different`` keeps them apart for good).
    """
    if a == b:
        raise InputError(
            f"A record cannot be compared with itself (record {a}); pass two different record ids."
        )
    if not reviewer:
        raise InputError("A dedupe decision needs a reviewer name; pass --reviewer NAME.")
    r = schema.records
    with store.begin() as conn:
        found = set(conn.execute(sa.select(r.c.id).where(r.c.id.in_([a, b]))).scalars())
        missing = [x for x in (a, b) if x not in found]
        if missing:
            raise NotFoundError(
                f"No record with id {missing[0]} in this review; see `fmreview dedupe review` for pending pairs."
            )
        lo, hi = _pair(a, b)
        return int(
            conn.execute(
                sa.insert(schema.dedupe_decisions)
                .values(
                    record_a=lo,
                    record_b=hi,
                    same=bool(same),
                    reviewer=reviewer,
                    note=note,
                    created_at=store.clock(),
                )
                .returning(schema.dedupe_decisions.c.id)
            ).scalar_one()
        )
