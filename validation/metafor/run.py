"""Run a metafor case folder (``make.R`` + ``input.csv`` + ``expected.json``) with fmreview.

    python validation/metafor/run.py CASE_DIR [--json]

The case's ``make.R`` (and the ``_common.R`` it sources) is evaluated by :mod:`rlite`
with metafor's functions mapped to fmreview.meta (:mod:`rmetafor`); the tree it
passes to ``write_json`` is compared leaf by leaf with ``expected.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import compare  # noqa: E402
from rlite import Interpreter  # noqa: E402
from rparse import RSyntaxError  # noqa: E402
from rvalues import RError, Unsupported, to_tree  # noqa: E402

__all__ = ["evaluate_case", "run_case_dir"]


def run_case_dir(case_dir: Path) -> Any:
    """The result tree of the case's ``make.R`` run with fmreview (raises ``Unsupported``)."""
    interp = Interpreter(Path(case_dir))
    return to_tree(interp.run_case())


def evaluate_case(case_dir: Path) -> dict[str, Any]:
    """Compare one case with metafor: counts, worst deviations and mismatching texts."""
    name = Path(case_dir).name
    expected = json.loads((Path(case_dir) / "expected.json").read_text())
    try:
        got = run_case_dir(case_dir)
    except Unsupported as exc:
        return {"case": name, "status": str(exc)}
    except (RSyntaxError, RError) as exc:
        return {"case": name, "status": f"unsupported: {exc}"}
    items = compare(expected, got)
    nums = [i for i in items if i["kind"] == "num"]
    for i in nums:  # relative deviation is meaningless for values that are zero up to rounding
        if abs(i["expected"]) < 1e-8:
            i["rel"] = i["abs"]
    worst_abs = max(nums, key=lambda i: i["abs"], default=None)
    worst_rel = max(nums, key=lambda i: i["rel"], default=None)
    return {
        "case": name,
        "status": "ok",
        "compared": len(nums),
        "missing": sum(i["kind"] == "missing" for i in items),
        "missing_at": [i["path"] for i in items if i["kind"] == "missing"],
        "na_mismatch": [i["path"] for i in items if i["kind"] == "na"],
        "error_mismatch": [i for i in items if i["kind"] == "error"],
        "text_mismatch": [i for i in items if i["kind"] == "text"],
        "text_ok": sum(i["kind"] == "text_ok" for i in items),
        "max_abs": worst_abs["abs"] if worst_abs else None,
        "max_abs_at": worst_abs["path"] if worst_abs else None,
        "max_rel": worst_rel["rel"] if worst_rel else None,
        "max_rel_at": worst_rel["path"] if worst_rel else None,
        "worst": sorted(nums, key=lambda i: -i["rel"]),
    }


if __name__ == "__main__":
    res = evaluate_case(Path(sys.argv[1]))
    if "--json" in sys.argv:
        print(json.dumps(res, indent=1, default=str))
    else:
        res.pop("worst", None)
        for k, v in res.items():
            print(f"{k}: {v if not isinstance(v, list) else v[:8]}")
