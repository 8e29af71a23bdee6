"""The terminal screening session: the next work to screen, recording decisions, status.

A thin shell over the screening engine (:class:`~fmreview.screening.engine.ScreeningEngine`,
the same one the web app serves from): the engine picks the next work — works another
reviewer started first, the random phase of the stopping rule, then the active-learning
order refitted after every vote (before the ranker has an include and an exclude, a draw
seeded by the protocol's seed: phase ``cold``) — and every decision goes through the one
decision writer (:func:`fmreview.screening.decisions.write_decision`), so the terminal and
the web validate a vote the same way. Works excluded by the protocol's automation rules are
never shown.

Every decision stores in its ``model`` column the full screening configuration
(:class:`ScreeningConfig`, rebuildable with :meth:`ScreeningConfig.from_meta`) and the
work's rank and score at that moment.
"""

from __future__ import annotations

from typing import Any, Unpack

import numpy as np
import sqlalchemy as sa

from fmreview.screening.decisions import Actor, Vote, write_decision
from fmreview.screening.engine import ScreeningEngine
from fmreview.screening.phase import random_draw
from fmreview.screening.ranking import (
    LABELS,
    SCREEN_STAGE,
    TRAINING,
    ActiveRanker,
    NextWork,
    ScreeningConfig,
    ScreeningState,
    load_state,
)
from fmreview.screening.stopping import StopCheck
from fmreview.store import schema
from fmreview.store.works import active_works

__all__ = [
    "LABELS",
    "SCREEN_STAGE",
    "TRAINING",
    "NextWork",
    "ScreeningConfig",
    "ScreeningState",
    "Session",
    "load_state",
    "random_draw",
    "record_decision",
    "status",
    "undo_last",
]

#: The queue name of "any reviewer" (``Session.next_work(None)``): nobody votes under it.
ANYONE = ""


class Session(ActiveRanker):
    """A screening session over a store (one reviewer, or anyone when ``reviewer`` is None)."""

    def __init__(self, store: Any, *, config: ScreeningConfig | None = None) -> None:
        super().__init__(store, config=config)
        self.engine = ScreeningEngine(
            store,
            ranking="sync",
            rank_every=1,
            rank_interval=0.0,
            lease_seconds=0.0,
            refresh_interval=0.0,
            works_ttl=0.0,
            cold="random",
            config=self.config,
            ranker=self,
        )

    def next_work(self, reviewer: str | None = None) -> NextWork | None:
        """The next work ``reviewer`` should screen (None when none is left)."""
        item = self.engine.next_for(reviewer or ANYONE, SCREEN_STAGE)
        if item is None:
            return None
        with self.store.connect() as conn:
            row = conn.execute(active_works(conn).where(schema.works.c.id == item.work_id)).first()
        return NextWork(
            work_id=item.work_id,
            rank=item.rank,
            score=item.score,
            phase=item.phase,
            remaining=item.remaining,
            work=dict(row._mapping) if row is not None else {},
        )

    def status(self) -> dict[str, Any]:
        return status(self.store, config=self.config)


def record_decision(
    store: Any,
    reviewer: str,
    *,
    next_work: NextWork | None = None,
    config: ScreeningConfig | None = None,
    run_id: int | None = None,
    **vote: Unpack[Vote],
) -> int:
    """Append ``reviewer``'s vote through the decision writer; returns its id.

    ``vote`` holds ``work_id``, ``label`` and optionally ``stage`` (default
    ``title_abstract``), ``criterion`` and ``note``, as for
    :func:`~fmreview.screening.decisions.write_decision`. The decision carries the
    screening configuration and the work's rank and score at that moment (from
    ``next_work`` when given — what the reviewer was shown — else recomputed).
    A wrong label, an unknown criterion or work, a work that no longer needs a vote, or a
    changed vote without a reason (``note``) is refused with the way out.
    """
    actor = Actor(reviewer)
    config = config or ScreeningConfig.from_protocol(store.protocol)
    if next_work is None or next_work.work_id != vote["work_id"]:
        next_work = _rank_of(store, vote["work_id"], config)
    state = load_state(store)
    n_training = len(state.training()[1])
    return write_decision(
        store,
        actor=actor,
        model=next_work.model_state(config, n_training),
        run_id=run_id,
        **vote,
    )


