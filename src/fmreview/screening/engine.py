"""The screening engine: one for the terminal session, the web app and every reviewer.

It holds the state of screening (a tally of the append-only decisions, refreshed
incrementally), decides what each reviewer screens next, runs the random phase of the
stopping rule, and writes every vote through the one decision writer
(:func:`fmreview.screening.decisions.write_decision`, where blinding and assignment are
enforced). The terminal session (:mod:`fmreview.screening.session`) and the web app
(:mod:`fmreview.web`) both serve and record through a :class:`ScreeningEngine`.

What a reviewer is served at a stage (``title_abstract`` or ``full_text``): an active work
that still needs votes there — fewer than the protocol's ``reviewers_per_record`` standing
votes and no resolution (:func:`fmreview.status.stage_status` decides, the same function
the status of every work comes from) — that this reviewer has not voted on, that the
eligibility rules did not exclude, and (full text) whose title/abstract stage ended in
include. Among those, works another reviewer has already started come first, so started
works get finished and conflicts surface early; then the active-learning order (the
protocol's ranker, refitted as votes arrive), else — before the ranker has both an include
and an exclude to learn from — work id order (``cold="id"``, the web app) or a draw seeded
by the protocol's seed and the history length (``cold="random"``, the terminal session).

**Random phase.** When the protocol's stopping rule needs a random sample (``hypergeometric``)
and its criterion for starting holds (:mod:`fmreview.screening.phase`) — or an admin started
it — new title/abstract works are drawn at random instead of by rank, and the votes on them
record ``phase: random``: the first reviewer's, and the other reviewers' when the work comes
back to them as a started work, so dual screening and blinding work as before.

A work served to a reviewer is *assigned* (leased) to them for ``lease_seconds``: reloading
the page shows the same work, and the work is not served to more reviewers than it still
needs votes from while the lease holds. A web user's first vote on a work is taken only on
the work last served to them at that stage (:meth:`ScreeningEngine.decide`).

The vote tally is kept in memory and refreshed incrementally: decisions are append-only,
so reading the rows with an id above the last one seen is enough. Every request therefore
costs one small query, not a scan of the whole history.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import Any, Unpack

import numpy as np
import sqlalchemy as sa

from fmreview.errors import InputError
from fmreview.screening import decisions
from fmreview.screening.decisions import STAGES, Actor, Vote
from fmreview.screening.phase import (
    START_COMMAND,
    UNBLIND_COMMAND,
    FoldedDecision,
    ScreeningSequence,
    random_draw,
)
from fmreview.screening.ranking import ActiveRanker, ScreeningConfig, load_state
from fmreview.screening.stopping import StoppingRule
from fmreview.status import stage_status
from fmreview.store import schema

log = logging.getLogger(__name__)


@dataclass
class QueueItem:
    """The work to show a reviewer next, and where it came from."""

    work_id: int
    stage: str
    rank: int | None
    score: float | None
    phase: str  # started | ranked | unranked | cold | random
    remaining: int

    def model_state(self, config: dict[str, Any] | None, training: int) -> dict[str, Any]:
        return {
            "source": "engine",
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


def compute_ranking(store: Any, ranker: ActiveRanker | None = None) -> Ranking | None:
    """The active-learning order of every active work (None while there is nothing to learn
    from yet: the ranker needs an include and an exclude)."""
    ranker = ranker or ActiveRanker(store)
    state = load_state(store)
    ranked = ranker.ranking(state)
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
        config=ranker.config.to_meta(),
    )


# ----------------------------------------------------------------------------- the engine
class ScreeningEngine:
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
    cold
        Order before the first fit: ``"id"`` (work id) or ``"random"`` (seeded draw).
    config
        The screening configuration (default: the protocol's; an unknown stopping rule
        raises here).
    ranker
        The ranker to refit (the terminal session passes itself, sharing its features).
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
        cold: str = "id",
        config: ScreeningConfig | None = None,
        ranker: ActiveRanker | None = None,
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
        if cold not in ("id", "random"):
            raise InputError(f"cold-start order {cold!r} is not one of id, random")
        self.cold = cold
        self._fixed_config = config
        self._given_ranker = ranker
        self._set_config(config or ScreeningConfig.from_protocol(store.protocol))
        self._sequence = ScreeningSequence()
        self._position_of: dict[int, int] = {}  # work id -> index in self._works
        # Where a walk of the ranking (or of the works list) may start, per stage: every work
        # before that index is closed at the stage. Without it each request walked the order
        # from the top, past every work already screened: late requests cost O(works)
        # (~2.5 ms of CPU at 12,000 works). Lowered when a work before it (re)opens; reset
        # when the order itself changes.
        self._scan_rank: dict[str, int] = dict.fromkeys(STAGES, 0)
        self._scan_works: dict[str, int] = dict.fromkeys(STAGES, 0)
        self.admin_started = False  # an admin started the random phase (a run says so)
        self.unblinded = False  # an admin lifted blinding (a run says so)

    def _set_config(self, config: ScreeningConfig) -> None:
        # a stopping rule the protocol names but that does not exist is refused here, for
        # every entry point (it used to be dropped silently by the web queue)
        rule: StoppingRule = config.rule()
        self.config = config
        self._config: dict[str, Any] = config.to_meta()
        self._rule = rule
        given = self._given_ranker
        self._ranker = given if given is not None and given.config is config else None
        if self._ranker is None:
            self._ranker = ActiveRanker(self.store, config=config)

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
            if works is not None and not self.unblinded:
                self.unblinded = conn.execute(_UNBLINDED).first() is not None
        with self._lock:
            self._refreshed_at = now
            changed: set[int] = set()
            for did, wid, *rest in rows:
                d = FoldedDecision(int(did), int(wid), *rest)
                self._last_id = max(self._last_id, d.id)
                if self._apply(d):
                    changed.add(d.work_id)
            if works is not None and (self._works_key is None or works != self._works):
                self._works_key = (len(works), top)
                self._works = works
                self._active = set(works)
                self._position_of = {w: i for i, w in enumerate(works)}
                self._scan_works = dict.fromkeys(STAGES, 0)
                for s in STAGES:
                    self._open[s].clear()
                    self._started[s].clear()
                changed = set(works)
            for wid in changed:
                if wid in self._active:
                    self._classify(wid)

    def _apply(self, d: FoldedDecision) -> bool:
        """Fold one decision into the tally (idempotent; an older decision never overrides a
        newer one for the same reviewer, work and stage). Caller holds the lock."""
        wid, stage, reviewer, label, crit = d.work_id, d.stage, d.reviewer, d.label, d.criterion
        key = (
            stage if stage != "resolution" else f"resolution:{d.note}",
            wid,
            reviewer if stage in STAGES else "",
        )
        if d.id <= self._latest.get(key, 0):
            return False
        self._latest[key] = d.id
        self._sequence.add(d)
        if stage == "automation":
            if label == "exclude":
                self._auto[wid] = crit or ""
            else:
                self._auto.pop(wid, None)
        elif stage == "resolution":
            target = d.note if d.note in STAGES else "title_abstract"
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

    def note_vote(self, decision: FoldedDecision) -> None:
        """Fold a decision this app just wrote into the tally, without waiting for a
        refresh."""
        with self._lock:
            if self._apply(decision) and decision.work_id in self._active:
                self._classify(decision.work_id)

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
            self._reopen("title_abstract", wid)
            if ta == "in_progress":
                self._started["title_abstract"].add(wid)
        elif ta == "include":
            ft = self._stage("full_text", wid)
            if ft in ("pending", "in_progress"):
                self._reopen("full_text", wid)
                if ft == "in_progress":
                    self._started["full_text"].add(wid)

    def _reopen(self, stage: str, wid: int) -> None:
        """Mark ``wid`` open at ``stage``, moving the walks' starts back to it if needed."""
        self._open[stage].add(wid)
        at = self._ranking.position.get(wid)
        if at is not None and at < self._scan_rank[stage]:
            self._scan_rank[stage] = at
        at = self._position_of.get(wid)
        if at is not None and at < self._scan_works[stage]:
            self._scan_works[stage] = at

    def _scan_start(self, order: list[int], scan: dict[str, int], stage: str) -> int:
        """The first index of ``order`` whose work is open at ``stage`` (or its length),
        remembered for the next walk. Caller holds the lock."""
        open_ = self._open[stage]
        i = scan[stage]
        while i < len(order) and order[i] not in open_:
            i += 1
        scan[stage] = i
        return i

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
            ranking = self._compute_ranking()
        except Exception:  # noqa: BLE001 - ranking is an optimisation; the queue works without it
            log.exception("refitting the screening ranker failed; keeping the previous order")
            ranking = None
        with self._lock:
            if ranking is None:
                self._ranking.fitted_at_decisions = at
            else:
                ranking.fitted_at_decisions = at
                self._ranking = ranking
                self._scan_rank = dict.fromkeys(STAGES, 0)

    def _compute_ranking(self) -> Any:
        """The new ranking, or None (nothing to learn from yet): computed here, in the
        calling thread; the web app's queue computes it in a child process instead."""
        return compute_ranking(self.store, self._ranker)

    def wait_for_ranking(self, timeout: float = 60.0) -> None:
        t = self._ranking_thread
        if t is not None:
            t.join(timeout)

    @property
    def ranked(self) -> bool:
        return bool(self._ranking.order)

    # ------------------------------------------------------------------ random phase
    def _seed(self) -> int:
        return int(self.config.seed)

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
            self._set_config(
                self._fixed_config or ScreeningConfig.from_protocol(self.store.protocol)
            )
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
                    for i in range(self._scan_start(order, self._scan_rank, stage), len(order)):
                        w = order[i]
                        if (
                            w in open_
                            and w not in mine
                            and len(votes.get(w, {})) + held.get(w, 0) < self.required
                        ):
                            pick = w
                            break
                    if pick is None and not pos and self.cold == "random":
                        works = self._works
                        cand = [
                            i
                            for i in range(
                                self._scan_start(works, self._scan_works, stage), len(works)
                            )
                            if (w := works[i]) in open_
                            and w not in mine
                            and len(votes.get(w, {})) + held.get(w, 0) < self.required
                        ]
                        if cand:
                            rng = np.random.default_rng([self._seed(), self._sequence.history])
                            pick = self._works[int(rng.choice(np.asarray(cand)))]
                            phase = "cold"
                    if pick is None:
                        # unranked works (new since the last fit, or no fit yet) by id
                        works = self._works
                        for i in range(
                            self._scan_start(works, self._scan_works, stage), len(works)
                        ):
                            w = works[i]
                            if w in pos:  # walked above: the loop ended without a pick
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
            rank = self._rank_among(pick, stage, mine)
            item = QueueItem(
                work_id=pick,
                stage=stage,
                rank=rank,
                score=self._ranking.scores.get(pick),
                phase=phase,
                remaining=remaining,
            )
            self._served[(stage, reviewer)] = item
            return item

    def _rank_among(self, pick: int, stage: str, mine: set[int]) -> int | None:
        """1 + the works still open to this reviewer that the ranking puts above ``pick``
        (None before the first fit, or when ``pick`` is newer than the fit)."""
        at = self._ranking.position.get(pick)
        if at is None:
            return None
        order, open_ = self._ranking.order, self._open[stage]
        start = min(self._scan_start(order, self._scan_rank, stage), at)
        above = 0
        for i in range(start, at):
            w = order[i]
            if w in open_ and w not in mine:
                above += 1
        return above + 1

    def served(self, reviewer: str, stage: str, work_id: int) -> QueueItem | None:
        """The item last served to ``reviewer`` when it is ``work_id`` (for the vote's model state)."""
        with self._lock:
            item = self._served.get((stage, reviewer))
        return item if item is not None and item.work_id == work_id else None

    def model_state(self, item: QueueItem | None) -> dict[str, Any]:
        """What the ``model`` column of a decision made on ``item`` records."""
        if item is None:
            return {
                "source": "engine",
                "config": self._config,
                "rank": None,
                "score": None,
                "phase": "direct",
                "training": self._ranking.training,
            }
        return item.model_state(self._ranking.config or self._config, self._ranking.training)

    # ------------------------------------------------------------------ deciding
    def decide(self, actor: Actor, *, run_id: int | None = None, **vote: Unpack[Vote]) -> int:
        """Record ``actor``'s vote through the one decision writer and fold it in.

        ``vote`` holds ``work_id``, ``label`` and optionally ``stage`` (default
        ``title_abstract``), ``criterion`` and ``note``. A web user's vote is taken on the
        work last served to them at ``stage`` (or as a change of their own standing vote;
        see :mod:`fmreview.screening.decisions`); a local actor's on any work that still
        needs votes.
        """
        pending = self._vote(actor, vote, run_id)
        return pending.done(pending.write())

    async def decide_async(
        self,
        actor: Actor,
        *,
        run: Callable[[Callable[[], int]], Awaitable[int]],
        **vote: Unpack[Vote],
    ) -> int:
        """:meth:`decide` from async code: ``run`` awaits the write (the web app's writer)."""
        pending = self._vote(actor, vote, None)
        return pending.done(await run(pending.write))

    def _vote(self, actor: Actor, vote: Vote, run_id: int | None) -> _Vote:
        vote = {"stage": "title_abstract", **vote}
        item = self.served(actor.name, vote["stage"], vote["work_id"])
        return _Vote(self, actor, vote, run_id, item, self.model_state(item))

    def visible_votes(self, work_id: int, *, viewer: str, is_admin: bool) -> dict[str, Any]:
        """What ``viewer`` may see of a work's votes (blinding; see ``decisions``)."""
        self.refresh(self.refresh_interval)
        return decisions.visible_votes(
            self.store, work_id, viewer=viewer, is_admin=is_admin, unblinded=self.unblinded
        )

    def blinded_for(self, *, is_admin: bool) -> bool:
        self.refresh(self.refresh_interval)
        return decisions.blinded_for(self.store, is_admin=is_admin, unblinded=self.unblinded)

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


