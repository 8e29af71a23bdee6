"""Extraction benchmark: taxonomy labels on studies the model never saw.

Usage::

    python benchmarks/extraction.py [--studies FILE] [--folds 5] [--json]

Gold labels are the curated lists' labels of ``../shared/bench/fm/studies.csv`` mapped onto
the flagship taxonomy by ``fmreview.extract.lists`` (fm_type, modality, task, architecture,
training_paradigm, datasets). By default a stratified k-fold split of that file: the
classifiers train on the list labels of k-1 folds and label the held-out fold from its
titles alone, rules and classifier combined by the extraction policy; the held-out studies'
list labels are never input. With ``--studies FILE`` (same format) the model trains on the
bundled ``studies.csv`` (minus titles that also occur in FILE) and labels FILE.

When the evaluated file has an ``abstract`` column, the run is repeated with title +
abstract for the records that have one.

Prints per axis: n (studies with a gold label), k (values in the gold), accuracy (exact match of the value set) and
macro-F1 (over the values present in the gold), for the combined extractor and for rules
and classifier alone; and the fm_type confusion matrix.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import MultiLabelBinarizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_path, dump_json, print_table  # noqa: E402

from fmreview.extract.combine import combine  # noqa: E402
from fmreview.extract.extractor import Extractor  # noqa: E402
from fmreview.extract.gazetteer import bundled_gazetteer  # noqa: E402
from fmreview.extract.lists import list_labels  # noqa: E402
from fmreview.protocol import flagship_path, load_protocol  # noqa: E402

AXES = ["fm_type", "modality", "task", "architecture", "training_paradigm", "datasets"]
TARGETS = {"fm_type": 0.90, "modality": 0.85}


def gold_labels(df: pd.DataFrame, gaz: Any) -> list[dict[str, list[str]]]:
    out = []
    for row in df.to_dict("records"):
        extra = {k: ("" if (isinstance(v, float) and np.isnan(v)) else v) for k, v in row.items()}
        labs: dict[str, list[str]] = {}
        for lab in list_labels(extra, gaz):
            labs.setdefault(lab.axis, []).append(lab.value)
        out.append({k: sorted(set(v)) for k, v in labs.items()})
    return out


def texts_of(df: pd.DataFrame, use_abstract: bool) -> list[dict[str, str]]:
    out = []
    for row in df.to_dict("records"):
        t = {"title": str(row.get("title") or "")}
        if t["title"] == "nan":
            t["title"] = ""
        if use_abstract:
            a = row.get("abstract")
            if isinstance(a, str) and a.strip():
                t["abstract"] = a
        out.append(t)
    return out


METHOD_SETS = {"combined": ("rule", "model"), "rule": ("rule",), "model": ("model",)}


def predict(
    protocol: Any,
    gaz: Any,
    train_texts: list[dict[str, str]],
    train_gold: list[dict[str, list[str]]],
    test_texts: list[dict[str, str]],
) -> dict[str, list[dict[str, list[str]]]]:
    """Labels of the test texts by the combined extractor and by rules / classifier alone.

    Candidates are computed once; each variant combines the candidates of its methods.
    """
    ex = Extractor(protocol, gazetteer=gaz, methods=["rule", "model"]).fit(train_texts, train_gold)
    cands = ex.candidates(test_texts)
    out: dict[str, list[dict[str, list[str]]]] = {}
    for name, methods in METHOD_SETS.items():
        res = [
            combine([c for c in cs if c.method in methods], ex.axes, thresholds=ex.thresholds)
            for cs in cands
        ]
        out[name] = [{axis: [lab.value for lab in labs] for axis, labs in r.items()} for r in res]
    return out


def cross_validate(
    df: pd.DataFrame, folds: int, use_abstract: bool, seed: int = 0
) -> tuple[list[dict[str, list[str]]], dict[str, list[dict[str, list[str]]]]]:
    protocol = load_protocol(flagship_path())
    gaz = bundled_gazetteer()
    gold = gold_labels(df, gaz)
    texts = texts_of(df, use_abstract)
    strata = [g.get("fm_type", ["none"])[0] for g in gold]
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    preds: dict[str, list[dict[str, list[str]]]] = {
        m: [{} for _ in texts] for m in ("combined", "rule", "model")
    }
    for train, test in skf.split(np.zeros(len(texts)), strata):
        tr_t = [texts[i] for i in train]
        tr_g = [gold[i] for i in train]
        te_t = [texts[i] for i in test]
        fold = predict(protocol, gaz, tr_t, tr_g, te_t)
        for name, rows in fold.items():
            for i, p in zip(test, rows, strict=True):
                preds[name][i] = p
    return gold, preds


def held_out(
    train_df: pd.DataFrame, test_df: pd.DataFrame, use_abstract: bool
) -> tuple[list[dict[str, list[str]]], dict[str, list[dict[str, list[str]]]]]:
    protocol = load_protocol(flagship_path())
    gaz = bundled_gazetteer()
    seen = set(test_df["title"].astype(str).str.lower().str.strip())
    train_df = train_df[~train_df["title"].astype(str).str.lower().str.strip().isin(seen)]
    tr_t, tr_g = texts_of(train_df, False), gold_labels(train_df, gaz)
    te_t, gold = texts_of(test_df, use_abstract), gold_labels(test_df, gaz)
    return gold, predict(protocol, gaz, tr_t, tr_g, te_t)


def axis_metrics(
    gold: list[dict[str, list[str]]], pred: list[dict[str, list[str]]], axis: str
) -> dict[str, Any]:
    idx = [i for i, g in enumerate(gold) if g.get(axis)]
    if not idx:
        return {"n": 0}
    g_sets = [gold[i][axis] for i in idx]
    p_sets = [pred[i].get(axis, []) for i in idx]
    classes = sorted({v for s in g_sets for v in s})
    acc = float(np.mean([set(a) == set(b) for a, b in zip(g_sets, p_sets, strict=True)]))
    if axis == "fm_type":
        y_true = [s[0] for s in g_sets]
        y_pred = [s[0] if s else "none" for s in p_sets]
        f1 = float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0))
    else:
        mlb = MultiLabelBinarizer(classes=classes)
        mlb.fit([classes])
        yt = mlb.transform(g_sets)
        yp = mlb.transform([[v for v in s if v in classes] for s in p_sets])
        f1 = float(f1_score(yt, yp, average="macro", zero_division=0))
    return {"n": len(idx), "classes": len(classes), "accuracy": acc, "macro_f1": f1}


def evaluate(
    gold: list[dict[str, list[str]]], preds: dict[str, list[dict[str, list[str]]]]
) -> dict[str, Any]:
    out: dict[str, Any] = {"axes": {}}
    for axis in AXES:
        out["axes"][axis] = {m: axis_metrics(gold, p, axis) for m, p in preds.items()}
    idx = [i for i, g in enumerate(gold) if g.get("fm_type")]
    labels = ["vision_only", "vision_language"]
    y_true = [gold[i]["fm_type"][0] for i in idx]
    y_pred = [(preds["combined"][i].get("fm_type") or ["none"])[0] for i in idx]
    cm = confusion_matrix(y_true, y_pred, labels=[*labels, "none"])
    out["fm_type_confusion"] = {"labels": [*labels, "none"], "rows_true_cols_pred": cm.tolist()}
    return out


def report(title: str, res: dict[str, Any]) -> None:
    rows = []
    for axis, per in res["axes"].items():
        c = per["combined"]
        if not c.get("n"):
            continue
        target = TARGETS.get(axis)
        rows.append(
            [
                axis,
                c["n"],
                c["classes"],
                c["accuracy"],
                c["macro_f1"],
                per["rule"].get("macro_f1", 0.0),
                per["model"].get("macro_f1", 0.0),
                (f">={target:.2f} " + ("ok" if c["macro_f1"] >= target else "MISSED"))
                if target
                else "",
            ]
        )
    print_table(
        title,
        ["axis", "n", "k", "acc", "macro-F1", "rules F1", "model F1", "target"],
        rows,
    )
    cm = res["fm_type_confusion"]
    print_table(
        "fm_type confusion (rows: list label, columns: predicted)",
        ["", *cm["labels"]],
        [[lab, *row] for lab, row in zip(cm["labels"], cm["rows_true_cols_pred"], strict=True)][:2],
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--studies", type=Path, help="held-out labelled file in the format of studies.csv"
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    bundled = pd.read_csv(bench_path("fm", "studies.csv"), dtype=str)
    results: dict[str, Any] = {}
    test_df = pd.read_csv(args.studies, dtype=str) if args.studies else bundled
    has_abstract = "abstract" in test_df.columns and test_df["abstract"].notna().any()
    for mode in ["title", "title+abstract"] if has_abstract else ["title"]:
        use_abs = mode != "title"
        if args.studies:
            gold, preds = held_out(bundled, test_df, use_abs)
            setup = f"trained on bundled studies.csv, evaluated on {args.studies}"
        else:
            gold, preds = cross_validate(bundled, args.folds, use_abs, args.seed)
            setup = f"{args.folds}-fold cross-validation of studies.csv ({len(bundled)} studies)"
        res = evaluate(gold, preds)
        res["setup"] = setup
        results[mode] = res
    if not has_abstract:
        results["title+abstract"] = {"skipped": "the evaluated file has no abstract column"}
    results["seconds"] = round(time.perf_counter() - t0, 1)
    if args.json:
        dump_json(results)
    else:
        for mode, res in results.items():
            if isinstance(res, dict) and "axes" in res:
                report(f"Extraction from {mode} - {res['setup']}", res)
            elif isinstance(res, dict):
                print(f"{mode}: {res.get('skipped')}")
        print(f"{results['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
