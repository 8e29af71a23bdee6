"""Agreement of fmreview.meta with R's metafor on any golden-suite case folder.

Usage::

    python benchmarks/metafor_agreement.py [CASE_DIR ...] [--json] [--worst N]

Default: every ``/work/shared/bench/metafor/*/`` (or ``$FMREVIEW_BENCH/metafor``).
A case folder holds ``make.R`` (the R script that produced it), ``input.csv`` and
``expected.json``.  The script is *run*, not looked up: ``validation/metafor/rlite.py``
evaluates ``make.R`` (and the ``_common.R`` it sources) with metafor's functions mapped
to fmreview.meta's public API (``validation/metafor/rmetafor.py``), so a new case
needs no new code unless it uses an R construct the evaluator lacks; then the case
reports ``unsupported: <call>``.  Every number of ``expected.json`` is compared; the
table gives the largest absolute and relative deviation and where, how many numbers
were compared, not computed (miss), NA where metafor has a number (NA), and error/
warning texts that differ from metafor's (err, txt).

Known last-digit differences (metafor 3.8-1 suite): ``bcg_metareg`` with the raw
``year`` moderator (~1e-9 relative; metafor's normal equations lose digits, ours use
QR and agree with 50-digit arithmetic), the bivariate ``rma.mv`` model in
``kearon1998_diagnostic`` (~3e-5; metafor's ``nlminb`` stops early, our REML
log-likelihood is higher by 6e-10), ``rma.glmm`` in ``pritz1997_prop`` (~5e-5; lme4's
optimiser stops early, our likelihood is higher by 1.5e-10).  The same two models run to
convergence in R are bundled in ``validation/metafor/cases/`` (7e-8 and 2e-8).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation" / "metafor"))

from run import evaluate_case  # noqa: E402

DEFAULT_ROOT = Path(os.environ.get("FMREVIEW_BENCH", "/work/shared/bench")) / "metafor"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("dirs", nargs="*", type=Path)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument(
        "--worst", type=int, default=0, help="also list the N worst quantities per case"
    )
    args = ap.parse_args(argv)
    dirs = args.dirs or sorted(p for p in DEFAULT_ROOT.glob("*/") if (p / "expected.json").exists())
    if not dirs:
        print(f"no case directories found under {DEFAULT_ROOT}", file=sys.stderr)
        return 2
    results = [evaluate_case(Path(d)) for d in dirs]
    if args.json:
        for r in results:
            r["worst"] = r.get("worst", [])[: args.worst]
        print(json.dumps(results, indent=1, default=str))
        return 0
    hdr = f"{'case':26} {'n':>5} {'miss':>4} {'NA':>3} {'err':>3} {'txt':>3} {'max abs':>8} {'max rel':>8}"
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        if r["status"] != "ok":
            print(f"{r['case']:26} {r['status']}"[:80])
            continue
        ma = f"{r['max_abs']:.1e}" if r["max_abs"] is not None else "-"
        mr = f"{r['max_rel']:.1e}" if r["max_rel"] is not None else "-"
        print(
            f"{r['case'][:26]:26} {r['compared']:5d} {r['missing']:4d} {len(r['na_mismatch']):3d} "
            f"{len(r['error_mismatch']):3d} {len(r['text_mismatch']):3d} {ma:>8} {mr:>8}"
        )
        if args.worst:
            print(f"    worst: {r['max_rel_at']}"[:80])
        for w in r["worst"][: args.worst]:
            print(f"    {w['rel']:.1e} {w['path']}"[:80])
        if args.worst:
            for p in r["missing_at"][: args.worst]:
                print(f"    missing: {p}"[:80])
            for p in r["na_mismatch"][: args.worst]:
                print(f"    NA mismatch: {p}"[:80])
            for e in r["error_mismatch"][: args.worst]:
                print(f"    error: {e['path']}: exp={e['expected']!r} got={e['got']!r}"[:80])
            for t in r["text_mismatch"][: args.worst]:
                print(f"    text: {t['path']}: exp={t['expected']!r} got={t['got']!r}"[:80])
    return 0


if __name__ == "__main__":
    sys.exit(main())