@dataclass
class _Vote:
    """One vote on its way through the decision writer (see :meth:`ScreeningEngine.decide`)."""

    engine: ScreeningEngine
    actor: Actor
    vote: Vote  # with its stage
    run_id: int | None
    item: QueueItem | None
    model: dict[str, Any]

    def write(self) -> int:
        return decisions.write_decision(
            self.engine.store,
            actor=self.actor,
            model=self.model,
            assigned=(self.item is not None) if self.actor.web else None,
            run_id=self.run_id,
            **self.vote,
        )

    def done(self, decision_id: int) -> int:
        v = self.vote
        stage, label = v["stage"], v["label"]
        crit = (v.get("criterion") or "").strip() or None
        self.engine.note_vote(
            FoldedDecision(
                id=decision_id,
                work_id=v["work_id"],
                stage=stage,
                reviewer=self.actor.name,
                label=label,
                criterion=crit if label == "exclude" else None,
                note=v.get("note", ""),
                phase=self.model.get("phase"),
            )
        )
        if self.item is not None:
            self.engine.release(self.actor.name, stage)
        return decision_id


# ----------------------------------------------------------------------------- statements
# built once (SQLAlchemy then skips building and hashing them per request)
_MAX_WORK = sa.select(sa.func.coalesce(sa.func.max(schema.works.c.id), 0))
_NEW_DECISIONS = (
    sa.select(
        # a FoldedDecision's fields, in order: columns of the same name, then the phase
        # recorded with the vote (random draws), read from the JSON model state
        *[schema.decisions.c[f.name] for f in fields(FoldedDecision) if f.name != "phase"],
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
_UNBLINDED = (
    sa.select(schema.runs.c.id)
    .where(schema.runs.c.command == UNBLIND_COMMAND, schema.runs.c.status == "ok")
    .limit(1)
)
