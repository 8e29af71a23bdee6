"""Deduplication benchmark: fmreview vs bib-dedupe on labelled sets, and scale.

Usage::

    python benchmarks/dedupe.py [DIR ...] [--json] [--no-bib-dedupe]
        [--bib-dedupe-python /tmp/bdenv/bin/python] [--no-tune] [--scale N]

Each DIR holds ``records.csv`` and ``gold.csv`` (layout of ``../shared/bench/dedupe/*/``);
default: every folder under ``/work/shared/bench/dedupe``. Metrics are those of Hair et al.
2023 (:mod:`fmreview.dedupe.evaluate`), per set and pooled, for automatic merges only
(pairs sent to the review queue count as not merged; the queue size is reported), with
wall and CPU time.

Figures printed:

* the defaults on every set: *in-sample* for the six shared sets the defaults were chosen
  on (marked ``*``), held-out for any other set;
* leave-one-set-out over the given sets (two or more): ``upper`` and ``title_min`` chosen
  on the other sets (least FN + 10 x FP over a fixed grid, ties to the more cautious
  setting), scored on the set left out, pooled; beside it the in-sample optimum;
* the trap suite (``tests/data/dedupe_traps``): false merges among hard negatives;
* bib-dedupe on the same sets when it is importable here, or run by another Python
  (``--bib-dedupe-python``; it pins its own dependencies, so install it in a separate
  venv: ``python -m venv /tmp/bdenv && /tmp/bdenv/bin/pip install bib-dedupe``), with the
  speed ratio in wall and CPU time.

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
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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
) -> tuple[dict[str, object], float, float, Deduplicator]:
    """Clusters, wall seconds, CPU seconds (all threads of this process) and the model."""
    t0, c0 = time.perf_counter(), time.process_time()
    model = Deduplicator(**params).fit(records)  # type: ignore[arg-type]
    return model.clusters_, time.perf_counter() - t0, time.process_time() - c0, model


#: bib-dedupe's pipeline, run by another interpreter when bib-dedupe is not importable
#: here (it pins its own dependencies: install it into a separate venv); reads a CSV,
#: prints the predicted clusters and the seconds spent (imports excluded) as JSON.
_BIB_SCRIPT = """
import json, resource, sys, time
import pandas as pd
import bib_dedupe.bib_dedupe as bd
df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
df = df.rename(columns={"record_id": "ID", "entrytype": "ENTRYTYPE"}).replace({"NA": ""})
def cpu():
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime
t0, c0 = time.perf_counter(), cpu()
prep = bd.prep(df, verbosity_level=0, cpu=-1)
pairs = bd.block(prep, verbosity_level=0, cpu=-1)
matched = bd.match(pairs, verbosity_level=0, cpu=-1)
groups = bd.cluster(matched, verbosity_level=0)
secs, cpus = time.perf_counter() - t0, cpu() - c0
pred = {rid: rid for rid in df["ID"]}
for group in groups:
    head = sorted(group)[0]
    for rid in group:
        pred[rid] = head
