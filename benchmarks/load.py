"""Load test of the web app: N reviewers on loopback cast M screening decisions.

    python benchmarks/load.py [--db sqlite|postgresql|both] [--reviewers 20] [--decisions 10000] [--json]

For each database the benchmark makes a fresh review (SQLite file in a temporary folder, or
a fresh PostgreSQL database on the server named by ``FMREVIEW_TEST_PG_URL`` — ``bash
.ci/start-postgres.sh`` starts one and prints the URL), adds enough works, creates the
reviewers, and starts ``uvicorn`` in a subprocess on a free loopback port. The reviewers
log in through the login form (``httpx.AsyncClient``, CSRF token from the app), then each
loops over one kept-alive HTTP/1.1 connection (a small asyncio client whose answers
httptools parses: httpx took ~1.5 ms of CPU a request on the same 2 cores as the server):
ask for the next work of their queue (``GET /api/next``), vote on it (``POST
/api/votes``), until exactly ``--decisions`` votes have been cast in total.

It prints requests/s, p50/p99 latency per request kind, the CPU the server took a request
(its ranking process included) and the client's CPU, and checks the store afterwards:
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
COOKIE = "fmr_session"  # fmreview.web.app.COOKIE

SERVER = """
import sys, uvicorn
from fmreview.store import Store
from fmreview.web.app import create_app
from fmreview.web.settings import WebSettings
store = Store.open(sys.argv[1])
mode = sys.argv[3]
settings = WebSettings(ranking="background" if mode == "thread" else mode,
                       ranking_process=mode != "thread", rank_every=int(sys.argv[4]),
                       secret_key="load-test-secret-key-0123456789")
app = create_app(store, settings=settings)
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


def _descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids = [int(k) for k in task.read_text().split()]
        except OSError:
            continue
        for k in kids:
            out += [k, *_descendants(k)]
    return out


def _tree_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of ``pid`` and of each process it started (the web app's ranking
    process counts as the server's)."""
    out = {}
    for p in [pid, *_descendants(pid)]:
        try:
            out[p] = _cpu_seconds(p)
        except OSError:  # ended meanwhile
            pass
    return out


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


async def login(c: Any, name: str) -> str | None:
    """Log ``name`` in through the login form (``httpx.AsyncClient``); None on failure."""
    r = await c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    r = await c.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token})
    if r.status_code != 303:
        return None
    return str((await c.get("/api/session")).json()["csrf"])


class Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection to the app; answers parsed by httptools (the C
    parser uvicorn itself uses). A request is bytes written as they are; the answer is its
    status and body, read to the last byte."""

    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpResponseParser(self)
        self.transport: Any = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        _, conn = await asyncio.get_running_loop().create_connection(cls, host, port)
        return conn

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionError("the server closed the connection"))

    async def request(self, raw: bytes, timeout: float = 60) -> tuple[int, bytes]:
        self.body = []
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        async with asyncio.timeout(timeout):
            return await self.waiter

    def close(self) -> None:
        self.transport.close()


async def reviewer(
    name: str,
    base: str,
    budget: dict[str, int],
    lat: dict[str, list[float]],
    ids: list[int],
    errors: list[str],
) -> None:
    """One reviewer: logs in with httpx, then loops next/vote over one kept-alive HTTP/1.1
    connection (:class:`Connection`). The requests carry what httpx sent (session cookie,
    CSRF header, JSON body), and each latency runs from writing the request to reading the
    last byte of the answer, as with httpx; httpx's own layers (URL, cookie and header
    handling, request and response models: ~1.5 ms of CPU a request, as much as a third of
    the server's) are skipped, so that the client takes less of the 2 cores from the
    server it measures."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        csrf = await login(c, name)
        if csrf is None:
            errors.append(f"{name}: login failed")
            return
        cookie = c.cookies[COOKIE]
    hostport = base.split("://", 1)[1]
    common = f"Host: {hostport}\r\nCookie: {COOKIE}={cookie}\r\nAccept: */*\r\n"
    next_request = f"GET /api/next HTTP/1.1\r\n{common}\r\n".encode()
    vote_head = (
        f"POST /api/votes HTTP/1.1\r\n{common}X-CSRF-Token: {csrf}\r\n"
        "Content-Type: application/json\r\n"
    )
    host, port = hostport.rsplit(":", 1)
    conn = await Connection.open(host, int(port))
    try:
        while budget["left"] > 0:
            budget["left"] -= 1  # claimed before awaiting: the total is exact
            t = time.perf_counter()
            status, content = await conn.request(next_request)
            lat["next"].append(time.perf_counter() - t)
            work = json.loads(content).get("work") if status == 200 else None
            if work is None:
                errors.append(f"{name}: no work served ({status})")
                budget["left"] += 1
                return
            label = ("include", "exclude", "maybe")[int(work["id"]) % 3]
            body = json.dumps({"work_id": work["id"], "label": label})
            raw = f"{vote_head}Content-Length: {len(body)}\r\n\r\n{body}".encode()
            t = time.perf_counter()
            status, content = await conn.request(raw)
            lat["vote"].append(time.perf_counter() - t)
            if status != 201:
                errors.append(f"{name}: vote {status} {content[:200]!r}")
                budget["left"] += 1
                continue
            ids.append(int(json.loads(content)["id"]))
    finally:
        conn.close()


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
            [
                sys.executable,
                "-c",
                SERVER,
                str(folder),
                str(port),
                ranking,
                str(rank_every),
            ],
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

        cpu0, own0 = _tree_cpu_seconds(proc.pid), time.process_time()
        t0 = time.perf_counter()
        asyncio.run(main())
        wall = time.perf_counter() - t0
        cpu1, client_cpu = _tree_cpu_seconds(proc.pid), time.process_time() - own0
        server_cpu = sum(c - cpu0.get(p, 0.0) for p, c in cpu1.items())
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
        choices=["background", "thread", "off"],
        default="background",
        help="active-learning refit in a child process of the server (background), in a "
        "thread of the server (thread), or none",
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
