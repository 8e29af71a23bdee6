"""The screening state of every work, derived from its append-only decision history.

This is the single place that says what a work's decisions add up to; PRISMA counts, the
report, the web dashboard and exports all use it.

A decision labelled ``undo`` withdraws that reviewer's vote on its stage (the vote
history stays; the undo is a new row).

Stages, in order: ``automation`` (eligibility rules; reviewer ``rules``), ``title_abstract``,
``full_text``. Within a human stage each reviewer's *latest* vote counts; a decision with
stage ``resolution`` (a third reviewer or consensus; its ``note`` names the stage it
resolves, default title_abstract) overrides the votes of that stage.

A human stage's status for a work:

- ``include`` / ``exclude``: the resolution, or — when at least ``reviewers_per_record``
  reviewers voted and all agree — their vote (``maybe`` counts as include for moving on);
- ``conflict``: enough votes, and they disagree (include/maybe vs exclude);
- ``in_progress``: some votes, fewer than required; ``pending``: none.

A work's overall ``status``: ``excluded_automation`` (criterion), ``excluded_title_abstract``,
``excluded_full_text``, ``included``, ``conflict``, ``awaiting_screening`` or
``awaiting_full_text``. In protocol ``screening.mode: rules`` a work that passed the rules
and has no human votes counts as ``included`` (with ``human=False``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store

HUMAN_STAGES = ("title_abstract", "full_text")
#: A decision with this label withdraws the reviewer's earlier vote on the stage.
UNDO = "undo"


@dataclass
class WorkStatus:
    work_id: int
    status: str
    criterion: str | None = None
    human: bool = False
    stages: dict[str, str] = field(default_factory=dict)
    votes: dict[str, dict[str, str]] = field(default_factory=dict)  # stage -> reviewer -> label


def stage_status(
    votes: dict[str, tuple[str, str | None]],
    resolution: tuple[str, str | None] | None,
    required: int,
) -> tuple[str, str | None]:
    if resolution is not None:
        return resolution
    if not votes:
        return "pending", None
    if len(votes) < required:
        return "in_progress", None
    kinds = {"exclude" if lab == "exclude" else "include" for lab, _ in votes.values()}
    if len(kinds) > 1:
        return "conflict", None
    kind = kinds.pop()
    crit = next((c for lab, c in votes.values() if c), None) if kind == "exclude" else None
    return kind, crit


def work_statuses(store: Store, conn: sa.engine.Connection | None = None) -> dict[int, WorkStatus]:
    """The status of every active (not merged) work."""
    settings = store.protocol.screening
    required = settings.reviewers_per_record
    rules_mode = settings.mode == "rules"

    def compute(c: sa.engine.Connection) -> dict[int, WorkStatus]:
        w, d = schema.works, schema.decisions
        ids = list(
            c.execute(sa.select(w.c.id).where(w.c.merged_into.is_(None)).order_by(w.c.id)).scalars()
        )
        auto: dict[int, tuple[str, str | None]] = {}
        votes: dict[int, dict[str, dict[str, tuple[str, str | None]]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        resolutions: dict[int, dict[str, tuple[str, str | None]]] = defaultdict(dict)
        for row in c.execute(
            sa.select(
                d.c.work_id, d.c.stage, d.c.reviewer, d.c.label, d.c.criterion, d.c.note
            ).order_by(d.c.id)
        ):
            wid, stage, reviewer, label, crit, note = row
            if stage == "automation":
                auto[wid] = (label, crit)
            elif stage == "resolution":
                target = note if note in HUMAN_STAGES else "title_abstract"
                resolutions[wid][target] = (label if label != "maybe" else "include", crit)
            elif stage in HUMAN_STAGES:
                if label == UNDO:  # withdraws that reviewer's vote on this stage
                    votes[wid][stage].pop(reviewer, None)
                else:
                    votes[wid][stage][reviewer] = (label, crit)
        out: dict[int, WorkStatus] = {}
        for wid in ids:
            ws = WorkStatus(wid, "awaiting_screening")
            ws.votes = {
                s: {r: lab for r, (lab, _) in v.items()} for s, v in votes.get(wid, {}).items()
            }
            a = auto.get(wid)
            if a and a[0] == "exclude":
                ws.status, ws.criterion = "excluded_automation", a[1]
                ws.stages["automation"] = "exclude"
                out[wid] = ws
                continue
            if a:
                ws.stages["automation"] = "include"
            ta, ta_crit = stage_status(
                votes[wid].get("title_abstract", {}) if wid in votes else {},
                resolutions.get(wid, {}).get("title_abstract"),
                required,
            )
            ft, ft_crit = stage_status(
                votes[wid].get("full_text", {}) if wid in votes else {},
                resolutions.get(wid, {}).get("full_text"),
                required,
            )
            ws.stages["title_abstract"], ws.stages["full_text"] = ta, ft
            ws.human = ta not in ("pending",) or ft not in ("pending",)
            if ta == "exclude":
                ws.status, ws.criterion = "excluded_title_abstract", ta_crit
            elif ta == "conflict":
                ws.status = "conflict"
            elif ta in ("pending", "in_progress"):
                if ta == "pending" and ft == "pending" and rules_mode:
                    ws.status = "included"
                else:
                    ws.status = "awaiting_screening"
            else:  # title/abstract include
                if ft == "exclude":
                    ws.status, ws.criterion = "excluded_full_text", ft_crit
                elif ft == "conflict":
                    ws.status = "conflict"
                elif ft == "include":
                    ws.status = "included"
                else:
                    ws.status = (
                        "included" if rules_mode and ft == "pending" else "awaiting_full_text"
                    )
            out[wid] = ws
        return out

    if conn is not None:
        return compute(conn)
    with store.connect() as c:
        return compute(c)


def included_work_ids(store: Store) -> list[int]:
    return [wid for wid, s in work_statuses(store).items() if s.status == "included"]
