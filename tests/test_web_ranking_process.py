"""The web app's refit in a child process gives the order a refit in the app gives, and
the queue serves by it (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fmreview.screening.engine import compute_ranking
from fmreview.screening.ranking import ActiveRanker
from fmreview.store import Store
from fmreview.web.assignments import StoredQueue
from fmreview.web.ranking_process import RankingProcess
from tests.conftest import store_on
from tests.test_web_app import add_works
from tests.test_web_store import add_vote

FM = [
    (f"foundation model CLIP segmentation study {i}", "vision language imaging") for i in range(6)
]
PROTEIN = [(f"protein folding molecule {i}", "chemistry docking drug") for i in range(6)]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def review(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A file-backed review with 12 works, one include (work 1) and one exclude (work 7)."""
    for store in store_on(request.param, tmp_path / "review"):
        add_works(store, FM + PROTEIN)
        add_vote(store, work_id=1, reviewer="a", label="include")
        add_vote(store, work_id=7, reviewer="a", label="exclude", criterion="E-NON-IMAGING")
        yield store


def test_the_child_computes_the_order_a_refit_in_the_app_computes(review: Store) -> None:
    here = compute_ranking(review, ActiveRanker(review))
    assert here is not None
    proc = RankingProcess(review.folder)  # type: ignore[arg-type]
    try:
        there = proc.compute(ActiveRanker(review).config)
        again = proc.compute(ActiveRanker(review).config)  # the child's cached ranker
    finally:
        proc.close()
    assert there is not None and again is not None
    assert there.order == here.order == again.order
    assert there.scores == pytest.approx(here.scores)
    assert there.training == here.training == 2
    assert set(there.order[:6]) == set(range(1, 7)), "FM works before protein works"
    with pytest.raises(RuntimeError, match="closed"):
        proc.compute(ActiveRanker(review).config)


def test_the_queue_refits_in_the_child_and_serves_by_its_order(review: Store) -> None:
    q = StoredQueue(review, ranking="background", rank_every=1, ranking_process=True)
    try:
        assert q._process is not None
        q.next_for("b")  # a refit is due: it starts
        q.wait_for_ranking()
        assert q.ranked
        item = q.next_for("a")
        assert item is not None and item.phase == "ranked" and item.rank == 1
        assert item.work_id in range(2, 7), "the ranker puts FM works before protein works"
    finally:
        q.close()
    assert q._process._pool is None  # the child stopped with the queue


def test_without_a_folder_or_when_off_the_refit_stays_in_the_app(review: Store) -> None:
    memory = Store.memory()
    try:
        assert StoredQueue(memory, ranking="background", ranking_process=True)._process is None
    finally:
        memory.close()
    assert StoredQueue(review, ranking="background", ranking_process=False)._process is None
    assert StoredQueue(review, ranking="sync", ranking_process=True)._process is None


def test_a_failing_refit_keeps_the_previous_order(
    review: Store, caplog: pytest.LogCaptureFixture
) -> None:
    q = StoredQueue(review, ranking="background", rank_every=1, ranking_process=True)
    q._process.close()  # type: ignore[union-attr]
    q.refresh()  # the two votes
    q.refit()
    assert not q.ranked and q._ranking.fitted_at_decisions == 2
    assert "refitting the screening ranker failed" in caplog.text
    q.close()


@pytest.mark.parametrize("freeze", [True, False])
def test_the_served_app_freezes_its_startup_objects_for_the_collector(freeze: bool) -> None:
    import gc

    from fastapi.testclient import TestClient

    from fmreview.web.app import create_app
    from fmreview.web.settings import WebSettings

    store = Store.memory()
    app = create_app(store, settings=WebSettings(ranking="off", gc_freeze=freeze))
    assert gc.get_freeze_count() == 0
    try:
        with TestClient(app) as client:  # runs the lifespan, as uvicorn does
            assert client.get("/healthz").status_code == 200
            assert (gc.get_freeze_count() > 0) is freeze
        assert gc.get_freeze_count() == 0  # unfrozen at shutdown
    finally:
        gc.unfreeze()
        store.close()
