"""Import throughput: N RIS records (real ones, replicated and perturbed) into SQLite.

Prints records/s and peak memory for ``fmreview import`` end to end (parse, normalise,
fingerprint, store) next to plain rispy parsing the same file, each measured in its own
subprocess so peak memory is that of one job. Target: >= 10,000 records/s, < 500 MB.

    python benchmarks/import.py [--n 1000000] [--workdir DIR] [--input FILE] [--json]

``--input FILE`` keeps the generated file there (or reuses it when it exists) so repeated
runs skip making it. The fmreview job parses on worker processes; its row shows the peak
memory of the main process and, apart, of the largest worker, and the CPU seconds of both.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_path, dump_json, peak_rss_mb, print_table  # noqa: E402


def _pool() -> list[list[str]]:
    """Real RIS records (as lists of lines) from the shared RIS exports."""
    pool: list[list[str]] = []
    for f in sorted(bench_path("formats", "ris").glob("*.ris")):
        text = f.read_text(encoding="utf-8-sig", errors="replace")
        cur: list[str] = []
        for line in text.splitlines():
            if line.startswith("TY  -"):
                cur = [line]
            elif cur:
                cur.append(line)
                if line.startswith("ER  -"):
                    pool.append(cur)
                    cur = []
    return pool


def _perturb(lines: list[str], i: int, rng: random.Random) -> list[str]:
    out = []
    for line in lines:
        tag = line[:2]
        if tag in ("TI", "T1") and line[6:]:
            title = line[6:]
            if rng.random() < 0.3:  # typo
                k = rng.randrange(len(title))
                title = title[:k] + title[k + 1 :]
            if rng.random() < 0.2:
                title = title.upper() if rng.random() < 0.5 else title.lower()
            line = f"{tag}  - {title} [{i}]"
        elif tag == "DO" and line[6:]:
            line = f"DO  - {line[6:].strip()}.{i}"
        elif tag in ("PY", "Y1") and rng.random() < 0.1:
            line = f"{tag}  - {rng.randint(1990, 2025)}"
        elif tag == "AB" and rng.random() < 0.1:
            continue  # missing abstract
        elif tag in ("AU", "A1") and rng.random() < 0.2:
            name = line[6:]
            if "," in name:
                fam, giv = name.split(",", 1)
                line = f"{tag}  - {fam}, {giv.strip()[:1]}."
        out.append(line)
    return out


def make_file(path: Path, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    pool = _pool()
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write("\n".join(_perturb(pool[i % len(pool)], i, rng)))
            fh.write("\n\n")


def worker_rispy(path: Path) -> dict:
    import rispy

    t0 = time.perf_counter()
    n = 0
    with path.open(encoding="utf-8") as fh:
        for _ in rispy.RisParser().parse_lines(fh):
            n += 1
    return {"records": n, "seconds": time.perf_counter() - t0, "peak_mb": peak_rss_mb()}


def _cpu() -> tuple[float, float]:
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def worker_fmreview(path: Path, review: Path) -> dict:
    import resource

    from fmreview.importer import import_files
    from fmreview.store import Store

    store = Store.create(review)
    c0 = _cpu()
    t0 = time.perf_counter()
    result = import_files(store, [path], source="bench")
    store.close()  # end to end: the last WAL checkpoint is part of the import
    dt = time.perf_counter() - t0
    c1 = _cpu()
    return {
        "records": result.added,
        "quarantined": result.quarantined,
        "seconds": dt,
        "peak_mb": peak_rss_mb(),
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "cpu_main_s": c1[0] - c0[0],
        "cpu_workers_s": c1[1] - c0[1],
    }


def worker_cli(path: Path, review: Path) -> dict:
    """``fmreview import`` as a user runs it (its own process, progress reporting and all)."""
    import resource

    fmreview = [sys.executable, "-m", "fmreview"]
    subprocess.run([*fmreview, "init", str(review)], check=True, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [*fmreview, "import", str(path), "--dir", str(review), "--source", "bench"],
        check=True,
        capture_output=True,
    )
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    from fmreview.store import Store
    from fmreview.store.records import count_records

    store = Store.open(review)
    n = count_records(store)
    store.close()
    return {
        "records": n,
        "seconds": dt,
        # the largest of the command's processes (the command itself, or a parser worker)
        "peak_mb": after.ru_maxrss / 1024,
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--input", type=Path, default=None, help="keep/reuse the RIS file here")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", choices=["rispy", "fmreview", "cli"], help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--review", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "rispy":
        print(json.dumps(worker_rispy(args.file)))
        return
    if args.worker == "fmreview":
        print(json.dumps(worker_fmreview(args.file, args.review)))
        return
    if args.worker == "cli":
        print(json.dumps(worker_cli(args.file, args.review)))
        return

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        ris = args.input or Path(tmp) / "bench.ris"
        t0 = time.perf_counter()
        if not ris.exists():
            make_file(ris, args.n)
        made = time.perf_counter() - t0
        size_mb = ris.stat().st_size / 1e6
        results = {}
        for name in ("rispy", "fmreview", "cli"):
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                name,
                "--file",
                str(ris),
                "--review",
                str(Path(tmp) / f"review-{name}"),
            ]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[name] = json.loads(out.strip().splitlines()[-1])
    summary = {
        "records": results["rispy"]["records"],
        "file_mb": round(size_mb, 1),
        "make_seconds": round(made, 1),
        "rispy": results["rispy"],
        "fmreview": results["fmreview"],
        "cli": results["cli"],
    }
    for r in (summary["rispy"], summary["fmreview"], summary["cli"]):
        r["records_per_s"] = r["records"] / r["seconds"] if r["seconds"] else None
    summary["fmreview_vs_rispy_time_ratio"] = (
        results["fmreview"]["seconds"] / results["rispy"]["seconds"]
    )
    summary["target_met"] = all(
        summary[k]["records_per_s"] >= 10_000 and summary[k]["peak_mb"] < 500
        for k in ("fmreview", "cli")
    )
    if args.json:
        dump_json(summary)
        return
    print_table(
        f"Import of {summary['records']:,} RIS records ({size_mb:,.0f} MB) into SQLite",
        ["job", "records", "seconds", "records/s", "peak MB", "CPU s (main + workers)"],
        [
            [
                "plain rispy (parse only)",
                results["rispy"]["records"],
                results["rispy"]["seconds"],
                summary["rispy"]["records_per_s"],
                results["rispy"]["peak_mb"],
                "",
            ],
            [
                "fmreview import (parse+normalise+store)",
                results["fmreview"]["records"],
                results["fmreview"]["seconds"],
                summary["fmreview"]["records_per_s"],
                f"{results['fmreview']['peak_mb']:,.0f} "
                f"(largest worker {results['fmreview']['worker_peak_mb']:,.0f})",
                f"{results['fmreview']['cpu_main_s']:,.0f} + "
                f"{results['fmreview']['cpu_workers_s']:,.0f}",
            ],
            [
                "`fmreview import` command (as a user runs it)",
                results["cli"]["records"],
                results["cli"]["seconds"],
                summary["cli"]["records_per_s"],
                f"{results['cli']['peak_mb']:,.0f} (largest process)",
                f"{results['cli']['cpu_s']:,.0f}",
            ],
        ],
    )
    print(
        f"fmreview/rispy time ratio: {summary['fmreview_vs_rispy_time_ratio']:.2f}; "
        f"target (>=10,000 records/s, <500 MB): {'met' if summary['target_met'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