print(json.dumps({"pred": pred, "seconds": secs, "cpu_seconds": cpus}))
"""


def run_bib_dedupe(
    folder: Path, records: pd.DataFrame, python: str | None
) -> tuple[dict[str, object], float, float]:
    """bib-dedupe on one set: in this process when importable, else with ``python``.
    Returns the clusters, wall seconds and CPU seconds (its worker processes included
    when run by ``python``; NaN in process, where workers are not counted)."""
    if python is None:
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
        return pred, elapsed, float("nan")
    out = subprocess.run(
        [python, "-c", _BIB_SCRIPT, str(folder / "records.csv")],
        check=True,
        capture_output=True,
        text=True,
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return res["pred"], float(res["seconds"]), float(res["cpu_seconds"])


def _bib_python(option: str | None) -> tuple[bool, str | None]:
    """(available, interpreter): in-process when importable, else ``option`` (a Python
    with bib-dedupe installed, e.g. ``/tmp/bdenv/bin/python``)."""
    if option:
        return Path(option).exists(), option
    try:
        import bib_dedupe  # noqa: F401

        return True, None
    except ImportError:
        return False, None


# ----------------------------------------------------------------------------- tuning
#: Grids searched leave-one-set-out: the merge threshold and the title similarity below
#: which titles differ beyond a typo.
GRID_UPPER = (0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99)
GRID_TITLE_MIN = (0.8, 0.85, 0.88, 0.9, 0.93)
#: Tuning cost: a false merge (a study lost) weighs as much as this many missed duplicates.
FP_COST = 10
#: The shared sets the defaults were chosen on (their figures with defaults are in-sample).
TUNING_SETS = (
    "asysd-diabetes",
    "bibdedupe-special_cases",
    "sra-cytology_screening",
    "sra-haematology",
    "sra-respiratory",
    "sra-stroke",
)
TRAPS_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "dedupe_traps"


def _cost(m: DedupeMetrics) -> int:
    return m.fn + FP_COST * m.fp


def choose(
    grid: dict[str, dict[tuple[float, float], DedupeMetrics]], sets: list[str]
) -> tuple[float, float]:
    """The (upper, title_min) of least pooled cost over ``sets``; ties go to the more
    cautious setting (higher thresholds)."""
    best: tuple[int, float, float] | None = None
    for u in GRID_UPPER:
        for t in GRID_TITLE_MIN:
            cost = sum(_cost(grid[s][(u, t)]) for s in sets)
            key = (cost, -u, -t)
            if best is None or key < best:
                best = key
    assert best is not None
    return -best[1], -best[2]


def leave_one_set_out(
    grid: dict[str, dict[tuple[float, float], DedupeMetrics]],
) -> dict[str, object]:
    """Tune on all sets but one, score the one left out; pooled over the left-out sets."""
    names = list(grid)
    rows = []
    pooled = DedupeMetrics(0, 0, 0, 0)
    for held in names:
        others = [s for s in names if s != held]
        u, t = choose(grid, others)
        m = grid[held][(u, t)]
        pooled += m
        rows.append({"set": held, "upper": u, "title_min": t, **m.as_dict()})
    u_all, t_all = choose(grid, names)
    in_sample = DedupeMetrics(0, 0, 0, 0)
    for s in names:
        in_sample += grid[s][(u_all, t_all)]
    return {
        "per_set": rows,
        "pooled": pooled.as_dict(),
        "tuned_on_all": {"upper": u_all, "title_min": t_all, **in_sample.as_dict()},
        "objective": f"min FN + {FP_COST} x FP, pooled over the tuning sets",
        "grid": {"upper": list(GRID_UPPER), "title_min": list(GRID_TITLE_MIN)},
        "grid_counts": {
            s: {f"{u}/{t}": [m.tp, m.fp, m.tn, m.fn] for (u, t), m in grid[s].items()}
            for s in names
        },
    }


def trap_suite(params: dict[str, object], folder: Path = TRAPS_DIR) -> dict[str, object]:
    """False merges on the trap suite (hard negatives; see its README)."""
    records, gold = load_set(folder)
    pairs = pd.read_csv(folder / "pairs.csv", dtype=str)
    model = Deduplicator(**params).fit(records)  # type: ignore[arg-type]
    c = model.clusters_
    together = [c[a] == c[b] for a, b in zip(pairs["record_a"], pairs["record_b"], strict=True)]
    is_dup = (pairs["trap"] == "duplicate").tolist()
    false_merges = [
        f"{a}~{b} ({k})"
        for a, b, k, t, d in zip(
            pairs["record_a"], pairs["record_b"], pairs["trap"], together, is_dup, strict=True
        )
        if t and not d
    ]
    return {
        "records": len(records),
        "hard_negative_pairs": int(sum(not d for d in is_dup)),
        "false_merges": len(false_merges),
        "false_merge_pairs": false_merges,
        "duplicate_pairs": int(sum(is_dup)),
        "duplicates_merged": int(sum(t and d for t, d in zip(together, is_dup, strict=True))),
        "review_queue": len(model.uncertain_),
    }


def benchmark_sets(
    dirs: list[Path],
    *,
    with_bib: bool,
    params: dict[str, object],
    show_errors: int = 0,
    bib_python: str | None = None,
    tune: bool = True,
) -> dict[str, object]:
    have_bib, bib_exe = _bib_python(bib_python) if with_bib else (False, None)
    rows = []
    pooled = {"fmreview": DedupeMetrics(0, 0, 0, 0), "bib-dedupe": DedupeMetrics(0, 0, 0, 0)}
    times = {"fmreview": 0.0, "bib-dedupe": 0.0}
    cpu = {"fmreview": 0.0, "bib-dedupe": 0.0}
    review = 0
    grid: dict[str, dict[tuple[float, float], DedupeMetrics]] = {}
    for folder in dirs:
        records, gold = load_set(folder)
        order = records["record_id"].tolist()
        pred, secs, cpus, model = run_fmreview(records, **params)
        m = hair_metrics(pred, gold, order)
        pooled["fmreview"] += m
        times["fmreview"] += secs
        cpu["fmreview"] += cpus
        review += len(model.uncertain_)
        rows.append(
            {
                "set": folder.name,
                "tool": "fmreview",
                "n": len(records),
                "seconds": secs,
                "cpu_seconds": cpus,
                **m.as_dict(),
                "pairs": model.n_pairs_,
                "review": len(model.uncertain_),
                "in_tuning_sets": folder.name in TUNING_SETS,
            }
        )
        if show_errors:
            _show_errors(records, pred, gold, show_errors)
        if tune:
            grid[folder.name] = {}
            for u in GRID_UPPER:
                for t in GRID_TITLE_MIN:
                    model.rethreshold(upper=u, title_min=t)
                    grid[folder.name][(u, t)] = hair_metrics(model.clusters_, gold, order)
        if have_bib:
            pred_b, secs_b, cpu_b = run_bib_dedupe(folder, records, bib_exe)
            mb = hair_metrics(pred_b, gold, order)
            pooled["bib-dedupe"] += mb
            times["bib-dedupe"] += secs_b
            cpu["bib-dedupe"] += cpu_b
            rows.append(
                {
                    "set": folder.name,
                    "tool": "bib-dedupe",
                    "n": len(records),
                    "seconds": secs_b,
                    "cpu_seconds": cpu_b,
                    **mb.as_dict(),
                }
            )
    result: dict[str, object] = {"sets": rows, "params": params}
    result["pooled"] = {
        tool: {**pooled[tool].as_dict(), "seconds": times[tool], "cpu_seconds": cpu[tool]}
        for tool in (["fmreview", "bib-dedupe"] if have_bib else ["fmreview"])
    }
    result["pooled"]["fmreview"]["review"] = review  # type: ignore[index]
    result["defaults"] = {
        "upper": Deduplicator().upper,
        "lower": Deduplicator().lower,
        "title_min": Deduplicator().title_min,
        "tuned_on": list(TUNING_SETS),
    }
    if tune and len(grid) >= 2:
        result["held_out"] = leave_one_set_out(grid)
    result["traps"] = trap_suite(params)
    if have_bib and times["fmreview"] > 0:
        result["speedup_vs_bib_dedupe"] = times["bib-dedupe"] / times["fmreview"]
        result["cpu_speedup_vs_bib_dedupe"] = cpu["bib-dedupe"] / max(cpu["fmreview"], 1e-9)
        result["load_average_1m"] = os.getloadavg()[0]
    elif with_bib:
        result["bib_dedupe"] = (
            "not run: not importable here; pass --bib-dedupe-python with a Python that has it"
        )
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


def _rate(x: float) -> str:
    return "   n/a" if x != x else f"{x:.4f}"


def print_report(res: dict[str, Any]) -> None:
    """The benchmark as plain text within 80 columns."""
    d = res["defaults"]
    print(
        f"fmreview dedupe, defaults upper={d['upper']} title_min={d['title_min']} "
        f"lower={d['lower']}"
    )
    print("(in-sample on the sets marked *: the defaults were chosen on them)")
    head = (
        f"{'set':<26}{'records':>8}{'FP':>5}{'FN':>5}{'sens':>8}{'prec':>8}{'review':>8}{'sec':>7}"
    )
    print(head)
    for r in res["sets"]:
        if r["tool"] != "fmreview":
            continue
        name = ("*" if r["in_tuning_sets"] else " ") + r["set"][:24]
        print(
            f"{name:<26}{r['n']:>8}{r['fp']:>5}{r['fn']:>5}{_rate(r['sensitivity']):>8}"
            f"{_rate(r['precision']):>8}{r['review']:>8}{r['seconds']:>7.2f}"
        )
    p = res["pooled"]["fmreview"]
    print(
        f"{'POOLED':<26}{'':>8}{p['fp']:>5}{p['fn']:>5}{_rate(p['sensitivity']):>8}"
        f"{_rate(p['precision']):>8}{p['review']:>8}{p['seconds']:>7.2f}"
    )
    if "held_out" in res:
        h = res["held_out"]
        print()
        print("leave-one-set-out: thresholds tuned on the other sets, scored on this one")
        print(f"({h['objective']})")
        print(
            f"{'held-out set':<26}{'upper':>7}{'t_min':>7}{'FP':>5}{'FN':>5}{'sens':>8}{'prec':>8}"
        )
        for r in h["per_set"]:
            print(
                f"{r['set'][:25]:<26}{r['upper']:>7}{r['title_min']:>7}{r['fp']:>5}{r['fn']:>5}"
                f"{_rate(r['sensitivity']):>8}{_rate(r['precision']):>8}"
            )
        q = h["pooled"]
        print(
            f"{'POOLED held-out':<26}{'':>14}{q['fp']:>5}{q['fn']:>5}"
            f"{_rate(q['sensitivity']):>8}{_rate(q['precision']):>8}"
        )
        a = h["tuned_on_all"]
        print(
            f"{'POOLED in-sample (all)':<26}{a['upper']:>7}{a['title_min']:>7}{a['fp']:>5}"
            f"{a['fn']:>5}{_rate(a['sensitivity']):>8}{_rate(a['precision']):>8}"
        )
    bib = [r for r in res["sets"] if r["tool"] == "bib-dedupe"]
    if bib:
        print()
        print(
            f"{'bib-dedupe':<26}{'records':>8}{'FP':>5}{'FN':>5}{'sens':>8}{'prec':>8}{'sec':>15}"
        )
        for r in bib:
            print(
                f"{r['set'][:25]:<26}{r['n']:>8}{r['fp']:>5}{r['fn']:>5}"
                f"{_rate(r['sensitivity']):>8}{_rate(r['precision']):>8}{r['seconds']:>15.2f}"
            )
        b = res["pooled"]["bib-dedupe"]
        print(
            f"{'POOLED':<26}{'':>8}{b['fp']:>5}{b['fn']:>5}{_rate(b['sensitivity']):>8}"
            f"{_rate(b['precision']):>8}{b['seconds']:>15.2f}"
        )
        print(
            f"fmreview is {res['speedup_vs_bib_dedupe']:.0f}x faster than bib-dedupe here "
            f"(wall), {res['cpu_speedup_vs_bib_dedupe']:.0f}x in CPU time "
            f"(load average {res['load_average_1m']:.1f})"
        )
    elif "bib_dedupe" in res:
        print(f"bib-dedupe {res['bib_dedupe']}")
    t = res["traps"]
    print()
    print(
        f"trap suite: {t['hard_negative_pairs']} hard-negative pairs, "
        f"{t['false_merges']} false merge(s); {t['duplicates_merged']}/{t['duplicate_pairs']} "
        f"duplicate pairs merged; {t['review_queue']} pair(s) for review"
    )
    for f in t["false_merge_pairs"]:
        print("  false merge:", f)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--scale", type=int, default=0, help="build and deduplicate N perturbed records"
    )
    ap.add_argument("--no-bib-dedupe", action="store_true")
    ap.add_argument(
        "--bib-dedupe-python",
        default=os.environ.get("FMREVIEW_BIB_DEDUPE_PYTHON"),
        help="a Python with bib-dedupe installed (a separate venv), when it is not "
        "importable here; also FMREVIEW_BIB_DEDUPE_PYTHON",
    )
    ap.add_argument(
        "--no-tune", action="store_true", help="skip the leave-one-set-out threshold search"
    )
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
        help="link preprint/published versions into works (default off: the gold sets do not model versions)",
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
        dirs,
        with_bib=not args.no_bib_dedupe,
        params=params,
        show_errors=args.errors,
        bib_python=args.bib_dedupe_python,
        tune=not args.no_tune,
    )
    if args.json:
        print(json.dumps(res, indent=2, default=str))
    else:
        print_report(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
