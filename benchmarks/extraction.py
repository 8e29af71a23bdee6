"""Extraction benchmark: labels from abstracts read by people, and fm_type from titles.

Usage::

    python benchmarks/extraction.py [--abstracts FILE] [--studies FILE] [--json]

Part 1 - abstracts (``../shared/bench/fm/abstracts.jsonl`` or ``--abstracts FILE`` in the
same format): each study's title + abstract goes through the product's extractor (rules,
gazetteer, dataset-name patterns, and the fm_type classifier trained on the bundled
snapshot's list-labelled titles minus the evaluated titles) and the eligibility rules.
Scored against labels assigned by reading the abstract:

- eligibility: precision / recall / F1 of "eligible" (all studies);
- on the studies the readers judged eligible: fm_type macro-F1 (an abstention counts as
  wrong), micro precision / recall / F1 of modality (named modalities; the readers'
  ``modality_unspecified_multi`` flag is scored against ``multi_modality`` on its own row),
  task, anatomy, adaptation and themes, and named-dataset mentions (a predicted dataset
  matches a gold one when their names, or the gold mention, agree up to case and
  separators; one-to-one, by a maximum matching; a prediction whose evidence names two
  releases of a dataset, "EndoVis 2017" and "EndoVis 2018", counts as two).

The rules were written from the snapshot's titles and domain knowledge; the abstracts are
split by line number: even lines were used to check and adjust the rules ("tune"), odd
lines were not looked at ("held-out"). Both halves and the whole file are reported; for a
file that is not the shared one all of it is held out.

``--tune-errors`` lists the tune half's disagreements (fm_type, modality, task,
eligibility), one JSON line per work; the held-out half is never listed.

Part 2 - titles only (``studies.csv``): fm_type macro-F1 leave-one-list-out. For each of
the curated lists, the classifier is trained on the studies no held-out list holds and
labels the held-out list's studies from their titles (rules + classifier, the product's
policy); the list labels of the held-out studies are never input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH, bench_path, dump_json, print_table  # noqa: E402

from fmreview.extract.extractor import Extractor  # noqa: E402
from fmreview.extract.gazetteer import bundled_gazetteer  # noqa: E402
from fmreview.extract.lists import list_labels  # noqa: E402
from fmreview.protocol import flagship_path, load_protocol  # noqa: E402
from fmreview.screening.eligibility import assess, automation_criteria  # noqa: E402
from fmreview.snapshot import snapshot_path  # noqa: E402

MULTI_AXES = ["modality", "task", "anatomy", "adaptation", "themes"]
TARGETS = {
    "eligibility": ("F1", 0.90),
    "fm_type": ("F1", 0.93),
    "modality": ("F1", 0.90),
    "task": ("F1", 0.90),
    "datasets": ("P>=0.90,R", 0.85),
}


def _key(s: str) -> str:
    s = re.sub(r"\b(dataset|datasets|database|benchmark|challenge|corpus)\b", "", s, flags=re.I)
    return re.sub(r"[\W_]+", "", s).lower()


def _clean(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


# ----------------------------------------------------------------------------- training
def snapshot_training(
    protocol: Any, exclude_titles: set[str]
) -> tuple[list[dict[str, str]], list[dict[str, list[str]]], pd.DataFrame]:
    """The bundled snapshot's list-labelled titles as training data (minus ``exclude_titles``)."""
    df = pd.read_csv(snapshot_path(), dtype=str)
    gaz = bundled_gazetteer()
    axes = {a.name for a in protocol.taxonomy}
    texts, gold, keep = [], [], []
    for i, row in enumerate(df.to_dict("records")):
        title = _clean(row.get("title"))
        if not title or title.lower().strip() in exclude_titles:
            continue
        extra = {k: _clean(v) for k, v in row.items()}
        labs: dict[str, list[str]] = defaultdict(list)
        for lab in list_labels(extra, gaz, axes):
            labs[lab.axis].append(lab.value)
        if labs:
            texts.append({"title": title})
            gold.append(dict(labs))
            keep.append(i)
    return texts, gold, df.iloc[keep]


