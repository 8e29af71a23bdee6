"""What the dashboard shows: progress per stage, PRISMA counts, recall and stopping, agreement.

Each part comes from the module that owns it — :mod:`fmreview.status` (every work's
status), :mod:`fmreview.report.prisma` (PRISMA counts), :mod:`fmreview.screening.session`
(recall estimate and stopping rule), :mod:`fmreview.agreement` (kappa, AC1, Fleiss,
Krippendorff); a failing part is shown with the reason instead of breaking the page.
Agreement is for admins; with blinding on, reviewers see only their own queue
(:func:`dashboard`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa

from fmreview.agreement import agreement
from fmreview.screening.recall import store_recall_estimate
from fmreview.screening.session import status
from fmreview.status import work_statuses
from fmreview.store import schema

STAGE_STATES = ("pending", "in_progress", "conflict", "include", "exclude")


def progress(store: Any) -> dict[str, Any]:
    """Counts of works per overall status and per stage status, and votes per reviewer."""
    statuses = work_statuses(store)
    overall = Counter(s.status for s in statuses.values())
    stages: dict[str, Counter[str]] = {"title_abstract": Counter(), "full_text": Counter()}
    per_reviewer: dict[str, Counter[str]] = {}
    for s in statuses.values():
        if s.status == "excluded_automation":
            continue
        stages["title_abstract"][s.stages.get("title_abstract", "pending")] += 1
        if s.stages.get("title_abstract") == "include":
            stages["full_text"][s.stages.get("full_text", "pending")] += 1
        for stage, votes in s.votes.items():
            for reviewer in votes:
                per_reviewer.setdefault(reviewer, Counter())[stage] += 1
    return {
        "works": len(statuses),
        "overall": dict(overall),
        "stages": {k: {st: v.get(st, 0) for st in STAGE_STATES} for k, v in stages.items()},
        "reviewers": {r: dict(c) for r, c in sorted(per_reviewer.items())},
    }


def prisma(store: Any) -> dict[str, Any]:
    from fmreview.report.prisma import prisma_counts

    try:
        c = prisma_counts(store)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        return {"source": "error", "error": f"{type(exc).__name__}: {exc}"}
    rows = [
        ("Records identified", c.records_identified),
        ("Duplicates removed", c.duplicates_removed),
        ("Records awaiting dedupe", c.records_awaiting_dedupe),
        ("Excluded by automation", c.excluded_automation),
        ("Records screened", c.records_screened),
        ("Excluded at title/abstract", c.excluded_screening),
        ("Conflicts at title/abstract", c.conflict_screening),
        ("Awaiting screening", c.awaiting_screening),
        ("Reports sought", c.reports_sought),
        ("Awaiting full text", c.awaiting_full_text),
        ("Reports assessed", c.reports_assessed),
        ("Excluded at full text", c.excluded_full_text),
        ("Conflicts at full text", c.conflict_full_text),
        ("Studies included", c.studies_included),
    ]
    return {
        "source": "prisma",
        "rows": rows,
        "invariants_ok": all(i.ok for i in c.invariants()),
        "bad": [f"{i.name}: {i.left} != {i.right}" for i in c.invariants() if not i.ok],
    }


def stopping(store: Any) -> dict[str, Any] | None:
    try:
        out = dict(status(store))
        # the same estimate `fmreview screen status` prints: relevant works, recall with
        # its interval, and the works left to the recall target
        out["estimate"] = store_recall_estimate(store).to_dict()
        return out
    except Exception as exc:  # noqa: BLE001 - shown on the page
        return {"error": f"{type(exc).__name__}: {exc}"}


def agreement_tables(store: Any) -> list[dict[str, Any]]:
    """Agreement per human stage that has votes from at least two reviewers."""
    out = []
    for stage in ("title_abstract", "full_text"):
        try:
            rep = agreement(store, stage)
        except Exception as exc:  # noqa: BLE001 - shown on the page
            out.append({"stage": stage, "error": f"{type(exc).__name__}: {exc}"})
            continue
        if len(rep.reviewers) >= 2:
            out.append({"stage": stage, **rep.as_dict()})
    return out


def human_checks(store: Any) -> dict[str, Any]:
    """Pending dedupe pairs and extraction labels by review status."""
    out: dict[str, Any] = {}
    try:
        from fmreview.dedupe.store_io import pending_pairs

        out["dedupe_pending"] = len(pending_pairs(store))
    except Exception:  # noqa: BLE001 - dedupe module missing or not run
        out["dedupe_pending"] = None
    lab = schema.labels
    with store.connect() as conn:
        out["labels"] = {
            str(k): int(v)
            for k, v in conn.execute(
                sa.select(lab.c.status, sa.func.count()).group_by(lab.c.status)
            )
        }
    return out


def dashboard(store: Any, *, admin: bool = True, blinded: bool = False) -> dict[str, Any]:
    """Everything for an admin. For a reviewer no agreement statistics (they pair up the
    reviewers' votes), and while blinded nothing derived from others' votes either: no
    stage counts, PRISMA counts or recall estimate (``None`` in their place), since e.g. a
    conflict count moving after one's own vote tells the co-reviewer's."""
    hide = blinded and not admin
    return {
        "progress": None if hide else progress(store),
        "prisma": None if hide else prisma(store),
        "stopping": None if hide else stopping(store),
        "agreement": agreement_tables(store) if admin else None,
        "checks": None if hide else human_checks(store),
        "screening": {
            "reviewers_per_record": store.protocol.screening.reviewers_per_record,
            "blinding": store.protocol.screening.blinding,
            "mode": store.protocol.screening.mode,
        },
    }