def _rank_of(store: Any, work_id: int, config: ScreeningConfig) -> NextWork:
    sess = ActiveRanker(store, config=config)
    state = load_state(store)
    ranked = sess.ranking(state)
    found = np.flatnonzero(state.work_ids == work_id)
    if len(found) == 0:  # not an active work: the decision writer says why
        return NextWork(work_id, None, None, "direct", 0, {})
    pos = int(found[0])
    if ranked is None:
        return NextWork(work_id, None, None, "cold", 0, state.works[pos])
    scores = ranked[0]
    return NextWork(
        work_id,
        int((scores > scores[pos]).sum()) + 1,
        float(scores[pos]),
        "ranked",
        0,
        state.works[pos],
    )


def undo_last(store: Any, reviewer: str, *, config: ScreeningConfig | None = None) -> int | None:
    """Undo ``reviewer``'s latest standing decision by appending an ``undo`` decision.

    Returns the work id returned to the queue (None when there is nothing to undo).
    """
    state = load_state(store)
    mine = [d for d in state.history if d["reviewer"] == reviewer]
    standing = {
        (int(d["work_id"]))
        for (w, r), d in state.current.items()
        if r == reviewer and d["label"] != "undo"
    }
    for d in reversed(mine):
        w = int(d["work_id"])
        if d["label"] != "undo" and w in standing:
            record_decision(
                store,
                reviewer,
                work_id=w,
                label="undo",
                note=f"undo decision {d['id']}",
                stage=str(d["stage"]),
                config=config,
                next_work=NextWork(w, None, None, "undo", 0, {}),
            )
            return w
    return None


def status(store: Any, *, config: ScreeningConfig | None = None) -> dict[str, Any]:
    """Decisions so far, the estimated recall with its interval, and the stopping verdict."""
    config = config or ScreeningConfig.from_protocol(store.protocol)
    state = load_state(store)
    labs, rnd = state.screening_sequence()
    n_works = len(state.work_ids)
    n_auto = len([w for w in state.auto_excluded if w in set(state.work_ids.tolist())])
    n_total = n_works - n_auto
    counts = {"include": 0, "exclude": 0, "maybe": 0}
    for w in {w for (w, _r) in state.current}:
        lab = state.label_of(w)
        if lab in counts:
            counts[lab] += 1
    rule = config.rule()
    check: StopCheck = (
        rule.check(labs, n_total, random_phase=rnd)
        if rule.needs_random_phase
        else rule.check(labs, n_total)
    )
    screened = int(len(labs))
    return {
        "works": n_works,
        "excluded_by_automation": n_auto,
        "to_screen": n_total,
        "screened": screened,
        "unscreened": max(0, n_total - screened),
        "decisions": len(state.history),
        "labels": counts,
        "reviewers": sorted({r for (_w, r) in state.current}),
        "stopping": {
            "rule": config.stopping["name"],
            "params": config.stopping.get("params", {}),
            "met": bool(check.stop and screened > 0),
            "phase": check.phase,
            "recall": check.recall,
            "recall_low": check.recall_low,
            "recall_high": check.recall_high,
            "p_value": check.p_value,
            "message": check.message,
        },
        "config": config.to_meta(),
    }


def save_config(store: Any, config: ScreeningConfig) -> None:
    """Store the configuration as an artifact (kind ``screening.config``)."""
    with store.begin() as conn:
        conn.execute(
            sa.insert(schema.artifacts).values(
                kind="screening.config",
                key="current",
                created_at=store.clock(),
                content_type="application/json",
                data=None,
                meta=config.to_meta(),
            )
        )


def load_config(store: Any) -> ScreeningConfig:
    """The last saved configuration, else the protocol's."""
    a = schema.artifacts
    with store.connect() as conn:
        row = conn.execute(
            sa.select(a.c.meta)
            .where(a.c.kind == "screening.config")
            .order_by(a.c.id.desc())
            .limit(1)
        ).first()
    return (
        ScreeningConfig.from_meta(row.meta)
        if row
        else ScreeningConfig.from_protocol(store.protocol)
    )
