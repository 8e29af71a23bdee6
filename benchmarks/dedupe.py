"""Deduplication benchmark: fmreview vs bib-dedupe on labelled sets, and scale.

Usage::

    python benchmarks/dedupe.py [DIR ...] [--json] [--no-bib-dedupe] [--scale N]

Each DIR holds ``records.csv`` and ``gold.csv`` (layout of ``../shared/bench/dedupe/*/``);
default: every folder under ``/work/shared/bench/dedupe``. Metrics are those of Hair et al.
2023 (:mod:`fmreview.dedupe.evaluate`), per set and pooled, with wall time. When
``bib_dedupe`` is importable it runs on the same sets in the same process for a
side-by-side table and the speed ratio.

Settings follow the labelling convention of the gold sets, for every set alike: the
SRA-DM sets count companion conference abstracts as duplicates
(``merge_conference_abstracts=True``), and no set counts a preprint/conference version and
its journal extension as one record (``link_versions=False``; with versions linked they
would be one *work*, which the gold does not model).

``--scale N`` builds N records by replicating the real ones with realistic perturbations
(typos, missing fields, case and punctuation changes, author initials) and prints
records/s and peak memory (ru_maxrss of this process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fmreview.dedupe.engine import Deduplicator
from fmreview.dedupe.evaluate import DedupeMetrics, hair_metrics

BENCH = Path("/work/shared/bench/dedupe")


def load_set(folder: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    records = pd.read_csv(folder / "records.csv", dtype=str, keep_default_na=False)
    gold = pd.read_csv(folder / "gold.csv", dtype=str)
    return records, dict(zip(gold["record_id"], gold["group_id"], strict=True))


def run_fmreview(
    records: pd.DataFrame, **params: object
) -> tuple[dict[str, object], float, Deduplicator]:
    t0 = time.perf_counter()
    model = Deduplicator(**params).fit(records)  # type: ignore[arg-type]
    return model.clusters_, time.perf_counter() - t0, model


def run_bib_dedupe(records: pd.DataFrame) -> tuple[dict[str, object], float]:
    import bib_dedupe.bib_dedupe as bd

    df = records.rename(columns={"record_id": "ID", "entrytype": "ENTRYTYPE"}).copy()
    df = df.replace({"NA": ""})
    t0 = time.perf_counter()
    prep = bd.prep(df, verbosity_level=0, cpu=-1)
    pairs = bd.block(prep, verbosity_level=0, cpu=-1)
    matched = bd.match(pairs, verbosity_level=0, cpu=-1)
    groups = bd.cluster(matched, verbosity_level=0)
    elapsed = time.perf_counter() - t0
    pred: dict[str, object] = {rid: rid for rid in df["ID"]}
    for group in groups:
        head = sorted(group)[0]
        for rid in group:
            pred[rid] = head
    return pred, elapsed


def _fmt(m: DedupeMetrics) -> list[str]:
    return [
        str(m.tp),
        str(m.fp),
        str(m.tn),
        str(m.fn),
        f"{m.sensitivity:.4f}",
        f"{m.specificity:.4f}",
        f"{m.precision:.4f}",
    ]


def benchmark_sets(
    dirs: list[Path], *, with_bib: bool, params: dict[str, object], show_errors: int = 0
) -> dict[str, object]:
    try:
        import bib_dedupe  # noqa: F401

        have_bib = with_bib
    except ImportError:
        have_bib = False
    rows = []
    pooled = {"fmreview": DedupeMetrics(0, 0, 0, 0), "bib-dedupe": DedupeMetrics(0, 0, 0, 0)}
    times = {"fmreview": 0.0, "bib-dedupe": 0.0}
    for folder in dirs:
        records, gold = load_set(folder)
        order = records["record_id"].tolist()
        pred, secs, model = run_fmreview(records, **params)
        m = hair_metrics(pred, gold, order)
        pooled["fmreview"] += m
        times["fmreview"] += secs
        rows.append(
            {
                "set": folder.name,
                "tool": "fmreview",
                "n": len(records),
                "seconds": secs,
                **m.as_dict(),
                "pairs": model.n_pairs_,
                "uncertain": len(model.uncertain_),
            }
        )
        if show_errors:
            _show_errors(records, pred, gold, show_errors)
        if have_bib:
            pred_b, secs_b = run_bib_dedupe(records)
            mb = hair_metrics(pred_b, gold, order)
            pooled["bib-dedupe"] += mb
            times["bib-dedupe"] += secs_b
            rows.append(
                {
                    "set": folder.name,
                    "tool": "bib-dedupe",
                    "n": len(records),
                    "seconds": secs_b,
                    **mb.as_dict(),
                }
            )
    result: dict[str, object] = {"sets": rows, "params": params}
    result["pooled"] = {
        tool: {**pooled[tool].as_dict(), "seconds": times[tool]}
        for tool in (["fmreview", "bib-dedupe"] if have_bib else ["fmreview"])
    }
    if have_bib and times["fmreview"] > 0:
        result["speedup_vs_bib_dedupe"] = times["bib-dedupe"] / times["fmreview"]
    elif with_bib:
        result["bib_dedupe"] = "not importable (pip install bib-dedupe)"
    return result


def _show_errors(
    records: pd.DataFrame, pred: dict[str, object], gold: dict[str, str], limit: int
) -> None:
    by_id = records.set_index("record_id")
    cols = ["title", "author", "year", "journal", "volume", "pages", "doi"]
    groups: dict[str, list[str]] = {}
    for rid, g in gold.items():
        groups.setdefault(g, []).append(rid)
    shown = 0
    for _g, members in groups.items():
        clusters = {pred[r] for r in members}
        if len(clusters) > 1 and shown < limit:
            shown += 1
            print("FN group:", file=sys.stderr)
            for r in members:
                print("   ", pred[r], by_id.loc[r, cols].str[:70].tolist(), file=sys.stderr)
    clusters_m: dict[object, list[str]] = {}
    for rid, c in pred.items():
        clusters_m.setdefault(c, []).append(rid)
    shown = 0
    for _c, members in clusters_m.items():
        if len({gold[r] for r in members}) > 1 and shown < limit:
            shown += 1
            print("FP cluster:", file=sys.stderr)
            for r in members:
                print("   ", gold[r], by_id.loc[r, cols].str[:70].tolist(), file=sys.stderr)


# ----------------------------------------------------------------------------- scale
def perturb(
    records: pd.DataFrame, n: int, seed: int = 0, dup_rate: float = 0.3
) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` records with known duplicate groups, built from ``records``.

    Distinct works are synthesised from real records (title words partly replaced by
    words from other real titles, authors redrawn from the real surname pool, year and
    pages redrawn) so that the corpus is mostly distinct papers, as a real million-record
    search result is; a share ``dup_rate`` of the records are then copies of a work with
    realistic perturbations: typos, case and punctuation changes, authors cut to initials
    or to the first three, missing pages or venue, an off-by-one year.
    Returns the records and the gold work number of each record (an int array).
    """
    rng = np.random.default_rng(seed)
    n_works = max(1, int(n * (1 - dup_rate)))
    base = records.sample(n=n_works, replace=True, random_state=seed).reset_index(drop=True)
    vocab = np.array(
        sorted({w for t in records["title"] for w in str(t).split() if len(w) > 3}), dtype=object
    )
    surnames = np.array(
        sorted(
            {
                a.split(",")[0].strip()
                for s in records["author"]
                for a in str(s).split(" and ")
                if "," in a
            }
        ),
        dtype=object,
    )
    titles = []
    for t in base["title"].to_numpy(dtype=object):
        words = str(t).split() or ["untitled"]
        k = max(2, len(words) // 2)
        pos = rng.choice(len(words), size=min(k, len(words)), replace=False)
        for p in pos:
            words[p] = vocab[rng.integers(len(vocab))]
        titles.append(" ".join(words))
    n_auth = rng.integers(1, 7, size=n_works)
    authors = [
        " and ".join(
            f"{surnames[rng.integers(len(surnames))]}, {chr(65 + rng.integers(26))}."
            for _ in range(m)
        )
        for m in n_auth
    ]
    start = rng.integers(1, 3000, size=n_works)
    works = base.assign(
        title=titles,
        author=authors,
        year=rng.integers(1980, 2025, size=n_works).astype(str),
        pages=[f"{s}-{s + int(rng.integers(1, 15))}" for s in start],
        volume=rng.integers(1, 400, size=n_works).astype(str),
        doi="",
    )
    # every work once, then duplicates of random works
    pick = np.concatenate([np.arange(n_works), rng.integers(0, n_works, size=n - n_works)])
    src = works.iloc[pick].reset_index(drop=True)
    is_copy = np.arange(n) >= n_works
    title = src["title"].to_numpy(dtype=object).copy()
    author = src["author"].to_numpy(dtype=object).copy()
    year = src["year"].to_numpy(dtype=object).copy()
    u = rng.random((n, 7))
    for k in np.flatnonzero(is_copy & (u[:, 0] < 0.3)).tolist():  # typo: swap two letters
        t = title[k]
        if len(t) > 10:
            p = int(rng.integers(0, len(t) - 2))
            title[k] = t[:p] + t[p + 1] + t[p] + t[p + 2 :]
    up = is_copy & (u[:, 1] < 0.2)
    title[up] = [t.upper() for t in title[up]]
    punct = is_copy & (u[:, 2] < 0.3)
    title[punct] = [t.replace(",", "").replace(":", " -") + "." for t in title[punct]]
    initials = is_copy & (u[:, 3] < 0.3)
    author[initials] = [" and ".join(a.split(" and ")[:3]) for a in author[initials]]
    shift = is_copy & (u[:, 6] < 0.1)
    year[shift] = [str(int(y) + 1) for y in year[shift]]
    out = src.assign(title=title, author=author, year=year)
    out.loc[is_copy & (u[:, 4] < 0.2), "pages"] = ""
    out.loc[is_copy & (u[:, 5] < 0.2), "journal"] = ""
    order = rng.permutation(n)
    out = out.iloc[order].reset_index(drop=True)
    out["record_id"] = [f"r{k:08d}" for k in range(n)]
    return out, pick[order]


def benchmark_scale(dirs: list[Path], n: int, params: dict[str, object]) -> dict[str, object]:
    base = pd.concat([load_set(d)[0] for d in dirs], ignore_index=True)
    records, work = perturb(base, n)
    del base
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    model = Deduplicator(**params).fit(records)  # type: ignore[arg-type]
    secs = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    # the high-water mark of the process (input records included) when dedupe ends,
    # before the metrics below allocate anything
    peak_mb = ru1.ru_maxrss / 1024
    clusters, n_pairs = model.clusters_, model.n_pairs_
    del model
    gold = dict(zip(records["record_id"], work.tolist(), strict=True))
    m = hair_metrics(clusters, gold, records["record_id"].tolist())
    return {
        "sensitivity": m.sensitivity,
        "precision": m.precision,
        "records": n,
        "seconds": secs,
        "cpu_seconds": cpu,
        "load_average_1m": os.getloadavg()[0],
        "records_per_second": n / secs,
        "peak_rss_mb": peak_mb,
        "rss_before_dedupe_mb": ru0.ru_maxrss / 1024,
        "pairs": n_pairs,
        "clusters": len(set(clusters.values())),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--scale", type=int, default=0, help="build and deduplicate N perturbed records"
    )
    ap.add_argument("--no-bib-dedupe", action="store_true")
    ap.add_argument(
        "--errors",
        type=int,
        default=0,
        help="print up to N false-negative groups and false-positive clusters per set",
    )
    ap.add_argument(
        "--link-versions",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="link preprint/conference versions into works (default off: the gold sets do not model versions)",
    )
    ap.add_argument(
        "--merge-conference-abstracts",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="merge conference abstracts with full papers (default on: the SRA-DM gold counts them as duplicates)",
    )
    args = ap.parse_args(argv)
    dirs = args.dirs or sorted(p for p in BENCH.iterdir() if (p / "gold.csv").exists())
    params: dict[str, object] = {
        "link_versions": args.link_versions,
        "merge_conference_abstracts": args.merge_conference_abstracts,
    }
    if args.scale:
        res = benchmark_scale(dirs, args.scale, params)
        if args.json:
            print(json.dumps(res, indent=2))
        else:
            for k, v in res.items():
                print(f"{k:>20}: {v:,.1f}" if isinstance(v, float) else f"{k:>20}: {v:,}")
        return 0
    res = benchmark_sets(
        dirs, with_bib=not args.no_bib_dedupe, params=params, show_errors=args.errors
    )
    if args.json:
        print(json.dumps(res, indent=2, default=str))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Deduplication (Hair et al. 2023 metrics)")
    for c in (
        "set",
        "tool",
        "records",
        "TP",
        "FP",
        "TN",
        "FN",
        "sensitivity",
        "specificity",
        "precision",
        "seconds",
    ):
        table.add_column(c, justify="left" if c in ("set", "tool") else "right")
    for r in res["sets"]:  # type: ignore[attr-defined]
        m = DedupeMetrics(r["tp"], r["fp"], r["tn"], r["fn"])
        table.add_row(r["set"], r["tool"], str(r["n"]), *_fmt(m), f"{r['seconds']:.2f}")
    for tool, p in res["pooled"].items():  # type: ignore[attr-defined]
        m = DedupeMetrics(p["tp"], p["fp"], p["tn"], p["fn"])
        table.add_row("POOLED", tool, "", *_fmt(m), f"{p['seconds']:.2f}", style="bold")
    Console(width=160).print(table)
    if "speedup_vs_bib_dedupe" in res:
        print(
            f"fmreview is {res['speedup_vs_bib_dedupe']:.1f}x faster than bib-dedupe on these sets"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
