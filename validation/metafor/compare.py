"""Compare a result tree with metafor's ``expected.json`` leaf by leaf; read ``input.csv``."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["compare", "read_rows"]


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read a CSV into dicts; numbers become floats, empty cells None."""
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rec: dict[str, Any] = {}
            for k, val in row.items():
                if val is None or val == "" or val == "NA":
                    rec[k] = None
                else:
                    try:
                        rec[k] = float(val)
                    except ValueError:
                        rec[k] = val
            out.append(rec)
    return out


def _num(x: Any) -> float | None:
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float, np.floating, np.integer)):
        return float(x)
    if isinstance(x, str) and x in ("NaN", "Inf", "-Inf"):
        return float(x.lower().replace("inf", "inf"))
    return None


def compare(expected: Any, got: Any, path: str = "") -> list[dict[str, Any]]:
    """Walk ``expected`` and report every leaf against ``got``.

    Each item: ``{"path", "kind", "expected", "got", "abs", "rel"}`` with kind one of
    ``num`` (both numbers), ``missing`` (not computed here), ``na`` (one side NA),
    ``text`` (strings differ), ``text_ok``, ``error`` (one side errored, other not).
    Metadata keys (case, description, notes, rownames, colnames) are skipped.  An
    ``error`` text matches when it starts with metafor's message (fmreview may add
    the remedy after it, e.g. for Fisher-scoring non-convergence).
    """
    out: list[dict[str, Any]] = []
    skip = {"case", "description", "notes", "note", "rownames", "colnames", "newmods"}
    if isinstance(expected, dict):
        if isinstance(got, dict) and ("error" in expected) != ("error" in got):
            out.append(
                {
                    "path": path,
                    "kind": "error",
                    "expected": expected.get("error"),
                    "got": got.get("error"),
                }
            )
            return out
        if not isinstance(got, dict):
            got = {}
        for k, v in expected.items():
            if k in skip:
                continue
            sub = f"{path}.{k}" if path else k
            if k not in got:
                out.extend(_missing(v, sub))
            else:
                out.extend(compare(v, got[k], sub))
        return out
    if isinstance(expected, list):
        if not isinstance(got, list):
            got = [got] if got is not None and not isinstance(got, dict) else []
        for i, v in enumerate(expected):
            sub = f"{path}[{i}]"
            out.extend(compare(v, got[i], sub) if i < len(got) else _missing(v, sub))
        return out
    e = _num(expected)
    g = _num(got)
    if e is not None:
        if g is None or (math.isnan(g) and not math.isnan(e)):
            out.append(
                {
                    "path": path,
                    "kind": "na" if (got is None or g is not None) else "missing",
                    "expected": e,
                    "got": got,
                }
            )
        elif math.isnan(e) and math.isnan(g) or (math.isinf(e) and e == g):
            out.append(
                {"path": path, "kind": "num", "expected": e, "got": g, "abs": 0.0, "rel": 0.0}
            )
        else:
            a = abs(g - e)
            out.append(
                {
                    "path": path,
                    "kind": "num",
                    "expected": e,
                    "got": g,
                    "abs": a,
                    "rel": a / abs(e) if e else a,
                }
            )
        return out
    if expected is None:
        if got is not None and _num(got) is not None and not math.isnan(_num(got) or 0.0):
            out.append({"path": path, "kind": "na", "expected": None, "got": got})
        return out
    if isinstance(expected, str):
        # an error message may go on after metafor's text (fmreview names the remedy)
        same = expected == got or (
            path.endswith("error") and isinstance(got, str) and got.startswith(expected)
        )
        kind = "text_ok" if same else "text"
        out.append({"path": path, "kind": kind, "expected": expected, "got": got})
    return out


def _missing(v: Any, path: str) -> list[dict[str, Any]]:
    return [
        {**item, "kind": "missing", "got": None}
        for item in compare(v, None, path)
        if item["kind"] in ("num", "na", "missing", "text", "text_ok")
    ]
