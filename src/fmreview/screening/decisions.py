"""The one decision writer of screening, and what each person may see of the decisions.

Every screening decision — a vote from the terminal session, the web app or a library
caller, a changed vote, an undo, a conflict's resolution — is appended here, after one
validation (:func:`write_decision`). The rules it enforces, whoever calls it:

- the label, stage and exclusion criterion are the protocol's; the work exists and was not
  merged into another one; the eligibility rules did not exclude it; a full-text vote needs
  the title/abstract stage to have ended in include;
- **a first vote** goes only to a work that still needs votes at that stage (fewer than
  ``reviewers_per_record`` standing votes, no outcome yet) and, for a web user, only to the
  work the screening engine assigned to that person at that stage;
- **a changed vote** (a second vote on the same work and stage, or an ``undo``) is a new row
  that names the decision it replaces and gives a reason, and is refused once the stage is
  *resolved*: a resolution was recorded, or the outcome rests on two or more reviewers'
  votes (a reviewer screening alone may still change their own decision);
- with blinding on, none of this is told through the refusal: a vote refused because the
  work is not yours says only that (the same message whatever the others voted).

Refusals of the rules above raise :class:`~fmreview.errors.ForbiddenError` (the web app
answers 403); malformed input raises :class:`~fmreview.errors.InputError`.

**Blinding** (:func:`visible_votes`): with ``screening.blinding`` on, a reviewer sees, for a
stage that has no outcome yet, only their own vote — not the stage status (``in_progress``
or ``conflict`` would tell the co-reviewer's vote), nor how many votes are hidden — until
the stage ends (agreement, or a resolution of the conflict) or an admin unblinds the review.
Admins see everything.

On PostgreSQL the work's row is locked for the validation (``SELECT ... FOR UPDATE``), so two
concurrent requests of one reviewer cannot both pass as a first vote; on SQLite the app's
single writer thread orders the writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Required, TypedDict, Unpack

import sqlalchemy as sa

from fmreview.errors import ForbiddenError, InputError, NotFoundError
from fmreview.status import stage_status, work_statuses
from fmreview.store import schema

STAGES = ("title_abstract", "full_text")
#: Labels a reviewer gives; ``undo`` withdraws their vote (a change, like any other).
LABELS = ("include", "exclude", "maybe", "undo")
FINAL = ("include", "exclude")
ROLES = ("admin", "reviewer", "local")
#: What a reviewer sees instead of a stage status while blinded.
BLINDED = "blinded"
MAX_NOTE = 10000


class Vote(TypedDict, total=False):
    """What a vote says: the keywords of :func:`write_decision` and of the screening
    engine's ``decide`` (``stage`` defaults to ``title_abstract``, ``note`` to none)."""

    work_id: Required[int]
    label: Required[str]
    stage: str
    criterion: str | None
    note: str


@dataclass(frozen=True)
class Actor:
    """Who makes a decision: a web user (``admin`` or ``reviewer``) or ``local`` (the
    terminal session or a library caller working on their own review file)."""

    name: str
    role: str = "local"

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise InputError("a decision needs a reviewer name (--reviewer NAME)")
        if self.role not in ROLES:
            raise InputError(f"role {self.role!r} is not one of {', '.join(ROLES)}")

    @property
    def web(self) -> bool:
        return self.role != "local"


@dataclass
class WorkDecisions:
    """One work's standing decisions: per stage, reviewer -> (label, criterion, decision id)."""

    work_id: int
    votes: dict[str, dict[str, tuple[str, str | None, int]]] = field(
        default_factory=lambda: {s: {} for s in STAGES}
    )
    resolutions: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    auto: tuple[str, str | None] | None = None

    def status(self, stage: str, required: int) -> str:
        votes = {r: (lab, c) for r, (lab, c, _) in self.votes[stage].items()}
        return stage_status(votes, self.resolutions.get(stage), required)[0]

    def resolved(self, stage: str, required: int) -> bool:
        """A resolution was recorded, or the outcome rests on two or more reviewers."""
        if stage in self.resolutions:
            return True
        return self.status(stage, required) in FINAL and len(self.votes[stage]) >= 2


_WORK = sa.select(schema.works.c.id, schema.works.c.merged_into).where(
    schema.works.c.id == sa.bindparam("wid")
)
_WORK_DECISIONS = (
    sa.select(
        schema.decisions.c.id,
        schema.decisions.c.stage,
        schema.decisions.c.reviewer,
        schema.decisions.c.label,
        schema.decisions.c.criterion,
        schema.decisions.c.note,
    )
    .where(schema.decisions.c.work_id == sa.bindparam("wid"))
    .order_by(schema.decisions.c.id)
)
_INSERT = sa.insert(schema.decisions)


