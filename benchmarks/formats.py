"""Format benchmark: every file under the shared bench formats folder, and RIS throughput.

Usage::

    python benchmarks/formats.py [DIR] [--json] [--ris-records N] [--ris-source FILE]

For every file under DIR (default ``../shared/bench/formats``): the sniffed format, records
read, per-record errors, the count PROVENANCE.md documents (with documented deviations,
see ``fmreview.formats.provenance``), ok/mismatch, and records/s. Then a large RIS file is
made by replicating a fixture with perturbed titles/DOIs (N records, default 200,000) and
``read_records`` is timed next to plain ``rispy.load`` on the same file, with the peak RSS
after each step (``read_records`` streams; ``rispy.load`` holds the whole list). Rates are
given per wall-clock second and per CPU second (the latter is what to compare on a shared,
busy machine).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

from fmreview.errors import FmreviewError, RecordError
from fmreview.formats import read_records, sniff
from fmreview.formats.provenance import expectations

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench" / "formats"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_files(root: Path) -> list[dict]:
    expected = expectations(root)
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "PROVENANCE.md"):
        rel = str(path.relative_to(root))
        exp = expected.get(rel)
        row: dict = {"file": rel, "expected": exp.entries if exp else None}
        t0 = time.perf_counter()
        try:
            row["format"] = sniff(path)
            items = list(read_records(path, format=row["format"]))
        except FmreviewError as exc:
            row.update(format=row.get("format", "?"), records=0, errors=1, status=f"error: {exc}")
            rows.append(row)
            continue
        dt = time.perf_counter() - t0
        errs = [i for i in items if isinstance(i, RecordError)]
        row["records"] = len(items) - len(errs)
        row["errors"] = len(errs)
        row["records_per_s"] = round(len(items) / dt) if dt > 0 else None
        want_errors = exp.errors if exp else 0
        entries_ok = exp is None or exp.entries is None or exp.entries == len(items)
        row["status"] = "ok" if entries_ok and len(errs) == want_errors else "mismatch"
        if errs:
            row["first_error"] = str(errs[0])
        rows.append(row)
    return rows


def make_big_ris(source: Path, n: int, target: Path) -> int:
    """Write ``n`` records by cycling through ``source``'s records, perturbing each copy."""
    text = source.read_text(encoding="utf-8-sig")
    blocks = [b.strip("\n") + "\n" for b in re.split(r"(?m)^ER  -.*$", text) if "TY  -" in b]
    written = 0
    with target.open("w", encoding="utf-8") as fh:
        while written < n:
            for block in blocks:
                if written >= n:
                    break
                copy = re.sub(r"(?m)^(TI  - )(.*)$", rf"\g<1>\g<2> (copy {written})", block)
                copy = re.sub(r"(?m)^(DO  - )(.*)$", rf"\g<1>\g<2>.{written}", copy)
                fh.write(copy + "ER  - \n\n")
                written += 1
    return written


def bench_ris(source: Path, n: int) -> dict:
    import rispy

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.ris"
        make_big_ris(source, n, big)
        size_mb = big.stat().st_size / 1e6
        base = peak_rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        count = sum(1 for _ in read_records(big, format="ris"))
        ours, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
        ours_rss = peak_rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        entries = rispy.load(big, encoding="utf-8")
        theirs, theirs_cpu = time.perf_counter() - t0, time.process_time() - c0
        rispy_rss = peak_rss_mb()
        count_rispy = len(entries)
        del entries
    return {
        "source": source.name,
        "records": count,
        "file_mb": round(size_mb, 1),
        "read_records_per_s": round(count / ours),
        "rispy_load_per_s": round(count_rispy / theirs),
        "read_records_per_cpu_s": round(count / ours_cpu),
        "rispy_load_per_cpu_s": round(count_rispy / theirs_cpu),
        "rss_before_mb": round(base),
        "peak_rss_after_read_records_mb": round(ours_rss),
        "peak_rss_after_rispy_mb": round(rispy_rss),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--ris-records", type=int, default=200_000, help="0 skips the RIS run")
    ap.add_argument("--ris-source", type=Path, default=None)
    args = ap.parse_args(argv)
    if not args.dir.is_dir():
        print(f"{args.dir} does not exist; pass the bench formats folder", file=sys.stderr)
        return 2
    rows = bench_files(args.dir)
    ris = None
    if args.ris_records:
        source = args.ris_source or args.dir / "ris" / "wos_asysd.ris"
        ris = bench_ris(source, args.ris_records)
    if args.json:
        print(json.dumps({"files": rows, "ris_throughput": ris}, indent=2))
        return 0 if all(r["status"] == "ok" for r in rows) else 1
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"fmreview formats: {args.dir}")
    for col in ("file", "format", "records", "errors", "expected", "status", "rec/s"):
        table.add_column(
            col, justify="right" if col in ("records", "errors", "expected", "rec/s") else "left"
        )
    for r in rows:
        style = "" if r["status"] == "ok" else "red"
        table.add_row(
            r["file"], r.get("format", "?"), str(r["records"]), str(r["errors"]),
            "" if r["expected"] is None else str(r["expected"]), r["status"],
            str(r.get("records_per_s", "")), style=style,
        )  # fmt: skip
    console = Console()
    console.print(table)
    ok = sum(r["status"] == "ok" for r in rows)
    console.print(f"{ok}/{len(rows)} files ok")
    if ris:
        console.print(
            f"RIS {ris['records']:,} records ({ris['file_mb']} MB from {ris['source']}): "
            f"read_records {ris['read_records_per_s']:,}/s wall, "
            f"{ris['read_records_per_cpu_s']:,}/s CPU (peak RSS "
            f"{ris['peak_rss_after_read_records_mb']} MB); rispy.load "
            f"{ris['rispy_load_per_s']:,}/s wall, {ris['rispy_load_per_cpu_s']:,}/s CPU "
            f"(peak RSS {ris['peak_rss_after_rispy_mb']} MB)"
        )
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
