"""Helpers shared by the benchmarks: where the shared data is, peak memory, tables."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"


def bench_path(*parts: str) -> Path:
    path = BENCH.joinpath(*parts)
    if not path.exists():
        sys.exit(f"benchmark data {path} is absent (expected ../shared/bench next to the repo)")
    return path


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{v:,.3f}" if isinstance(v, float) else str(v) for v in r])
    Console().print(table)


def dump_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))
