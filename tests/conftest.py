"""Shared fixtures: in-memory and file-backed stores, PostgreSQL when available."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from fmreview.store import Store

# Hypothesis draws from a fresh random seed and a 200 ms deadline by default: a property test
# could then pass or fail by chance or by machine load. Derandomized, without a deadline and
# without the example database (shared files under xdist), every run tries the same examples.
settings.register_profile("fmreview", derandomize=True, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fmreview"))

DATA = Path(__file__).parent / "data"
BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
PG_URL = os.environ.get("FMREVIEW_TEST_PG_URL")


#: modules holding the longest tests (whole pipeline runs, browsers, embeddings; measured with
#: --durations=40): started first, so that under xdist no worker begins one of them when the
#: others are nearly done (longest first is the classic rule for balancing parallel work)
LONGEST_FIRST = (
    "test_snapshot_pipeline.py",
    "test_browser_report.py",
    "test_browser_web.py",
    "test_web_phase.py",
    "test_screening_models.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the modules of :data:`LONGEST_FIRST` first (same order on every xdist worker)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable sort


def bench_dir(*parts: str) -> Path:
    """A folder of ../shared/bench, or skip the test when the shared data is absent."""
    path = BENCH.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"benchmark data {path} is absent")
    return path


@pytest.fixture
def store() -> Iterator[Store]:
    """An in-memory store with the flagship protocol."""
    s = Store.memory()
    yield s
    s.close()


@pytest.fixture
def minimal_store() -> Iterator[Store]:
    from fmreview.store.store import _load_protocol

    s = Store.memory(_load_protocol(DATA / "protocol-minimal.yaml"))
    yield s
    s.close()


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[Store]:
    """A SQLite store in a review folder under tmp_path, with the flagship protocol."""
    s = Store.create(tmp_path / "review")
    yield s
    s.close()


def _pg_database() -> Iterator[str]:
    if not PG_URL:
        if os.environ.get("FMREVIEW_REQUIRE_PG"):
            pytest.fail("FMREVIEW_REQUIRE_PG is set but FMREVIEW_TEST_PG_URL is not")
        pytest.skip(
            "PostgreSQL not configured (set FMREVIEW_TEST_PG_URL; .ci/start-postgres.sh prints it)"
        )
    import sqlalchemy as sa

    from fmreview.store.store import make_engine

    name = f"fmr_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))  # name is generated above, not input
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database (dropped after the test)."""
    yield from _pg_database()


def store_on(backend: str, folder: Path, **create: Any) -> Iterator[Store]:
    """Yield a new file-backed review in ``folder`` on ``backend`` (``sqlite`` or
    ``postgresql``: a fresh database, dropped afterwards); ``create`` goes to
    :meth:`Store.create`."""
    if backend == "sqlite":
        s = Store.create(folder, **create)
        yield s
        s.close()
        return
    gen = _pg_database()
    s = Store.create(folder, db_url=next(gen), **create)
    try:
        yield s
    finally:
        s.close()
        for _ in gen:
            pass


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A file-backed store on SQLite and on PostgreSQL (same schema, same tests)."""
    yield from store_on(
        request.param, tmp_path / "review", protocol_path=DATA / "protocol-minimal.yaml"
    )