# ----------------------------------------------------------------------------- metrics
def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def _dataset_match(p: list[str], g: dict[str, str]) -> bool:
    """Whether prediction ``p`` (its name and surfaces) names gold dataset ``g``."""
    kps = {_key(x) for x in p} - {""}
    keys = {_key(g.get("name", "")), _key(g.get("mention", ""))} - {""}
    # a gold mention's own parts: "Medical Segmentation Decathlon (MSD)" -> "msd"
    parts = {
        _key(t)
        for x in (g.get("name", ""), g.get("mention", ""))
        for t in re.split(r"[()\[\],;]|\s+", x)
    } - {""}
    return bool(
        kps & keys
        or any(len(kp) >= 4 and kp in k for kp in kps for k in keys)
        or any(len(kp) >= 3 and kp in parts for kp in kps)
    )


def _version(surface: str) -> str:
    """The release a surface names: its numbers, a year as two digits ("EndoVis 2017" and
    "EndoVis-17" -> "17"); "" when it names none."""
    nums = [
        n[-2:] if len(n) == 4 and n[:2] in ("19", "20") else n for n in re.findall(r"\d+", surface)
    ]
    return ".".join(nums)


def by_release(pred: list[list[str]]) -> list[list[str]]:
    """Predictions split by the releases their surfaces name.

    The product links "EndoVis 2017" and "EndoVis 2018" (or "EndoVis-17-VQLA" and
    "EndoVis-18-VQLA") to one gazetteer entity, with both spans as evidence; the readers
    count two named datasets. A prediction whose surfaces name k >= 2 releases counts as k
    predictions (each with its surfaces, and the surfaces that name no release), so both
    recall and precision are scored at the readers' granularity.
    """
    out: list[list[str]] = []
    for p in pred:
        name, surfaces = p[0], p[1:]
        releases = sorted({_version(x) for x in surfaces} - {""})
        if len(releases) < 2 or _version(name):
            out.append(p)
            continue
        plain = [x for x in surfaces if not _version(x)]
        out += [[name, *[x for x in surfaces if _version(x) == r], *plain] for r in releases]
    return out


def dataset_matches(pred: list[list[str]], gold: list[dict[str, str]]) -> int:
    """One-to-one matches between predicted datasets and gold (name, mention) pairs.

    A prediction is its name and the surfaces it was found as; it matches a gold dataset
    when one of them equals the gold name or mention up to case, separators and words
    like "dataset", or (4+ characters) is contained in the gold mention ("BraTS" in
    "BraTS-Africa dataset"), or equals a bracketed or space-separated part of it ("MSD"
    in "Medical Segmentation Decathlon (MSD)"). The pairing is a maximum matching
    (scipy's assignment solver), so the order of predictions cannot cost a match: with
    gold "BraTS-Africa" and "BraTS", predictions "BraTS" and "BraTS-Africa" match both.
    """
    if not pred or not gold:
        return 0
    m = np.array([[_dataset_match(p, g) for g in gold] for p in pred], dtype=float)
    rows, cols = linear_sum_assignment(m, maximize=True)
    return int(m[rows, cols].sum())


