"""How the pinned values in this folder were made (run by hand, not by the tests).

    python tests/data/metafor/extract.py /work/shared/bench/metafor

For every golden case it keeps the inputs the case needs (``<case>_input.csv``) and a
selection of metafor's numbers as ``{"path": value}`` (``<case>.json``), where a path
names the quantity as :func:`compare.compare` (validation/metafor) does.  Selection: the
quantities a user reads (estimates, SEs, p-values, CIs, tau^2 and its CI,
heterogeneity, predictions, test statistics, per-study diagnostics), dropping the
derived copies (``cr.lb``/``cr.ub`` = PI, AIC/BIC/AICc = functions of ll).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "validation" / "metafor"))
from compare import compare, read_rows  # noqa: E402
from translations import run_case  # noqa: E402

DROP = (
    ".cr.lb",
    ".cr.ub",
    ".AIC",
    ".BIC",
    ".AICc",
    ".QEdf",
    ".level",
    ".QMp",
    ".zval",
    "predict.se",
    ".vb.",
)


BCG = ["trial", "year", "tpos", "tneg", "cpos", "cneg", "ablat", "alloc"]
#: the input columns each case reads (the rest of input.csv is not needed)
COLUMNS = {
    "bcg_leave1out_influence": BCG,
    "bcg_metareg": BCG,
    "bcg_mh_peto": BCG[2:6],
    "bcg_rr_estimators": BCG,
    "kearon1998_diagnostic": ["tp", "np", "tn", "nn"],
    "nielweise2007_zero_cells": ["ai", "n1i", "ci", "n2i"],
    "normand1999_smd": ["n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i"],
    "pritz1997_prop": ["xi", "ni"],
    "pubbias_hackshaw1998": ["yi", "vi"],
}


def _enc(x: float) -> float | str:
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Inf" if x > 0 else "-Inf"
    return x


def _cell(x: object) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x) if isinstance(x, float) else str(x)


def keep(path: str) -> bool:
    return not any(d in path for d in DROP)


def main(root: Path) -> None:
    here = Path(__file__).parent
    for case_dir in sorted(p for p in root.iterdir() if (p / "expected.json").exists()):
        name = case_dir.name
        expected = json.loads((case_dir / "expected.json").read_text())
        rows = read_rows(case_dir / "input.csv")
        got = run_case(name, rows)
        items = compare(expected, got)
        values = {
            i["path"]: _enc(i["expected"]) for i in items if i["kind"] == "num" and keep(i["path"])
        }
        texts = {i["path"]: i["expected"] for i in items if i["kind"] in ("text", "text_ok")}
        out = {
            "case": name,
            "source": f"R metafor 3.8-1 golden suite, bench/metafor/{name}/expected.json",
            "values": values,
            "texts": texts,
        }
        (here / f"{name}.json").write_text(json.dumps(out, indent=0, allow_nan=False) + "\n")
        cols = COLUMNS.get(name, ["yi", "vi"])
        with (here / f"{name}_input.csv").open("w", newline="") as dst:
            writer = csv.writer(dst)
            writer.writerow(cols)
            for r in rows:
                writer.writerow(["" if r.get(c) is None else _cell(r[c]) for c in cols])
        print(name, len(values), len(texts))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/bench/metafor"))
