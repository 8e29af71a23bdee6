"""The engine's walk of the ranking starts where the last one left off (not from the top):
it must serve exactly what the walk from the top serves, in the same order."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from fmreview.screening.decisions import STAGES, Actor, resolve_conflict
from fmreview.screening.engine import ScreeningEngine
from fmreview.store import Store, schema
from tests.test_web_app import FakeClock, add_works, an_exclusion, flagship


class FromTheTop(ScreeningEngine):
    """The engine as it was: every walk starts at the top of the order."""

    def _scan_start(self, order: list[int], scan: dict[str, int], stage: str) -> int:
        return 0


def _review(n: int) -> Store:
    store = Store.memory(flagship())
    rng = np.random.default_rng(7)
    fm = "foundation model CLIP segmentation vision language CT MRI pathology".split()
    other = "protein folding molecule docking chemistry drug weather finance".split()
    items = []
    for i in range(n):
        words = fm if rng.random() < 0.4 else other
        items.append(
            (f"Study {i} " + " ".join(rng.choice(words, 5)), " ".join(rng.choice(words, 30)))
        )
    add_works(store, items)
    return store


def _undo(store: Store, work_id: int, reviewer: str) -> None:
    with store.begin() as conn:
        conn.execute(
            sa.insert(schema.decisions).values(
                work_id=work_id,
                stage="title_abstract",
                reviewer=reviewer,
                label="undo",
                note="",
                created_at=store.clock(),
            )
        )


@pytest.mark.parametrize("ranking", ["sync", "off"])
def test_served_sequence_matches_the_walk_from_the_top(ranking: str) -> None:
    pytest.importorskip("fmreview.screening.session")
    stores = [_review(150), _review(150)]
    clocks = [FakeClock(), FakeClock()]
    engines = [
        cls(s, ranking=ranking, rank_every=5, lease_seconds=30, clock=c)
        for cls, s, c in zip((ScreeningEngine, FromTheTop), stores, clocks, strict=True)
    ]
    crit = an_exclusion(stores[0])
    rng = np.random.default_rng(20)
    reviewers = ["ann", "bob", "cat", "dan"]
    served: list[Any] = []
    kinds = {"ranked": 0, "full_text": 0, "undo": 0, "resolved": 0}
    for _ in range(700):
        who = reviewers[int(rng.integers(len(reviewers)))]
        stage = STAGES[int(rng.random() < 0.3)]
        items = [e.next_for(who, stage) for e in engines]
        assert items[0] == items[1]
        item = items[0]
        served.append(item)
        step = float(rng.integers(1, 4))  # leases expire now and then
        for c in clocks:
            c.t += step
        if item is None:
            continue
        kinds["ranked"] += item.phase == "ranked"
        kinds["full_text"] += stage == "full_text"
        act = rng.random()
        if act < 0.1:
            continue  # no vote: the lease holds, or runs out
        label = ("include", "include", "exclude", "maybe")[int(rng.integers(4))]
        for e in engines:
            e.decide(
                Actor(who),
                work_id=item.work_id,
                stage=stage,
                label=label,
                criterion=crit if label == "exclude" else None,
            )
        if act > 0.97 and stage == "title_abstract":  # the terminal session's undo
            kinds["undo"] += 1
            for s, e in zip(stores, engines, strict=True):
                _undo(s, item.work_id, who)
                e.refresh()
                e.release(who, stage)
        conflicts = sorted(
            w for w in engines[0]._votes[stage] if engines[0]._stage(stage, w) == "conflict"
        )
        if conflicts and rng.random() < 0.3:
            kinds["resolved"] += 1
            w = conflicts[int(rng.integers(len(conflicts)))]
            for s, e in zip(stores, engines, strict=True):
                resolve_conflict(s, work_id=w, stage=stage, label="include", reviewer="admin")
                e.refresh()
    assert engines[0].progress() == engines[1].progress()
    # the run exercised what the start of the walk must follow
    assert sum(i is not None for i in served) > 500
    assert kinds["full_text"] > 50 and kinds["undo"] > 0 and kinds["resolved"] > 0
    if ranking == "sync":
        assert kinds["ranked"] > 100 and engines[0].ranked
    for s in stores:
        s.close()