def score(rows: list[dict[str, Any]], preds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    y = [bool(r["labels"].get("eligible")) for r in rows]
    yhat = [bool(p["eligible"]) for p in preds]
    out["eligibility"] = prf(
        sum(a and b for a, b in zip(y, yhat, strict=True)),
        sum((not a) and b for a, b in zip(y, yhat, strict=True)),
        sum(a and not b for a, b in zip(y, yhat, strict=True)),
    )
    idx = [i for i, ok in enumerate(y) if ok]
    out["n_eligible"] = len(idx)
    gt = [str(rows[i]["labels"].get("fm_type")) for i in idx]
    pt = [str((preds[i]["labels"].get("fm_type") or ["none"])[0]) for i in idx]
    classes = sorted(set(gt))
    out["fm_type"] = {
        "f1": float(f1_score(gt, pt, labels=classes, average="macro", zero_division=0)),
        "accuracy": float(np.mean([a == b for a, b in zip(gt, pt, strict=True)])) if idx else 0.0,
        "abstained": sum(p == "none" for p in pt),
    }
    for axis in MULTI_AXES:
        tp = fp = fn = 0
        for i in idx:
            g = set(rows[i]["labels"].get(axis) or [])
            p = set(preds[i]["labels"].get(axis) or []) - {"multi_modality"}
            tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
        out[axis] = prf(tp, fp, fn)
    g_multi = [bool(rows[i]["labels"].get("modality_unspecified_multi")) for i in idx]
    p_multi = ["multi_modality" in (preds[i]["labels"].get("modality") or []) for i in idx]
    out["multi_modality"] = prf(
        sum(a and b for a, b in zip(g_multi, p_multi, strict=True)),
        sum((not a) and b for a, b in zip(g_multi, p_multi, strict=True)),
        sum(a and not b for a, b in zip(g_multi, p_multi, strict=True)),
    )
    tp = fp = fn = 0
    for i in idx:
        gold = list(rows[i]["labels"].get("datasets") or [])
        pred = by_release(list(preds[i].get("dataset_surfaces") or []))
        m = dataset_matches(pred, gold)
        tp, fp, fn = tp + m, fp + len(pred) - m, fn + len(gold) - m
    out["datasets"] = prf(tp, fp, fn)
    return out


# ----------------------------------------------------------------------------- part 1
def predict_abstracts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    protocol = load_protocol(flagship_path())
    gaz = bundled_gazetteer()
    titles = {str(r.get("title", "")).lower().strip() for r in rows}
    tr_t, tr_g, _ = snapshot_training(protocol, titles)
    ex = Extractor(protocol, gazetteer=gaz).fit(tr_t, tr_g)
    crit = automation_criteria(protocol.eligibility, ("automation", "title_abstract", "full_text"))
    texts = [
        {
            k: v
            for k, v in {"title": r.get("title") or "", "abstract": r.get("abstract") or ""}.items()
            if v
        }
        for r in rows
    ]
    labels = ex.extract(texts)
    out = []
    for t, labs in zip(texts, labels, strict=True):
        c = assess({**t, "year": None}, crit)
        out.append(
            {
                "eligible": c is None,
                "criterion": c.id if c else None,
                "labels": {a: [lab.value for lab in ls] for a, ls in labs.items()},
                "dataset_surfaces": [
                    [lab.value, *[sp.text for sp in lab.evidence]]
                    for lab in labs.get("datasets", [])
                ],
            }
        )
    return out


def abstracts_part(path: Path, shared: bool) -> dict[str, Any]:
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    preds = predict_abstracts(rows)
    res: dict[str, Any] = {"file": str(path)}
    if shared:
        res["tune (even lines)"] = score(rows[0::2], preds[0::2])
        res["held-out (odd lines)"] = score(rows[1::2], preds[1::2])
        res["all"] = score(rows, preds)
    else:
        res["held-out (all)"] = score(rows, preds)
    return res


def tune_errors(path: Path) -> list[dict[str, Any]]:
    """The tune half's (even lines') disagreements on eligibility, fm_type, modality and
    task, one dict per work: what to read when changing the rules. The held-out half is
    never listed."""
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ][0::2]
    out = []
    for r, p in zip(rows, predict_abstracts(rows), strict=True):
        gold = r["labels"]
        diffs: dict[str, Any] = {}
        if bool(gold.get("eligible")) != p["eligible"]:
            diffs["eligible"] = {"gold": bool(gold.get("eligible")), "rule": p["criterion"]}
        if gold.get("eligible"):
            g, q = gold.get("fm_type"), (p["labels"].get("fm_type") or [None])[0]
            if g != q:
                diffs["fm_type"] = {"gold": g, "predicted": q}
            for axis in ("modality", "task"):
                gs = set(gold.get(axis) or [])
                ps = set(p["labels"].get(axis) or []) - {"multi_modality"}
                if gs != ps:
                    diffs[axis] = {"missed": sorted(gs - ps), "extra": sorted(ps - gs)}
        if diffs:
            out.append({"title": r["title"], **diffs})
    return out


