"""Load test of the web app: N reviewers on loopback cast M screening decisions.

    python benchmarks/load.py [--db sqlite|postgresql|both] [--reviewers 20] [--decisions 10000] [--json]

For each database the benchmark makes a fresh review (SQLite file in a temporary folder, or
a fresh PostgreSQL database on the server named by ``FMREVIEW_TEST_PG_URL`` — ``bash
.ci/start-postgres.sh`` starts one and prints the URL), adds enough works, creates the
reviewers, and starts ``uvicorn`` in a subprocess on a free loopback port. The reviewers
(``httpx.AsyncClient`` each, logged in through the login form, CSRF token from the app)
then loop: ask for the next work of their queue (``GET /api/next``), vote on it
(``POST /api/votes``), until exactly ``--decisions`` votes have been cast in total.

It prints requests/s, p50/p99 latency per request kind, and checks the store afterwards:
exactly ``--decisions`` decisions, the ids the server returned are exactly the ids stored
(none lost, none invented), and no reviewer voted twice on a work. Target: p99 < 200 ms at
20 concurrent reviewers. Exit status 1 when a check fails.

Then ``--failed-logins`` (default 100) concurrent logins with wrong passwords hit the server
(argon2id, 64 MiB per check): it reports how many were checked (401) and refused by the
rate limiter (429), and the server's resident memory before and at its highest during the
flood (sampled every 10 ms from /proc). Target: memory flat (the app checks at most
``max_concurrent_hashes`` passwords at once).

No shared benchmark data is needed: the works are synthetic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "load-test-password"

SERVER = """
import sys, uvicorn
from fmreview.store import Store
from fmreview.web.app import create_app
from fmreview.web.settings import WebSettings
store = Store.open(sys.argv[1])
app = create_app(store, settings=WebSettings(ranking=sys.argv[3], rank_every=int(sys.argv[4]),
                                             secret_key="load-test-secret-key-0123456789"))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def login_flood(base: str, pid: int, n: int) -> dict[str, Any]:
    """``n`` concurrent wrong-password logins (distinct user names); the server's memory."""
    import httpx

    before = _rss_mb(pid)
    peak = before
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_mb(pid))
            await asyncio.sleep(0.01)

    async def one(i: int) -> int:
        async with httpx.AsyncClient(base_url=base, timeout=120) as c:
            r = await c.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
            r = await c.post(
                "/login",
                data={
                    "username": f"intruder{i}",
                    "password": "wrong-password",
                    "csrf_token": token,
                },
            )
            return r.status_code

    sampler = asyncio.create_task(sample())
    t0 = time.perf_counter()
    codes = await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.perf_counter() - t0
    done.set()
    await sampler
    return {
        "flood_logins": n,
        "flood_checked_401": codes.count(401),
        "flood_refused_429": codes.count(429),
        "flood_other": len(codes) - codes.count(401) - codes.count(429),
        "flood_wall_s": round(wall, 2),
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_growth_mb": round(peak - before, 1),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), including its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_review(folder: Path, n_works: int, reviewers: list[str], db_url: str | None) -> None:
    from fmreview.record import Record
    from fmreview.store import Store
    from fmreview.store.records import add_records
    from fmreview.store.works import works_from_records
    from fmreview.web.auth import create_user

    store = Store.create(folder, db_url=db_url)
    rng = np.random.default_rng(0)
    words = "foundation model segmentation CLIP vision language protein survey transformer CT MRI xray pathology".split()
    recs = [
        Record(
            title=f"Work {i}: " + " ".join(rng.choice(words, 6)),
            abstract=" ".join(rng.choice(words, 120)),
            year=2020 + i % 5,
        )
        for i in range(n_works)
    ]
    with store.run("import") as run:
        add_records(store, recs, source="load", source_kind="file", run_id=run.id)
        works_from_records(store, run.id)
    for name in reviewers:
        create_user(store, name, PASSWORD, role="reviewer")
    store.close()


async def reviewer(
    name: str,
    base: str,
    budget: dict[str, int],
    lat: dict[str, list[float]],
    ids: list[int],
    errors: list[str],
) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        r = await c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
        r = await c.post(
            "/login", data={"username": name, "password": PASSWORD, "csrf_token": token}
        )
        if r.status_code != 303:
            errors.append(f"{name}: login {r.status_code}")
            return
        csrf = (await c.get("/api/session")).json()["csrf"]
        headers = {"X-CSRF-Token": csrf}
        while budget["left"] > 0:
            budget["left"] -= 1  # claimed before awaiting: the total is exact
            t = time.perf_counter()
            r = await c.get("/api/next")
            lat["next"].append(time.perf_counter() - t)
            work = r.json().get("work") if r.status_code == 200 else None
            if work is None:
                errors.append(f"{name}: no work served ({r.status_code})")
                budget["left"] += 1
                return
            label = ("include", "exclude", "maybe")[int(work["id"]) % 3]
            t = time.perf_counter()
            r = await c.post(
                "/api/votes", json={"work_id": work["id"], "label": label}, headers=headers
            )
            lat["vote"].append(time.perf_counter() - t)
            if r.status_code != 201:
                errors.append(f"{name}: vote {r.status_code} {r.text[:200]}")
                budget["left"] += 1
                continue
            ids.append(int(r.json()["id"]))


def check_store(folder: Path, expected: int, returned: list[int]) -> dict[str, Any]:
    import sqlalchemy as sa

    from fmreview.store import Store, schema

    store = Store.open(folder)
    d = schema.decisions
    with store.connect() as conn:
        rows = conn.execute(sa.select(d.c.id, d.c.work_id, d.c.reviewer)).all()
    store.close()
    stored = sorted(int(r.id) for r in rows)
    pairs = [(r.work_id, r.reviewer) for r in rows]
    per_work: dict[int, int] = {}
    for w, _ in pairs:
        per_work[w] = per_work.get(w, 0) + 1
    return {
        "stored": len(rows),
        "exactly_expected": len(rows) == expected,
        "ids_match": stored == sorted(returned),
        "duplicate_votes": len(pairs) - len(set(pairs)),
        "works_with_3plus_votes": sum(1 for v in per_work.values() if v > 2),
    }


def run_one(
    db: str, n_reviewers: int, n_decisions: int, ranking: str, rank_every: int, n_flood: int
) -> dict[str, Any]:
    pg_admin = None
    db_url = None
    db_name = None
    if db == "postgresql":
        base_url = os.environ.get("FMREVIEW_TEST_PG_URL")
        if not base_url:
            return {
                "db": db,
                "skipped": "set FMREVIEW_TEST_PG_URL (bash .ci/start-postgres.sh prints it)",
            }
        import sqlalchemy as sa

        from fmreview.store.store import make_engine

        db_name = f"fmr_load_{uuid.uuid4().hex[:10]}"
        pg_admin = make_engine(base_url).execution_options(isolation_level="AUTOCOMMIT")
        with pg_admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{db_name}"'))  # generated name, not input
        db_url = base_url.rsplit("/", 1)[0] + "/" + db_name
    tmp = tempfile.TemporaryDirectory(prefix="fmr-load-")
    folder = Path(tmp.name) / "review"
    reviewers = [f"reviewer{i:02d}" for i in range(n_reviewers)]
    n_works = int(n_decisions / 2 * 1.25) + 50
    proc = None
    try:
        t0 = time.perf_counter()
        make_review(folder, n_works, reviewers, db_url)
        setup_s = time.perf_counter() - t0
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(folder), str(port), ranking, str(rank_every)],
            cwd=str(ROOT),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the server did not start: "
                    + (proc.stderr.read().decode() if proc.stderr else "")
                )
            time.sleep(0.1)
        lat: dict[str, list[float]] = {"next": [], "vote": []}
        ids: list[int] = []
        errors: list[str] = []
        budget = {"left": n_decisions}

        async def main() -> None:
            await asyncio.gather(*(reviewer(n, base, budget, lat, ids, errors) for n in reviewers))

        cpu0, own0 = _cpu_seconds(proc.pid), time.process_time()
        t0 = time.perf_counter()
        asyncio.run(main())
        wall = time.perf_counter() - t0
        server_cpu, client_cpu = _cpu_seconds(proc.pid) - cpu0, time.process_time() - own0
        flood = asyncio.run(login_flood(base, proc.pid, n_flood)) if n_flood else {}
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    try:
        check = check_store(folder, n_decisions, ids)
    finally:
        tmp.cleanup()
        if pg_admin is not None:
            import sqlalchemy as sa

            with pg_admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            pg_admin.dispose()
    all_lat = np.array(lat["next"] + lat["vote"]) * 1000
    nxt, vote = np.array(lat["next"]) * 1000, np.array(lat["vote"]) * 1000

    def pct(a: np.ndarray, q: float) -> float:
        return float(np.percentile(a, q)) if len(a) else float("nan")

    p99 = pct(all_lat, 99)
    return {
        "db": db,
        "reviewers": n_reviewers,
        "decisions": n_decisions,
        "works": n_works,
        "ranking": ranking,
        "setup_s": round(setup_s, 2),
        "wall_s": round(wall, 2),
        "requests": int(len(all_lat)),
        "requests_per_s": round(len(all_lat) / wall, 1),
        "votes_per_s": round(len(vote) / wall, 1),
        "p50_ms": round(pct(all_lat, 50), 1),
        "p99_ms": round(p99, 1),
        "next_p50_ms": round(pct(nxt, 50), 1),
        "next_p99_ms": round(pct(nxt, 99), 1),
        "vote_p50_ms": round(pct(vote, 50), 1),
        "vote_p99_ms": round(pct(vote, 99), 1),
        "server_cpu_ms_per_request": round(server_cpu / max(len(all_lat), 1) * 1000, 2),
        "client_cpu_s": round(client_cpu, 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
        "errors": len(errors),
        "first_errors": errors[:5],
        **check,
        **flood,
        "ok": bool(
            check["exactly_expected"]
            and check["ids_match"]
            and check["duplicate_votes"] == 0
            and not errors
        ),
        "p99_under_200ms": p99 < 200,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    ap.add_argument("--reviewers", type=int, default=20)
    ap.add_argument("--decisions", type=int, default=10000)
    ap.add_argument(
        "--ranking",
        choices=["background", "off"],
        default="background",
        help="active-learning refit in the server (background thread) or none",
    )
    ap.add_argument(
        "--rank-every",
        type=int,
        default=10,
        help="refit after this many new votes (and at most every 30 s)",
    )
    ap.add_argument(
        "--failed-logins", type=int, default=100, help="concurrent wrong-password logins after"
    )
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [
        run_one(
            db, args.reviewers, args.decisions, args.ranking, args.rank_every, args.failed_logins
        )
        for db in dbs
    ]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _common import print_table

        keys = [
            "reviewers",
            "decisions",
            "works",
            "ranking",
            "wall_s",
            "requests",
            "requests_per_s",
            "votes_per_s",
            "p50_ms",
            "p99_ms",
            "next_p50_ms",
            "next_p99_ms",
            "vote_p50_ms",
            "vote_p99_ms",
            "stored",
            "exactly_expected",
            "ids_match",
            "duplicate_votes",
            "works_with_3plus_votes",
            "server_cpu_ms_per_request",
            "client_cpu_s",
            "load_average_1m",
            "cpus",
            "errors",
            "flood_logins",
            "flood_checked_401",
            "flood_refused_429",
            "flood_other",
            "flood_wall_s",
            "rss_before_mb",
            "rss_peak_mb",
            "rss_growth_mb",
            "ok",
            "p99_under_200ms",
            "skipped",
        ]
        keys = [k for k in keys if any(k in r for r in results)]
        rows = [[k, *[r.get(k, "") for r in results]] for k in keys]
        print_table("web app load test (loopback)", ["metric", *[r["db"] for r in results]], rows)
        for r in results:
            for e in r.get("first_errors", []):
                print(f"{r['db']}: {e}")
    return 0 if all(r.get("ok", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
