"""The screening queue of each reviewer, dual screening and blinding.

What a reviewer is served at a stage (``title_abstract`` or ``full_text``): an active work
that still needs votes there — fewer than the protocol's ``reviewers_per_record`` standing
votes and no resolution (:func:`fmreview.status.stage_status` decides, the same function
the status of every work comes from) — that this reviewer has not voted on, that the
eligibility rules did not exclude, and (full text) whose title/abstract stage ended in
include. Among those, works another reviewer has already started come first, so started
works get finished and conflicts surface early; then the active-learning order (the
screening module's ranker, refitted in the background as votes arrive), else work id order.

**Random phase.** When the protocol's stopping rule needs a random sample (``hypergeometric``)
and the terminal session's criterion for starting it holds — or an admin started it — new
title/abstract works are drawn at random instead of by rank (:mod:`fmreview.web.phase`), and
the votes on them record ``phase: random``: the first reviewer's, and the other reviewers'
when the work comes back to them as a started work, so dual screening and blinding work as
before. The dashboard's stopping status reads those votes as ``fmreview screen status`` does.

A work served to a reviewer is *leased* to them for ``lease_seconds``: reloading the page
shows the same work, and the work is not served to more reviewers than it still needs
votes from while the lease holds. Leases only shape the queue; votes are never refused.

The vote tally is kept in memory and refreshed incrementally: decisions are append-only,
so reading the rows with an id above the last one seen is enough. Every request therefore
costs one small query, not a scan of the whole history.

Blinding (:func:`visible_votes`): with ``screening.blinding`` on, a reviewer sees only their
own votes on a stage until that stage's status is final (include or exclude); admins see all.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from fmreview.errors import FmreviewError, InputError, NotFoundError
from fmreview.screening.session import random_draw
from fmreview.status import stage_status, work_statuses
from fmreview.store import schema
from fmreview.web.phase import START_COMMAND, ScreeningSequence

STAGES = ("title_abstract", "full_text")
LABELS = ("include", "exclude", "maybe")
FINAL = ("include", "exclude")


@dataclass
class QueueItem:
    """The work to show a reviewer next, and where it came from."""

    work_id: int
    stage: str
    rank: int | None
    score: float | None
    phase: str  # started | ranked | unranked | random
    remaining: int

    def model_state(self, config: dict[str, Any] | None, training: int) -> dict[str, Any]:
        return {
            "source": "web",
            "config": config,
            "rank": self.rank,
            "score": self.score,
            "phase": self.phase,
            "training": training,
        }


# ----------------------------------------------------------------------------- ranking
@dataclass
class Ranking:
    order: list[int] = field(default_factory=list)  # work ids, best first
    position: dict[int, int] = field(default_factory=dict)  # work id -> index in order
    scores: dict[int, float] = field(default_factory=dict)
    training: int = 0
    fitted_at_decisions: int = -1
    config: dict[str, Any] | None = None


def compute_ranking(store: Any) -> Ranking | None:
    """The active-learning order of every active work (None when the screening module is
    missing or has nothing to learn from yet: it needs an include and an exclude)."""
    try:
        from fmreview.screening.session import Session, load_state
    except ImportError:  # pragma: no cover - screening module absent
        return None
    sess = Session(store)
    state = load_state(store)
    ranked = sess.ranking(state)
    if ranked is None:
        return None
    scores = ranked[0]
    ids = [int(w) for w in state.work_ids]
    order = [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-float(scores[i]), ids[i]))]
    return Ranking(
        order=order,
        position={wid: i for i, wid in enumerate(order)},
        scores={ids[i]: float(scores[i]) for i in range(len(ids))},
        training=len(state.training()[1]),
        config=sess.config.to_meta(),
    )


def _screening_config(store: Any) -> dict[str, Any] | None:
    try:
        from fmreview.screening.session import ScreeningConfig
    except ImportError:  # pragma: no cover
        return None
    return ScreeningConfig.from_protocol(store.protocol).to_meta()


def _stopping_rule(config: dict[str, Any] | None) -> Any:
    """The protocol's stopping rule (None when the screening module is missing or the
    protocol names a rule it cannot build: the queue then has no random phase)."""
    if config is None:
        return None
    try:
        from fmreview.screening.stopping import rule_from_meta

        return rule_from_meta(config["stopping"])
    except (ImportError, FmreviewError, KeyError):
        return None


# ----------------------------------------------------------------------------- the queue
class ScreeningQueue:
    """Serves works to reviewers (see the module docstring).

    Parameters
    ----------
    store
        The review store.
    ranking
        ``"background"`` (refit in a thread after ``rank_every`` new votes), ``"sync"``
        (refit inside the request; tests) or ``"off"`` (work id order).
    rank_every, rank_interval
        Refit after ``rank_every`` new votes, and at most once per ``rank_interval`` seconds
        (a refit over thousands of works costs a few hundred ms of CPU).
    lease_seconds
        How long a served work stays reserved for its reviewer.
    refresh_interval
        Read new decisions at most this often (seconds; 0 = on every request). Votes cast
        through this app are folded in at once (:meth:`note_vote`); the interval only delays
        decisions written by other processes (the CLI).
    works_ttl
        Seconds between full re-reads of the works list (to notice works merged by dedupe).
    clock
        Seconds (``time.monotonic``); tests pass a fake one.
    """

    def __init__(
        self,
        store: Any,
        *,
        ranking: str = "background",
        rank_every: int = 10,
        rank_interval: float = 0.0,
        lease_seconds: float = 600.0,
        works_ttl: float = 10.0,
        refresh_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ranking not in ("background", "sync", "off"):
            raise InputError(f"ranking mode {ranking!r} is not one of background, sync, off")
        self.store = store
        self.ranking_mode = ranking
        self.rank_every = rank_every
        self.rank_interval = rank_interval
        self._fitted_clock = float("-inf")
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.required = int(store.protocol.screening.reviewers_per_record)
        self._lock = threading.RLock()
        self._last_id = 0
        self._works_key: tuple[int, int] | None = None
        self._works_checked = float("-inf")
        self._refreshed_at = float("-inf")
        self._latest: dict[tuple[str, int, str], int] = {}
        self.refresh_interval = refresh_interval
        self.works_ttl = works_ttl
        self._works: list[int] = []
        self._active: set[int] = set()
        self._auto: dict[int, str] = {}
        self._votes: dict[str, dict[int, dict[str, tuple[str, str | None]]]] = {
            s: defaultdict(dict) for s in STAGES
        }
        self._resolutions: dict[str, dict[int, tuple[str, str | None]]] = {s: {} for s in STAGES}
        self._open: dict[str, set[int]] = {s: set() for s in STAGES}
        self._started: dict[str, set[int]] = {s: set() for s in STAGES}
        self._by_reviewer: dict[str, dict[str, set[int]]] = {s: defaultdict(set) for s in STAGES}
        self._leases: dict[tuple[str, str], tuple[int, float]] = {}
        self._served: dict[tuple[str, str], QueueItem] = {}
        self._human_votes = 0
        self._ranking = Ranking()
        self._ranking_thread: threading.Thread | None = None
        self._config = _screening_config(store)
        self._rule = _stopping_rule(self._config)
        self._sequence = ScreeningSequence()
        self._position_of: dict[int, int] = {}  # work id -> index in self._works
        self.admin_started = False  # an admin started the random phase (a run says so)

    # ------------------------------------------------------------------ tally
    def refresh(self, max_age: float = 0.0) -> None:
        """Read new decisions (and the works list when it changed), unless the last read is
        younger than ``max_age`` seconds."""
        w = schema.works
        now = self.clock()
        if max_age > 0 and now - self._refreshed_at < max_age:
            return
        with self.store.connect() as conn:
            # new works show as a higher max id (a primary-key lookup); merges are caught by
            # a full re-read every ``works_ttl`` seconds (counting active works reads every row)
            top = int(conn.execute(_MAX_WORK).scalar() or 0)
            works = None
            if (
                self._works_key is None
                or top != self._works_key[1]
                or now >= self._works_checked + self.works_ttl
            ):
                works = list(
                    conn.execute(
                        sa.select(w.c.id).where(w.c.merged_into.is_(None)).order_by(w.c.id)
                    ).scalars()
                )
                self._works_checked = now
            # PostgreSQL may commit ids out of order (a lower id becoming visible after a
            # higher one): look back a little; folding a decision twice changes nothing
            lookback = 0 if self.store.dialect == "sqlite" else 100
            rows = conn.execute(_NEW_DECISIONS, {"last": max(0, self._last_id - lookback)}).all()
            if works is not None and not self.admin_started:
                # an admin may have started the random phase from another process
                self.admin_started = conn.execute(_ADMIN_STARTED).first() is not None
        with self._lock:
            self._refreshed_at = now
            changed: set[int] = set()
            for did, wid, stage, reviewer, label, crit, note, phase in rows:
                self._last_id = max(self._last_id, int(did))
                if self._apply(int(did), int(wid), stage, reviewer, label, crit, note, phase):
                    changed.add(int(wid))
            if works is not None and (self._works_key is None or works != self._works):
                self._works_key = (len(works), top)
                self._works = works
                self._active = set(works)
                self._position_of = {w: i for i, w in enumerate(works)}
                for s in STAGES:
                    self._open[s].clear()
                    self._started[s].clear()
                changed = set(works)
            for wid in changed:
                if wid in self._active:
                    self._classify(wid)

    def _apply(
        self,
        did: int,
        wid: int,
        stage: str,
        reviewer: str,
        label: str,
        crit: str | None,
        note: str | None,
        phase: str | None = None,
    ) -> bool:
        """Fold one decision into the tally (idempotent; an older decision never overrides a
        newer one for the same reviewer, work and stage). Caller holds the lock."""
        key = (
            stage if stage != "resolution" else f"resolution:{note}",
            wid,
            reviewer if stage in STAGES else "",
        )
        if did <= self._latest.get(key, 0):
            return False
        self._latest[key] = did
        self._sequence.add(did, wid, stage, reviewer, label, phase)
        if stage == "automation":
            if label == "exclude":
                self._auto[wid] = crit or ""
            else:
                self._auto.pop(wid, None)
        elif stage == "resolution":
            target = note if note in STAGES else "title_abstract"
            self._resolutions[target][wid] = (label if label != "maybe" else "include", crit)
        elif stage in STAGES:
            if label == "undo":  # the screening CLI's undo: the reviewer's vote is withdrawn
                self._votes[stage][wid].pop(reviewer, None)
                self._by_reviewer[stage][reviewer].discard(wid)
            else:
                self._votes[stage][wid][reviewer] = (label, crit)
                self._by_reviewer[stage][reviewer].add(wid)
                self._human_votes += 1
        return True

    def note_vote(
        self,
        decision_id: int,
        *,
        work_id: int,
        stage: str,
        reviewer: str,
        label: str,
        criterion: str | None = None,
        note: str = "",
        phase: str | None = None,
    ) -> None:
        """Fold a decision this app just wrote into the tally, without waiting for a refresh
        (``phase``: the one its model state records)."""
        with self._lock:
            if (
                self._apply(decision_id, work_id, stage, reviewer, label, criterion, note, phase)
                and work_id in self._active
            ):
                self._classify(work_id)

    def _stage(self, stage: str, wid: int) -> str:
        return stage_status(
            self._votes[stage].get(wid, {}), self._resolutions[stage].get(wid), self.required
        )[0]

    def _classify(self, wid: int) -> None:
        for s in STAGES:
            self._open[s].discard(wid)
            self._started[s].discard(wid)
        if wid in self._auto:
            return
        ta = self._stage("title_abstract", wid)
        if ta in ("pending", "in_progress"):
            self._open["title_abstract"].add(wid)
            if ta == "in_progress":
                self._started["title_abstract"].add(wid)
        elif ta == "include":
            ft = self._stage("full_text", wid)
            if ft in ("pending", "in_progress"):
                self._open["full_text"].add(wid)
                if ft == "in_progress":
                    self._started["full_text"].add(wid)

    # ------------------------------------------------------------------ ranking
    def _maybe_rank(self) -> None:
        if self.ranking_mode == "off":
            return
        due = self._human_votes - max(self._ranking.fitted_at_decisions, 0) >= self.rank_every or (
            self._ranking.fitted_at_decisions < 0 and self._human_votes > 0
        )
        if not due or self.clock() - self._fitted_clock < self.rank_interval:
            return
        self._fitted_clock = self.clock()
        if self.ranking_mode == "sync":
            self.refit()
            return
        if self._ranking_thread is not None and self._ranking_thread.is_alive():
            return
        self._ranking_thread = threading.Thread(
            target=self.refit, name="fmreview-ranking", daemon=True
        )
        self._ranking_thread.start()

    def refit(self) -> None:
        """Refit the active-learning ranking now (errors leave the previous order)."""
        at = self._human_votes
        try:
            ranking = compute_ranking(self.store)
        except Exception:  # noqa: BLE001 - ranking is an optimisation; the queue works without it
            ranking = None
        with self._lock:
            if ranking is None:
                self._ranking.fitted_at_decisions = at
            else:
                ranking.fitted_at_decisions = at
                self._ranking = ranking

    def wait_for_ranking(self, timeout: float = 60.0) -> None:
        t = self._ranking_thread
        if t is not None:
            t.join(timeout)

    @property
    def ranked(self) -> bool:
        return bool(self._ranking.order)

    # ------------------------------------------------------------------ random phase
    def _seed(self) -> int:
        return int((self._config or {}).get("seed", 0))

    def _n_total(self) -> int:
        # as the terminal session counts: active works less those the rules excluded
        return len(self._works) - len(self._auto)

    def _random_phase_now(self) -> bool:
        """Whether new title/abstract works are drawn at random now. Caller holds the lock."""
        return self._sequence.random_phase(
            self._rule, self._n_total(), started_by_admin=self.admin_started
        )

    def random_phase(self) -> dict[str, Any]:
        """Where the random phase stands, for the admin page: the rule, whether it needs a
        random phase, whether the phase is on (and who started it), and the sample so far."""
        self.refresh(self.refresh_interval)
        with self._lock:
            rule = self._rule
            needs = bool(rule is not None and rule.needs_random_phase)
            active = self._random_phase_now()
            return {
                "rule": None if rule is None else rule.name,
                "needs_random_phase": needs,
                "active": active,
                "started_by": None if not active else "admin" if self.admin_started else "rule",
                "drawn": len(self._sequence.random_works),
            }

    def start_random_phase(self) -> None:
        """Serve random draws from now on (after an admin's ``web random phase`` run)."""
        with self._lock:
            if self._rule is None or not self._rule.needs_random_phase:
                name = None if self._rule is None else self._rule.name
                raise InputError(
                    f"the stopping rule {name!r} has no random phase; amend the protocol to "
                    "the 'hypergeometric' rule first"
                )
            self.admin_started = True

    def reload_protocol(self) -> None:
        """Take up an amended protocol: reviewers per record, the screening configuration
        and stopping rule; every work's stage is re-derived and the ranker refitted soon."""
        with self._lock:
            self.required = int(self.store.protocol.screening.reviewers_per_record)
            self._config = _screening_config(self.store)
            self._rule = _stopping_rule(self._config)
            for wid in self._active:
                self._classify(wid)
            self._ranking.fitted_at_decisions = -1
            self._fitted_clock = float("-inf")

    # ------------------------------------------------------------------ serving
    def _position(self) -> dict[int, int]:
        return self._ranking.position

    def next_for(self, reviewer: str, stage: str = "title_abstract") -> QueueItem | None:
        """The work ``reviewer`` should screen next at ``stage`` (None when none is left)."""
        if stage not in STAGES:
            raise InputError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
        self.refresh(self.refresh_interval)
        self._maybe_rank()
        now = self.clock()
        with self._lock:
            open_ = self._open[stage]
            mine = self._by_reviewer[stage].get(reviewer, set())
            votes = self._votes[stage]
            # leases held by the others, per work
            held: dict[int, int] = defaultdict(int)
            for (st, who), (wid, until) in list(self._leases.items()):
                if until < now:
                    del self._leases[(st, who)]
                elif st == stage and who != reviewer and who not in votes.get(wid, {}):
                    held[wid] += 1
            remaining = len(open_) - len(mine & open_)
            lease = self._leases.get((stage, reviewer))
            pick: int | None = None
            phase = "started"
            if lease is not None and lease[0] in open_ and lease[0] not in mine:
                pick = lease[0]
                last = self._served.get((stage, reviewer))
                phase = last.phase if last is not None and last.work_id == pick else phase
            if pick is None:
                pos = self._position()
                big = len(pos)
                started = sorted(
                    (w for w in self._started[stage] if w not in mine),
                    key=lambda w: pos.get(w, big + w),
                )
                for w in started:
                    if len(votes.get(w, {})) + held.get(w, 0) < self.required:
                        pick = w
                        # a random draw stays one for every reviewer who screens it
                        if stage == "title_abstract" and w in self._sequence.random_works:
                            phase = "random"
                        break
                if pick is None and stage == "title_abstract" and self._random_phase_now():
                    cand = [
                        self._position_of[w]
                        for w in open_
                        if w not in mine
                        and w in self._position_of
                        and len(votes.get(w, {})) + held.get(w, 0) < self.required
                    ]
                    if cand:
                        pick = self._works[
                            random_draw(
                                cand,
                                len(self._works),
                                seed=self._seed(),
                                history=self._sequence.history,
                            )
                        ]
                        phase = "random"
                if pick is None:
                    phase = "ranked" if pos else "unranked"
                    order = self._ranking.order if pos else []
                    seen: set[int] = set()
                    for w in order:
                        seen.add(w)
                        if (
                            w in open_
                            and w not in mine
                            and len(votes.get(w, {})) + held.get(w, 0) < self.required
                        ):
                            pick = w
                            break
                    if pick is None:
                        for w in self._works:  # unranked works (new since the last fit) by id
                            if w in seen:
                                continue
                            if (
                                w in open_
                                and w not in mine
                                and len(votes.get(w, {})) + held.get(w, 0) < self.required
                            ):
                                pick = w
                                phase = "unranked"
                                break
            if pick is None:
                self._leases.pop((stage, reviewer), None)
                return None
            self._leases[(stage, reviewer)] = (pick, now + self.lease_seconds)
            rank = self._position().get(pick) if self._ranking.order else None
            item = QueueItem(
                work_id=pick,
                stage=stage,
                rank=None if rank is None else rank + 1,
                score=self._ranking.scores.get(pick),
                phase=phase,
                remaining=remaining,
            )
            self._served[(stage, reviewer)] = item
            return item

    def served(self, reviewer: str, stage: str, work_id: int) -> QueueItem | None:
        """The item last served to ``reviewer`` when it is ``work_id`` (for the vote's model state)."""
        with self._lock:
            item = self._served.get((stage, reviewer))
        return item if item is not None and item.work_id == work_id else None

    def model_state(self, item: QueueItem | None) -> dict[str, Any]:
        """What the ``model`` column of a decision made on ``item`` records."""
        if item is None:
            return {
                "source": "web",
                "config": self._config,
                "rank": None,
                "score": None,
                "phase": "direct",
                "training": self._ranking.training,
            }
        return item.model_state(self._ranking.config or self._config, self._ranking.training)

    def lease_of(self, reviewer: str, stage: str) -> int | None:
        with self._lock:
            lease = self._leases.get((stage, reviewer))
        return None if lease is None else lease[0]

    def release(self, reviewer: str, stage: str) -> None:
        with self._lock:
            self._leases.pop((stage, reviewer), None)
            self._served.pop((stage, reviewer), None)

    def progress(self, reviewer: str | None = None) -> dict[str, dict[str, int]]:
        """Per stage: works in the review, open and started works, and (with ``reviewer``)
        what they have left."""
        self.refresh()
        with self._lock:
            out = {}
            for s in STAGES:
                row = {
                    "works": len(self._works),
                    "open": len(self._open[s]),
                    "started": len(self._started[s]),
                }
                if reviewer is not None:
                    mine = self._by_reviewer[s].get(reviewer, set())
                    row["mine_left"] = len(self._open[s] - mine)
                    row["mine_done"] = len(mine)
                out[s] = row
            return out


# ----------------------------------------------------------------------------- writing
# statements built once (SQLAlchemy then skips building and hashing them per request)
_MAX_WORK = sa.select(sa.func.coalesce(sa.func.max(schema.works.c.id), 0))
_NEW_DECISIONS = (
    sa.select(
        *[
            schema.decisions.c[k]
            for k in ("id", "work_id", "stage", "reviewer", "label", "criterion", "note")
        ],
        # the phase recorded with the vote (random draws), read from the JSON model state
        schema.decisions.c.model["phase"].as_string(),
    )
    .where(schema.decisions.c.id > sa.bindparam("last"))
    .order_by(schema.decisions.c.id)
)
_ADMIN_STARTED = (
    sa.select(schema.runs.c.id)
    .where(schema.runs.c.command == START_COMMAND, schema.runs.c.status == "ok")
    .limit(1)
)
_WORK_STATE = sa.select(schema.works.c.id, schema.works.c.merged_into).where(
    schema.works.c.id == sa.bindparam("wid")
)
_INSERT_DECISION = sa.insert(schema.decisions)


def _check_work(conn: sa.Connection, work_id: int) -> None:
    row = conn.execute(_WORK_STATE, {"wid": work_id}).first()
    if row is None:
        raise NotFoundError(f"no work with id {work_id}")
    if row.merged_into is not None:
        raise InputError(f"work {work_id} was merged into work {row.merged_into}; screen that one")


def check_vote(store: Any, *, label: str, stage: str, criterion: str | None) -> str | None:
    """Validate a vote's label, stage and criterion (before it goes to the writer)."""
    if label not in LABELS:
        raise InputError(f"decision label {label!r} is not one of {', '.join(LABELS)}")
    if stage not in STAGES:
        raise InputError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
    criterion = (criterion or "").strip() or None
    if criterion is not None:
        store.protocol.criterion(criterion)  # raises, listing the protocol's criteria
    return criterion


def add_vote(
    store: Any,
    *,
    work_id: int,
    reviewer: str,
    label: str,
    stage: str = "title_abstract",
    criterion: str | None = None,
    note: str = "",
    model: dict[str, Any] | None = None,
) -> int:
    """Append one reviewer's vote (one transaction); returns the decision id.

    The web app writes its own rows instead of calling
    :func:`fmreview.screening.session.record_decision`, which refits the ranker on every call
    to record the rank; the queue already knows the rank it served (``model``), and a refit per
    vote would cost seconds under a team's load.
    """
    criterion = check_vote(store, label=label, stage=stage, criterion=criterion)
    if not reviewer:
        raise InputError("a vote needs a reviewer")
    with store.begin() as conn:
        _check_work(conn, work_id)
        return int(
            conn.execute(
                _INSERT_DECISION,
                {
                    "work_id": work_id,
                    "stage": stage,
                    "reviewer": reviewer,
                    "label": label,
                    "criterion": criterion if label == "exclude" else None,
                    "note": (note or "")[:10000],
                    "created_at": store.clock(),
                    "model": model,
                    "run_id": None,
                },
            ).inserted_primary_key[0]
        )


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
    criterion = check_vote(store, label=label, stage=stage, criterion=criterion)
    if method not in ("third reviewer", "consensus"):
        raise InputError(f"resolution method {method!r} is not one of: third reviewer, consensus")
    with store.begin() as conn:
        _check_work(conn, work_id)
        st = work_statuses(store, conn)[work_id]
        if st.stages.get(stage) != "conflict":
            raise InputError(
                f"work {work_id} has no conflict at {stage} (its status there is {st.stages.get(stage)!r})"
            )
        return int(
            conn.execute(
                sa.insert(schema.decisions).values(
                    work_id=work_id,
                    stage="resolution",
                    reviewer=reviewer,
                    label=label,
                    criterion=criterion if label == "exclude" else None,
                    note=stage,
                    created_at=store.clock(),
                    model={
                        "resolution": method,
                        "comment": (comment or "")[:10000],
                        "votes": st.votes.get(stage, {}),
                    },
                )
            ).inserted_primary_key[0]
        )


# ----------------------------------------------------------------------------- blinding
def visible_votes(
    store: Any, work_id: int, *, viewer: str, is_admin: bool, conn: sa.Connection | None = None
) -> dict[str, dict[str, Any]]:
    """Per stage: ``status``, the votes this viewer may see (``votes``: reviewer -> label),
    and ``hidden`` (how many votes are blinded)."""
    blinding = bool(store.protocol.screening.blinding)
    st = work_statuses(store, conn).get(work_id)
    if st is None:
        raise NotFoundError(f"no active work with id {work_id}")
    out: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        status = st.stages.get(stage, "pending")
        votes = st.votes.get(stage, {})
        if is_admin or not blinding or status in FINAL:
            shown = dict(votes)
        else:
            shown = {r: v for r, v in votes.items() if r == viewer}
        out[stage] = {"status": status, "votes": shown, "hidden": len(votes) - len(shown)}
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