def read_work(conn: sa.Connection, work_id: int, *, lock: bool = False) -> WorkDecisions:
    """The work's standing decisions (``lock``: hold its row until the transaction ends)."""
    stmt = _WORK.with_for_update() if lock and conn.dialect.name != "sqlite" else _WORK
    row = conn.execute(stmt, {"wid": work_id}).first()
    if row is None:
        raise NotFoundError(f"no work with id {work_id}; list works with: fmreview screen status")
    if row.merged_into is not None:
        raise InputError(f"work {work_id} was merged into work {row.merged_into}; screen that one")
    out = WorkDecisions(work_id)
    for did, stage, reviewer, label, crit, note in conn.execute(_WORK_DECISIONS, {"wid": work_id}):
        if stage == "automation":
            out.auto = (label, crit)
        elif stage == "resolution":
            target = note if note in STAGES else "title_abstract"
            out.resolutions[target] = (label if label != "maybe" else "include", crit)
        elif stage in STAGES:
            if label == "undo":
                out.votes[stage].pop(reviewer, None)
            else:
                out.votes[stage][reviewer] = (label, crit, int(did))
    return out


def check_fields(store: Any, *, label: str, stage: str, criterion: str | None) -> str | None:
    """The label, stage and criterion of a vote (the criterion, cleaned, is returned)."""
    if label not in LABELS:
        raise InputError(f"decision label {label!r} is not one of {', '.join(LABELS)}")
    if stage not in STAGES:
        raise InputError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    criterion = (criterion or "").strip() or None
    if criterion is not None:
        store.protocol.criterion(criterion)  # raises, listing the protocol's criteria
    return criterion


def check_decision(
    store: Any,
    work: WorkDecisions,
    *,
    actor: Actor,
    stage: str,
    label: str,
    reason: str,
    assigned: bool | None,
) -> int | None:
    """Apply the rules of the module docstring; returns the id of the decision a change
    replaces (None for a first vote)."""
    required = int(store.protocol.screening.reviewers_per_record)
    wid = work.work_id
    if work.auto is not None and work.auto[0] == "exclude":
        raise ForbiddenError(
            f"work {wid} was excluded by the eligibility rule {work.auto[1] or '(unnamed)'}; "
            "it takes no screening vote"
        )
    if stage == "full_text" and work.status("title_abstract", required) != "include":
        raise ForbiddenError(
            f"work {wid} is not at the full-text stage: its title/abstract screening has not "
            "ended in include"
        )
    mine = work.votes[stage].get(actor.name)
    if mine is not None or label == "undo":
        if mine is None:
            raise InputError(f"you have no vote on work {wid} at {stage} to undo")
        if not reason.strip():
            raise InputError(
                f"you already voted {mine[0]!r} on work {wid} at {stage}; a changed vote needs "
                "a reason (the note), and is recorded beside the first one"
            )
        if work.resolved(stage, required):
            raise ForbiddenError(
                f"work {wid} is resolved at {stage}; a vote can only change before that"
            )
        return mine[2]
    not_yours = ForbiddenError(
        f"work {wid} is not assigned to you at {stage}; take your next work from the queue"
    )
    if assigned is False:
        raise not_yours
    if work.status(stage, required) not in ("pending", "in_progress"):
        raise not_yours
    if len(work.votes[stage]) >= required:
        raise not_yours
    return None


def write_decision(
    store: Any,
    *,
    actor: Actor,
    model: dict[str, Any] | None = None,
    assigned: bool | None = None,
    run_id: int | None = None,
    **vote: Unpack[Vote],
) -> int:
    """Validate and append one screening decision (one transaction); returns its id.

    ``vote`` holds ``work_id``, ``label`` and optionally ``stage``, ``criterion`` and
    ``note`` (the reviewer's note, and the reason of a changed vote). ``assigned``: whether
    the screening engine assigned this work to the actor at this stage (web users:
    required; None for a local caller, who may vote on any work that still needs votes).
    """
    work_id, label = vote["work_id"], vote["label"]
    stage = vote.get("stage", "title_abstract")
    criterion = check_fields(store, label=label, stage=stage, criterion=vote.get("criterion"))
    if actor.web and assigned is None:
        raise ForbiddenError("a web vote needs the engine's assignment")
    note = (vote.get("note") or "")[:MAX_NOTE]
    with store.begin() as conn:
        work = read_work(conn, work_id, lock=True)
        replaces = check_decision(
            store, work, actor=actor, stage=stage, label=label, reason=note, assigned=assigned
        )
        state = dict(model or {})
        if replaces is not None:
            state["replaces"] = replaces
            state["reason"] = note
        return _append(
            conn,
            store,
            {
                "work_id": work_id,
                "stage": stage,
                "reviewer": actor.name,
                "label": label,
                "criterion": criterion,
                "note": note,
                "model": state or None,
                "run_id": run_id,
            },
        )