# ----------------------------------------------------------------------------- part 2
def titles_part() -> dict[str, Any]:
    protocol = load_protocol(flagship_path())
    gaz = bundled_gazetteer()
    texts, gold, df = snapshot_training(protocol, set())
    lists = [
        [p.strip().split("@", 1)[0] for p in _clean(s).split("|") if p.strip()]
        for s in df["sources"].tolist()
    ]
    has_fm = [i for i, g in enumerate(gold) if g.get("fm_type")]
    names = sorted({name for i in has_fm for name in lists[i]})
    y_true: list[str] = []
    y_pred: list[str] = []
    per_list = []
    for name in names:
        test = [i for i in has_fm if name in lists[i]]
        train = [i for i in range(len(texts)) if name not in lists[i]]
        if not test:
            continue
        ex = Extractor(protocol, gazetteer=gaz, explain=False).fit(
            [texts[i] for i in train], [gold[i] for i in train]
        )
        res = ex.extract([texts[i] for i in test])
        t = [gold[i]["fm_type"][0] for i in test]
        p = [(r.get("fm_type") or [None])[0] for r in res]
        p = [x.value if x is not None else "none" for x in p]
        y_true += t
        y_pred += p
        per_list.append(
            {
                "list": name,
                "n": len(test),
                "macro_f1": float(
                    f1_score(t, p, labels=sorted(set(t)), average="macro", zero_division=0)
                ),
            }
        )
    classes = ["vision_language", "vision_only"]
    return {
        "pooled_macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro")),
        "n_predictions": len(y_true),
        "abstained": sum(p == "none" for p in y_pred),
        "per_list": per_list,
    }


# ----------------------------------------------------------------------------- output
def report(res: dict[str, Any]) -> None:
    ab = res["abstracts"]
    splits = [k for k in ab if isinstance(ab[k], dict)]
    rows = []
    for axis in [
        "eligibility",
        "fm_type",
        "modality",
        "multi_modality",
        "task",
        "anatomy",
        "adaptation",
        "themes",
        "datasets",
    ]:
        row: list[Any] = [axis]
        for s in splits:
            m = ab[s][axis]
            if axis == "fm_type":
                row.append(f"F1 {m['f1']:.3f}")
            else:
                row.append(f"{m['precision']:.2f}/{m['recall']:.2f}/{m['f1']:.3f}")
        rows.append(row)
    print_table(
        f"Abstracts ({ab['file']}): P/R/F1 (fm_type: macro-F1); eligible works only "
        "except eligibility",
        ["axis", *[f"{s} n={ab[s]['n']}" for s in splits]],
        rows,
    )
    t = res["titles"]
    print_table(
        "Titles only: fm_type leave-one-list-out (list labels as gold)",
        ["held-out list", "n", "macro-F1"],
        [[r["list"], r["n"], r["macro_f1"]] for r in t["per_list"]]
        + [["pooled", t["n_predictions"], t["pooled_macro_f1"]]],
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--abstracts", type=Path, help="labelled abstracts (JSON lines)")
    ap.add_argument("--skip-titles", action="store_true", help="skip part 2")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--tune-errors",
        action="store_true",
        help="list the tune half's disagreements (fm_type, modality, task) and stop",
    )
    args = ap.parse_args(argv)
    if args.tune_errors:
        for e in tune_errors(args.abstracts or bench_path("fm", "abstracts.jsonl")):
            print(json.dumps(e, ensure_ascii=False))
        return 0
    t0 = time.perf_counter()
    shared = bench_path("fm", "abstracts.jsonl") if args.abstracts is None else None
    path = args.abstracts or shared
    assert path is not None
    is_shared = (
        args.abstracts is None or path.resolve() == (BENCH / "fm" / "abstracts.jsonl").resolve()
    )
    res: dict[str, Any] = {"abstracts": abstracts_part(path, is_shared)}
    res["titles"] = (
        {"per_list": [], "pooled_macro_f1": float("nan"), "n_predictions": 0}
        if args.skip_titles
        else titles_part()
    )
    res["seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        dump_json(res)
    else:
        report(res)
        print(f"{res['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
