"""Model names read from titles (and abstracts) against the curated lists' names.

Usage::

    python benchmarks/model_names.py [--studies FILE] [--abstracts FILE] [--sample N]

Part 1 - titles (the bundled ``studies.csv`` or ``--studies FILE``): for the studies
whose list metadata names the model, how often :func:`fmreview.extract.model_names.
model_name` proposes a name from the title (coverage) and how often it agrees with the
list's (precision, up to case and separators, on any ``|``/``/``/``(...)`` variant);
then how many studies it names that the lists leave unnamed, with a fixed sample of
``--sample`` of them (every k-th, in file order) printed for a hand check.

Part 2 - abstracts (``../shared/bench/fm/abstracts.jsonl`` when present): the same on
the studies it shares with ``studies.csv`` (by title) whose list names the model, from the
abstract alone and from title + abstract; and, on every abstract whose title yields a
name, how often the abstract alone yields the same one (the two rule sets checked
against each other, no list needed).

The rules have no tuned threshold or weight (fixed grammar and word lists), so there is
nothing to choose leave-one-list-out; every figure is in-sample in the sense that the
rules were written after reading snapshot titles.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH, print_table  # noqa: E402

from fmreview.extract.model_names import model_name, same_name  # noqa: E402
from fmreview.snapshot import snapshot_path  # noqa: E402


def _agreement(rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """``rows``: (list name, title, abstract) -> coverage and precision counts."""
    proposed = agree = 0
    wrong = []
    for listed, title, abstract in rows:
        found = model_name(title, abstract)
        if found is None:
            continue
        proposed += 1
        if same_name(found.name, listed):
            agree += 1
        else:
            wrong.append(f"{found.name} != {listed}  ({found.field}: {found.text[:40]})")
    n = len(rows)
    return {
        "n_list_named": n,
        "proposed": proposed,
        "agree": agree,
        "precision": agree / proposed if proposed else float("nan"),
        "coverage": proposed / n if n else float("nan"),
        "disagreements": wrong,
    }


def titles_part(studies: Path, sample: int) -> dict[str, Any]:
    with studies.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    named = [(r["model_name"], r["title"], "") for r in rows if r["model_name"].strip()]
    out = _agreement(named)
    unnamed = []
    for r in rows:
        if r["model_name"].strip():
            continue
        found = model_name(r["title"])
        if found is not None:
            unnamed.append({"name": found.name, "rule": found.rule, "title": r["title"]})
    step = max(1, len(unnamed) // sample) if sample else 0
    out.update(
        n_studies=len(rows),
        n_list_unnamed=sum(1 for r in rows if not r["model_name"].strip()),
        proposed_unnamed=len(unnamed),
        sample=unnamed[::step][:sample] if step else [],
    )
    return out


def abstracts_part(studies: Path, abstracts: Path) -> dict[str, Any]:
    with studies.open(encoding="utf-8") as fh:
        listed = {r["title"].strip().lower(): r["model_name"] for r in csv.DictReader(fh)}
    both, alone = [], []
    for line in abstracts.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        name = listed.get(str(rec.get("title", "")).strip().lower(), "")
        if name.strip() and rec.get("abstract"):
            both.append((name, rec["title"], rec["abstract"]))
            alone.append((name, "", rec["abstract"]))
    # without list names: does the abstract alone give the name the title gives?
    titled = []
    for line in abstracts.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line) if line.strip() else {}
        found = model_name(str(rec.get("title", "")))
        if found is not None and rec.get("abstract"):
            titled.append((found.name, "", rec["abstract"]))
    return {
        "abstract only": _agreement(alone),
        "title + abstract": _agreement(both),
        "abstract vs title": _agreement(titled),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=Path, default=snapshot_path())
    ap.add_argument("--abstracts", type=Path, default=BENCH / "fm" / "abstracts.jsonl")
    ap.add_argument("--sample", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res: dict[str, Any] = {"titles": titles_part(args.studies, args.sample)}
    if args.abstracts.exists():
        res["abstracts"] = abstracts_part(args.studies, args.abstracts)
    if args.json:
        print(json.dumps(res, indent=1, ensure_ascii=False))
        return 0
    t = res["titles"]
    table = [
        ["titles", t["n_list_named"], t["proposed"], t["agree"], t["precision"], t["coverage"]]
    ]
    for k, a in res.get("abstracts", {}).items():
        table.append(
            [k, a["n_list_named"], a["proposed"], a["agree"], a["precision"], a["coverage"]]
        )
    print_table(
        "model names vs reference names (lists; last row: title)",
        ["input", "ref. named", "proposed", "agree", "precision", "coverage"],
        table,
    )
    for part in [t, *res.get("abstracts", {}).values()]:
        for d in part["disagreements"]:
            print("  disagrees:", d)
    print(
        f"\n{t['proposed_unnamed']} of {t['n_list_unnamed']} studies the lists leave unnamed "
        f"get a name from the title; a sample of {len(t['sample'])} to check by hand:"
    )
    for s in t["sample"]:
        print(f"  {s['name']:<20} {s['title'][:56]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
