"""Extraction on a review's store: label rows in, current labels out, people in charge.

``labels`` is append-only. Automatic rows (methods list, rule, model, llm; status ``auto``)
are written per work, axis and method only when they differ from that method's latest run
for the work and axis, so re-running ``extract`` is idempotent. A person's confirmation or
correction is a new row (method ``human``, status ``confirmed``/``corrected``, ``supersedes``
the label it answers); its evidence carries an ``action`` key grouping the rows of one
correction of a multi-valued axis. The classifiers are retrained on every run from the
list labels plus every human confirmation and correction (a person's values replace the
lists' on that axis).

:func:`current_labels` resolves the history by the policy of :mod:`fmreview.extract.combine`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from fmreview.errors import InputError, NotFoundError
from fmreview.extract.combine import combine_axis, thresholds_for
from fmreview.extract.constraints import check
from fmreview.extract.extractor import Extractor
from fmreview.extract.fulltext import fulltexts_in
from fmreview.extract.gazetteer import DatasetGazetteer, load_gazetteer
from fmreview.extract.label import Label, Span
from fmreview.extract.lists import list_labels
from fmreview.extract.rules import work_texts
from fmreview.progress import NullReporter, Reporter
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store

AUTO_METHODS = ("list", "rule", "model", "llm")
COLUMNS = [
    "work_id",
    "axis",
    "value",
    "method",
    "confidence",
    "status",
    "reviewer",
    "label_id",
    "evidence",
    "role",
]


# ----------------------------------------------------------------------------- reading
def _gazetteer(store: Store) -> DatasetGazetteer | None:
    base = store.folder if getattr(store, "folder", None) is not None else None
    return load_gazetteer(store.protocol, base)


def _works(conn: sa.Connection, work_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    w = schema.works
    q = sa.select(w).where(w.c.merged_into.is_(None)).order_by(w.c.id)
    if work_ids is not None:
        q = q.where(w.c.id.in_(list(work_ids)))
    return [dict(r._mapping) for r in conn.execute(q)]


def work_extras(conn: sa.Connection) -> dict[int, list[dict[str, Any]]]:
    """Each work's member records' ``extra`` mappings (the curated lists' columns)."""
    r, wr = schema.records, schema.work_records
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    q = sa.select(wr.c.work_id, r.c.extra).join(r, r.c.id == wr.c.record_id).order_by(r.c.id)
    for wid, extra in conn.execute(q):
        if extra:
            out[int(wid)].append(dict(extra))
    return out


def _row_label(row: dict[str, Any]) -> Label:
    ev = [Span.from_dict(e) for e in (row["evidence"] or []) if isinstance(e, dict)]
    return Label(
        axis=row["axis"],
        value=row["value"],
        method=row["method"],
        confidence=float(row["confidence"] if row["confidence"] is not None else 0.0),
        evidence=ev,
        role=row["role"],
        label_id=int(row["id"]),
        status=row["status"],
        reviewer=row["reviewer"],
    )


def _action(row: dict[str, Any]) -> str:
    for e in row["evidence"] or []:
        if isinstance(e, dict) and e.get("action"):
            return str(e["action"])
    return f"row-{row['id']}"


def _state(
    rows: list[dict[str, Any]], multi: dict[str, bool]
) -> dict[tuple[int, str], list[Label]]:
    """Candidates per (work, axis): each auto method's latest run, and the human state."""
    auto: dict[tuple[int, str, str], list[dict[str, Any]]] = defaultdict(list)
    human: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["method"] == "human":
            human[(row["work_id"], row["axis"])].append(row)
        else:
            auto[(row["work_id"], row["axis"], row["method"])].append(row)
    out: dict[tuple[int, str], list[Label]] = defaultdict(list)
    for (wid, axis, _m), group in auto.items():
        last = max((r["run_id"] or 0) for r in group)
        out[(wid, axis)] += [_row_label(r) for r in group if (r["run_id"] or 0) == last]
    for (wid, axis), group in human.items():
        group.sort(key=lambda r: r["id"])
        actions: list[list[dict[str, Any]]] = []
        for r in group:
            if actions and _action(actions[-1][-1]) == _action(r):
                actions[-1].append(r)
            else:
                actions.append([r])
        corrected: list[Label] = []
        confirmed: list[Label] = []
        for act in actions:
            labs = [_row_label(r) for r in act]
            if act[0]["status"] == "corrected":
                corrected, confirmed = labs, []
            elif act[0]["status"] == "confirmed":
                if multi.get(axis, True):
                    confirmed = [
                        c for c in confirmed if c.value not in {x.value for x in labs}
                    ] + labs
                else:
                    confirmed, corrected = labs, []
        out[(wid, axis)] += corrected + [
            c for c in confirmed if c.value not in {x.value for x in corrected}
        ]
    return out


def _label_rows(conn: sa.Connection, work_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    lab = schema.labels
    q = sa.select(lab).order_by(lab.c.id)
    if work_ids is not None:
        q = q.where(lab.c.work_id.in_(list(work_ids)))
    return [dict(r._mapping) for r in conn.execute(q)]


def _axes(store: Store) -> dict[str, bool]:
    return {a.name: a.multi for a in store.protocol.taxonomy}


def current_labels(store: Store, *, work_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Every work's labels now, resolved by the policy (human > list > llm > rule > model)
    and made consistent by the constraints between axes (:mod:`.constraints`).

    Returns
    -------
    DataFrame
        Columns ``work_id, axis, value, method, confidence, status, reviewer, label_id,
        evidence, role``; one row per label, ordered by work and axis.
    """
    return current_labels_and_violations(store, work_ids=work_ids)[0]


def violations_table(store: Store) -> pd.DataFrame:
    """Every active work's constraint violations now (a DataFrame: work_id, title,
    constraint, cause, conflict, resolution)."""
    _, viol = current_labels_and_violations(store)
    return pd.DataFrame(
        viol, columns=["work_id", "title", "constraint", "cause", "conflict", "resolution"]
    )


def current_labels_and_violations(
    store: Store, *, work_ids: Iterable[int] | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """:func:`current_labels` and the constraint violations met on the way (one dict per
    violation: ``work_id, title, constraint, cause, conflict, resolution``)."""
    axes = _axes(store)
    thresholds = thresholds_for(store.protocol.extraction.min_confidence)
    with store.connect() as conn:
        rows = _label_rows(conn, work_ids)
        w = schema.works
        titles = {
            int(i): str(t or "")
            for i, t in conn.execute(sa.select(w.c.id, w.c.title).where(w.c.merged_into.is_(None)))
        }
    rows = [r for r in rows if r["work_id"] in titles]  # labels of works merged away are history
    per_work: dict[int, dict[str, list[Label]]] = defaultdict(dict)
    for (wid, axis), cands in sorted(_state(rows, axes).items()):
        chosen = combine_axis(cands, multi=axes.get(axis, True), thresholds=thresholds)
        if chosen:
            per_work[wid][axis] = chosen
    out = []
    violations: list[dict[str, Any]] = []
    for wid in sorted(per_work):
        labels, viol = check(per_work[wid])
        for v in viol:
            violations.append({"work_id": wid, "title": titles.get(wid, ""), **v.as_dict()})
        for axis in sorted(labels):
            for lab in labels[axis]:
                out.append(
                    {
                        "work_id": wid,
                        "axis": axis,
                        "value": lab.value,
                        "method": lab.method,
                        "confidence": lab.confidence,
                        "status": lab.status,
                        "reviewer": lab.reviewer,
                        "label_id": lab.label_id,
                        "evidence": lab.evidence_dicts(),
                        "role": lab.role,
                    }
                )
    return pd.DataFrame(out, columns=COLUMNS), violations


def current_label_map(
    store: Store, *, work_ids: Iterable[int] | None = None
) -> dict[int, dict[str, list[str]]]:
    """:func:`current_labels` as ``{work_id: {axis: [values]}}`` (for exports and reports)."""
    out: dict[int, dict[str, list[str]]] = defaultdict(dict)
    for row in current_labels(store, work_ids=work_ids).itertuples(index=False):
        out[int(row.work_id)].setdefault(str(row.axis), []).append(str(row.value))
    return dict(out)


def training_labels(
    works: list[dict[str, Any]],
    extras: dict[int, list[dict[str, Any]]],
    state: dict[tuple[int, str], list[Label]],
    gazetteer: DatasetGazetteer | None,
    axes: set[str],
) -> tuple[dict[int, list[Label]], dict[int, dict[str, list[str]]]]:
    """List candidates per work, and the training labels (human values replace the lists')."""
    lists: dict[int, list[Label]] = {}
    train: dict[int, dict[str, list[str]]] = {}
    for w in works:
        wid = int(w["id"])
        labs: dict[tuple[str, str], Label] = {}
        for extra in extras.get(wid, []):
            for lab in list_labels(extra, gazetteer, axes):
                key = (lab.axis, lab.value)
                if key not in labs or labs[key].confidence < lab.confidence:
                    labs[key] = lab
        lists[wid] = list(labs.values())
        y: dict[str, list[str]] = defaultdict(list)
        for lab in lists[wid]:
            y[lab.axis].append(lab.value)
        for axis in axes:
            human = [lab.value for lab in state.get((wid, axis), []) if lab.method == "human"]
            if human:
                y[axis] = sorted(set(human))
        if y:
            train[wid] = dict(y)
    return lists, train


# ----------------------------------------------------------------------------- writing
def _same(old: list[Label], new: list[Label]) -> bool:
    def key(labs: list[Label]) -> set[tuple[str, float, str | None]]:
        return {(lab.value, round(lab.confidence, 3), lab.role) for lab in labs}

    return key(old) == key(new)


def fulltexts_from_folder(store: Store, works: list[dict[str, Any]]) -> dict[int, Any]:
    """Methods/experiments text of the PDFs in the review folder's ``pdfs/`` (see
    :mod:`.fulltext`): work id -> :class:`~fmreview.extract.fulltext.FullText`."""
    folder = getattr(store, "folder", None)
    if folder is None or not (Path(folder) / "pdfs").is_dir():
        return {}
    return fulltexts_in(Path(folder) / "pdfs", works)


def _locate_fulltext(labels: list[Label], ft: Any) -> list[Label]:
    """Full-text spans as page + sentence evidence (when ``ft`` is a ``FullText``)."""
    if not hasattr(ft, "evidence"):
        return labels
    for lab in labels:
        lab.evidence = [ft.evidence(sp) if sp.field == "fulltext" else sp for sp in lab.evidence]
    return labels


def _new_label_rows(
    targets: list[dict[str, Any]],
    cands: dict[int, list[Label]],
    state: dict[tuple[int, str], list[Label]],
    axes: dict[str, bool],
    *,
    run_id: int,
    now: Any,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Label rows to append: per work, axis and method, only where the labels changed."""
    added: dict[str, int] = defaultdict(int)
    rows: list[dict[str, Any]] = []
    for w in targets:
        wid = int(w["id"])
        grouped: dict[tuple[str, str], list[Label]] = defaultdict(list)
        for lab in cands.get(wid, []):
            if lab.axis in axes:
                grouped[(lab.axis, lab.method)].append(lab)
        for (axis, method), labs in grouped.items():
            old = [x for x in state.get((wid, axis), []) if x.method == method]
            if old and _same(old, labs):
                continue
            for lab in labs:
                rows.append(
                    {
                        "work_id": wid,
                        "axis": axis,
                        "value": lab.value[:255],
                        "method": method,
                        "confidence": lab.confidence,
                        "evidence": lab.evidence_dicts(),
                        "role": lab.role,
                        "status": "auto",
                        "reviewer": None,
                        "supersedes": None,
                        "run_id": run_id,
                        "created_at": now,
                    }
                )
                added[method] += 1
    return rows, dict(added)


def _extract_counts(
    store: Store,
    targets: list[dict[str, Any]],
    added: dict[str, int],
    trained_on: int,
    reporter: Reporter,
) -> dict[str, Any]:
    """The extract run's counts (current labels by origin, violations), logged."""
    cur, violations = current_labels_and_violations(store)
    by_constraint: dict[str, int] = defaultdict(int)
    for v in violations:
        by_constraint[str(v["constraint"])] += 1
    counts: dict[str, Any] = {
        "works": len(targets),
        "rows_added": dict(added),
        "labels": int(len(cur)),
        "human": int((cur["method"] == "human").sum()) if len(cur) else 0,
        "list": int((cur["method"] == "list").sum()) if len(cur) else 0,
        "automatic": int(cur["method"].isin(["rule", "model", "llm"]).sum()) if len(cur) else 0,
        "trained_on": trained_on,
        "constraint_violations": len(violations),
        "violations_by_constraint": dict(sorted(by_constraint.items())),
        "proposed_datasets": len(proposed_datasets(store, current=cur)),
    }
    if violations:
        reporter.log(
            f"{len(violations)} constraint violations between axes resolved ("
            + ", ".join(f"{k}: {n}" for k, n in sorted(by_constraint.items()))
            + "); see fmreview.extract.store_io.violations_table"
        )
    reporter.log(
        f"{counts['labels']} labels on {counts['works']} works: {counts['human']} human-confirmed, "
        f"{counts['list']} list-given, {counts['automatic']} automatic"
    )
    return counts


def extract_store(
    store: Store,
    *,
    run_id: int,
    reporter: Reporter | None = None,
    methods: Sequence[str] | None = None,
    work_ids: Iterable[int] | None = None,
    fulltexts: dict[int, Any] | None = None,
    llm: Any = None,
    classifier_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Label the store's works; append label rows; return counts.

    Parameters
    ----------
    store : Store
    run_id : int
        The ``extract`` run the rows belong to.
    reporter : Reporter, optional
    methods : sequence of str, optional
        Of ``list``, ``rule``, ``model``, ``llm`` (default: the protocol's
        ``extraction.methods``; ``llm`` also needs ``extraction.llm.enabled``).
    work_ids : iterable of int, optional
        Only these works (default: every active work).
    fulltexts : dict, optional
        Work id to full text, a string or a ``FullText`` (default: the methods/experiments
        sections of the PDFs in the review folder's ``pdfs/``, with page + sentence evidence).
    llm : LLMExtractor, optional
        The LLM extractor to use (default: one built from the protocol when ``llm`` is on).
    classifier_params : dict, optional
        Parameters of the per-axis classifiers (``TaxonomyClassifier``).

    Returns
    -------
    dict
        ``works``, ``rows_added`` per method, and the current labels by origin:
        ``human``, ``list``, ``automatic`` (rule, model, llm).
    """
    reporter = reporter or NullReporter()
    protocol = store.protocol
    methods = list(methods if methods is not None else protocol.extraction.methods)
    unknown = set(methods) - set(AUTO_METHODS)
    if unknown:
        raise InputError(
            f"unknown extraction method(s) {', '.join(sorted(unknown))}; available: {', '.join(AUTO_METHODS)}"
        )
    axes = _axes(store)
    gaz = _gazetteer(store)
    with store.connect() as conn:
        all_works = _works(conn)
        extras = work_extras(conn)
        state = _state(_label_rows(conn), axes)
    targets = all_works if work_ids is None else [w for w in all_works if w["id"] in set(work_ids)]
    lists, train = training_labels(all_works, extras, state, gaz, set(axes))
    if fulltexts is None:
        fulltexts = fulltexts_from_folder(store, targets)

    def _ft(wid: int) -> str | None:
        ft = fulltexts.get(wid) if fulltexts else None
        return getattr(ft, "text", ft)

    texts = {int(w["id"]): work_texts(w, _ft(int(w["id"]))) for w in all_works}

    ex = Extractor(
        protocol,
        gazetteer=gaz,
        methods=[m for m in methods if m in ("rule", "model")],
        classifier_params=classifier_params,
    )
    train_ids = [wid for wid in train if texts.get(wid)]
    with reporter.task("training classifiers", total=None):
        ex.fit([texts[w] for w in train_ids], [train[w] for w in train_ids])
    cands: dict[int, list[Label]] = {}
    batch = 500
    with reporter.task("labelling works", total=len(targets)) as task:
        for start in range(0, len(targets), batch):
            chunk = targets[start : start + batch]
            ids = [int(w["id"]) for w in chunk]
            for wid, c in zip(ids, ex.candidates([texts[w] for w in ids]), strict=True):
                if wid in fulltexts:
                    c = _locate_fulltext(c, fulltexts[wid])
                cands[wid] = c + (lists.get(wid, []) if "list" in methods else [])
            task.advance(len(chunk))
    if "llm" in methods and (llm is not None or protocol.extraction.llm.enabled):
        from fmreview.extract.llm import LLMExtractor

        extractor = llm or LLMExtractor.from_protocol(protocol)
        for w in reporter.track(targets, "LLM extraction"):
            wid = int(w["id"])
            cands[wid] += extractor.extract_work(store, wid, texts[wid], run_id=run_id)

    now = store.clock()
    rows, added = _new_label_rows(targets, cands, state, axes, run_id=run_id, now=now)
    with store.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(sa.insert(schema.labels), rows[start : start + 1000])
        if ex.classifier is not None:
            conn.execute(
                sa.insert(schema.artifacts).values(
                    kind="extract-model",
                    key=f"run-{run_id}",
                    run_id=run_id,
                    created_at=now,
                    content_type="application/json",
                    data=None,
                    meta={
                        "config": ex.classifier.get_config(),
                        "trained_on": len(train_ids),
                        "human_labels": sum(
                            1 for labs in state.values() for lab in labs if lab.method == "human"
                        ),
                        "axes": sorted(ex.classifier.classifiers_),
                    },
                )
            )
    return _extract_counts(store, targets, added, len(train_ids), reporter)


def proposed_datasets(store: Store, *, current: pd.DataFrame | None = None) -> pd.DataFrame:
    """Datasets the works use that the gazetteer does not list, with their evidence.

    One row per name: ``dataset, n_works, work_ids, evidence`` (the first span, e.g.
    ``abstract: "the ChiMed-VL dataset"``), most used first. Add the ones that are real
    datasets to the gazetteer (``gazetteer: {file: ...}`` in the protocol).
    """
    cur = current if current is not None else current_labels(store)
    gaz = _gazetteer(store)
    rows = cur[cur["axis"] == "datasets"] if len(cur) else cur
    found: dict[str, dict[str, Any]] = {}
    for r in rows.to_dict("records"):
        name = str(r["value"])
        if gaz is not None and name in gaz:
            continue
        if r["method"] not in ("rule", "llm"):
            continue
        entry = found.setdefault(name, {"dataset": name, "work_ids": [], "evidence": ""})
        entry["work_ids"].append(int(r["work_id"]))
        if not entry["evidence"] and r["evidence"]:
            ev = r["evidence"][0]
            entry["evidence"] = f"{ev.get('field', '')}: {ev.get('text', '')}"
    out = pd.DataFrame(
        [{**e, "n_works": len(e["work_ids"])} for e in found.values()],
        columns=["dataset", "n_works", "work_ids", "evidence"],
    )
    return out.sort_values(["n_works", "dataset"], ascending=[False, True]).reset_index(drop=True)


# ----------------------------------------------------------------------------- people
def review_queue(
    store: Store, limit: int = 20, *, axes: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The least confident automatic labels first, with the work's text for highlighting.

    Returns a list of dicts: ``label_id, work_id, axis, value, method, confidence, evidence,
    title, abstract, alternatives`` (the other candidate values on that axis).
    """
    cur = current_labels(store)
    if cur.empty:
        return []
    cur = cur[cur["method"] != "human"]
    if axes:
        cur = cur[cur["axis"].isin(list(axes))]
    cur = cur.sort_values(["confidence", "work_id", "axis"], kind="stable").head(limit)
    ids = [int(x) for x in cur["work_id"].unique()]
    with store.connect() as conn:
        works = {int(w["id"]): w for w in _works(conn, ids)}
    out = []
    for row in cur.to_dict("records"):
        w = works.get(int(row["work_id"]), {})
        out.append(
            {
                **{
                    k: row[k]
                    for k in (
                        "label_id",
                        "work_id",
                        "axis",
                        "value",
                        "method",
                        "confidence",
                        "evidence",
                    )
                },
                "title": w.get("title", ""),
                "abstract": w.get("abstract", ""),
            }
        )
    return out


def _label_row(conn: sa.Connection, label_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(schema.labels).where(schema.labels.c.id == label_id)).first()
    if row is None:
        raise NotFoundError(f"no label with id {label_id}; list them with: fmreview extract review")
    return dict(row._mapping)


def _human_evidence(
    action: str, note: str, spans: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    marker = {"field": "review", "start": None, "end": None, "text": note, "action": action}
    return [*(spans or []), marker]


def confirm_label(
    store: Store, label_id: int, reviewer: str, *, note: str = "", run_id: int | None = None
) -> int:
    """A person confirms a label: a new ``human`` row (status confirmed) superseding it."""
    if not reviewer:
        raise InputError("a confirmation needs a reviewer name (--reviewer NAME)")
    with store.begin() as conn:
        old = _label_row(conn, label_id)
        spans = [
            e for e in (old["evidence"] or []) if isinstance(e, dict) and e.get("field") != "review"
        ]
        new_id = conn.execute(
            sa.insert(schema.labels)
            .values(
                work_id=old["work_id"],
                axis=old["axis"],
                value=old["value"],
                method="human",
                confidence=1.0,
                evidence=_human_evidence(uuid.uuid4().hex, note, spans),
                role=old["role"],
                status="confirmed",
                reviewer=reviewer,
                supersedes=label_id,
                run_id=run_id,
                created_at=store.clock(),
            )
            .returning(schema.labels.c.id)
        ).scalar_one()
    return int(new_id)


def correct_label(
    store: Store,
    work_id: int,
    axis: str,
    values: str | Sequence[str],
    reviewer: str,
    *,
    note: str = "",
    run_id: int | None = None,
) -> list[int]:
    """A person sets a work's values on an axis: new ``human`` rows (status corrected).

    ``values`` replace whatever the automatic methods say on that axis. Each new row
    ``supersedes`` the current label it replaces (the axis's top label when the value is new).
    """
    if not reviewer:
        raise InputError("a correction needs a reviewer name (--reviewer NAME)")
    ax = store.protocol.axis(axis)
    vals = [values] if isinstance(values, str) else list(dict.fromkeys(values))
    if not vals:
        raise InputError(f"give at least one value for axis {axis!r}")
    if not ax.multi and len(vals) > 1:
        raise InputError(f"axis {axis!r} takes one value; got {', '.join(vals)}")
    if ax.from_gazetteer:
        gaz = _gazetteer(store)
        resolved = []
        for v in vals:
            entity = gaz.lookup(v) if gaz is not None else None
            resolved.append(entity or v)
        vals = resolved
    else:
        allowed = [v.name for v in ax.values]
        for v in vals:
            if v not in allowed:
                from fmreview.errors import unknown_name

                raise unknown_name(f"value of axis {axis!r}", v, allowed)
    cur = current_labels(store, work_ids=[work_id])
    cur = cur[cur["axis"] == axis]
    by_value = {
        r["value"]: int(r["label_id"]) for r in cur.to_dict("records") if r["label_id"] is not None
    }
    top = (
        int(cur.sort_values("confidence", ascending=False).iloc[0]["label_id"])
        if len(cur)
        else None
    )
    action = uuid.uuid4().hex
    ids = []
    with store.begin() as conn:
        if (
            conn.execute(sa.select(schema.works.c.id).where(schema.works.c.id == work_id)).first()
            is None
        ):
            raise NotFoundError(f"no work with id {work_id}; see: fmreview extract review")
        now = store.clock()
        for v in vals:
            new_id = conn.execute(
                sa.insert(schema.labels)
                .values(
                    work_id=work_id,
                    axis=axis,
                    value=v,
                    method="human",
                    confidence=1.0,
                    evidence=_human_evidence(action, note),
                    role=None,
                    status="corrected",
                    reviewer=reviewer,
                    supersedes=by_value.get(v, top),
                    run_id=run_id,
                    created_at=now,
                )
                .returning(schema.labels.c.id)
            ).scalar_one()
            ids.append(int(new_id))
    return ids