def _append(conn: Any, store: Any, row: dict[str, Any]) -> int:
    """Insert one decision row, stamped with the store's clock; return its id.

    The exclusion criterion is kept only on an exclusion.
    """
    row = {
        **row,
        "criterion": row["criterion"] if row["label"] == "exclude" else None,
        "created_at": store.clock(),
    }
    return int(conn.execute(_INSERT, row).inserted_primary_key[0])


def resolve_conflict(
    store: Any,
    *,
    work_id: int,
    stage: str,
    label: str,
    reviewer: str,
    method: str = "third reviewer",
    criterion: str | None = None,
    comment: str = "",
) -> int:
    """Record a ``resolution`` decision settling a conflict at ``stage``.

    Its ``note`` is the stage name (that is how :mod:`fmreview.status` knows what it
    resolves); how it was settled (``third reviewer`` or ``consensus``), the comment and the
    votes it settled go in the ``model`` column.
    """
    criterion = check_fields(store, label=label, stage=stage, criterion=criterion)
    if label == "undo":
        raise InputError("a resolution is include, exclude or maybe")
    if method not in ("third reviewer", "consensus"):
        raise InputError(f"resolution method {method!r} is not one of: third reviewer, consensus")
    required = int(store.protocol.screening.reviewers_per_record)
    with store.begin() as conn:
        work = read_work(conn, work_id, lock=True)
        status = work.status(stage, required)
        if status != "conflict":
            raise InputError(
                f"work {work_id} has no conflict at {stage} (its status there is {status!r})"
            )
        return _append(
            conn,
            store,
            {
                "work_id": work_id,
                "stage": "resolution",
                "reviewer": reviewer,
                "label": label,
                "criterion": criterion,
                "note": stage,
                "model": {
                    "resolution": method,
                    "comment": (comment or "")[:MAX_NOTE],
                    "votes": {r: v[0] for r, v in work.votes[stage].items()},
                },
                "run_id": None,
            },
        )


# ----------------------------------------------------------------------------- blinding
def blinded_for(store: Any, *, is_admin: bool, unblinded: bool = False) -> bool:
    """Whether this viewer sees others' votes only once a stage has ended."""
    return bool(store.protocol.screening.blinding) and not is_admin and not unblinded


def visible_votes(
    store: Any,
    work_id: int,
    *,
    viewer: str,
    is_admin: bool,
    unblinded: bool = False,
    conn: sa.Connection | None = None,
) -> dict[str, dict[str, Any]]:
    """Per stage: ``status`` and the votes this viewer may see (``votes``: reviewer ->
    label). While blinded (see the module docstring) a stage without an outcome shows
    status ``blinded`` and the viewer's own vote only."""
    blind = blinded_for(store, is_admin=is_admin, unblinded=unblinded)
    st = work_statuses(store, conn).get(work_id)
    if st is None:
        raise NotFoundError(f"no active work with id {work_id}")
    out: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        status = st.stages.get(stage, "pending")
        votes = st.votes.get(stage, {})
        if not blind or status in FINAL:
            out[stage] = {"status": status, "votes": dict(votes)}
        else:
            mine = {r: v for r, v in votes.items() if r == viewer}
            out[stage] = {"status": BLINDED, "votes": mine}
    return out


def conflicts(store: Any) -> list[dict[str, Any]]:
    """Works in conflict, with every vote and its criterion and note (for admins)."""
    d = schema.decisions
    statuses = {wid: s for wid, s in work_statuses(store).items() if s.status == "conflict"}
    if not statuses:
        return []
    latest: dict[tuple[int, str, str], dict[str, Any]] = {}
    with store.connect() as conn:
        for row in conn.execute(
            sa.select(d)
            .where(d.c.work_id.in_(list(statuses)), d.c.stage.in_(STAGES))
            .order_by(d.c.id)
        ):
            m = dict(row._mapping)
            latest[(m["work_id"], m["stage"], m["reviewer"])] = m
        works = {
            r.id: dict(r._mapping)
            for r in conn.execute(
                sa.select(
                    schema.works.c.id,
                    schema.works.c.title,
                    schema.works.c.abstract,
                    schema.works.c.year,
                ).where(schema.works.c.id.in_(list(statuses)))
            )
        }
    out = []
    for wid, st in sorted(statuses.items()):
        stage = next(s for s in STAGES if st.stages.get(s) == "conflict")
        votes = [
            v
            for (w, s, _r), v in latest.items()
            if w == wid and s == stage and v["label"] != "undo"
        ]
        out.append({"work_id": wid, "stage": stage, "work": works.get(wid, {}), "votes": votes})
    return out
