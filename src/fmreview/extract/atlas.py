"""The atlas: which foundation models exist for my modality and task, from the review.

``find(store, modality="CT", task="segmentation")`` answers from the current labels
(human > list > llm > rule > model), newest first, with links. Filter values are matched
to the taxonomy's value names case-insensitively, through their synonyms too
(``CT`` = ``ct``, ``X-ray`` = ``xray``, ``vision-language`` = ``vision_language``).
Works excluded by screening are left out unless ``include_excluded=True``.

A question like "which open-weight model for CT segmentation?" is also answered by
generalist models: a work labelled ``multi_modality`` (the text says it spans several
modalities, e.g. MedSAM, "Segment Anything in Medical Images") matches any modality
filter, and a foundation model whose text names no task (a general-purpose encoder such as
UNI, "Towards a general-purpose foundation model for computational pathology") matches any
task filter. Such rows say so in ``match`` (``generalist modality``, ``task not stated``)
and come after the works labelled with the asked values (generalists doing the asked
task first). ``strict=True`` turns this off.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from fmreview.errors import unknown_name
from fmreview.extract.constraints import CONSTRAINTS
from fmreview.extract.lists import open_availability
from fmreview.extract.model_names import model_name as read_model_name
from fmreview.extract.store_io import current_labels, work_extras
from fmreview.status import work_statuses
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store


def _norm(s: str) -> str:
    return re.sub(r"[\s\-_/]+", "", s).lower()


def resolve_value(protocol: Any, axis: str, value: str) -> str:
    """A user's spelling of a value -> the taxonomy's value name."""
    ax = protocol.axis(axis)
    key = _norm(value)
    for v in ax.values:
        if _norm(v.name) == key or any(_norm(s) == key for s in v.synonyms):
            return str(v.name)
    if ax.from_gazetteer:
        return value
    raise unknown_name(f"{axis} value", value, [v.name for v in ax.values])


def _links(w: dict[str, Any]) -> dict[str, str]:
    out = {}
    if w.get("doi"):
        out["doi"] = f"https://doi.org/{w['doi']}"
    if w.get("arxiv"):
        out["arxiv"] = f"https://arxiv.org/abs/{w['arxiv']}"
    if w.get("pmid"):
        out["pubmed"] = f"https://pubmed.ncbi.nlm.nih.gov/{w['pmid']}/"
    if w.get("url"):
        out["url"] = str(w["url"])
    return out


def _excluded(store: Store) -> set[int]:
    return {wid for wid, s in work_statuses(store).items() if str(s.status).startswith("excluded")}


def _label_index(
    store: Store,
) -> tuple[dict[int, dict[str, list[str]]], dict[int, dict[str, list[str]]]]:
    """Each work's current labels per axis, and the evidence behind its fm_type, modality
    and task labels ("VALUE (METHOD; FIELD: SPAN)")."""
    values: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    evidence: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in current_labels(store).itertuples(index=False):
        wid, axis = int(row.work_id), str(row.axis)
        values[wid][axis].append(str(row.value))
        if axis in ("fm_type", "modality", "task"):
            spans = [e for e in (row.evidence or []) if isinstance(e, dict) and e.get("text")]
            where = f"{spans[0].get('field')}: {spans[0].get('text')}" if spans else "no span"
            evidence[wid][axis].append(f"{row.value} ({row.method}; {where})")
    return values, evidence


def _can_do(labs: dict[str, list[str]], task: str) -> bool:
    """Whether a foundation model whose text names no task may still do ``task``: it must
    be a foundation model (an fm_type label) of the kind the task needs by the taxonomy's
    constraints (report generation and VQA take or produce text, so a vision-only encoder
    is not offered for them)."""
    fm = labs.get("fm_type", [])
    if not fm:
        return False
    for c in CONSTRAINTS:
        if c.require and c.axis == "task" and task in c.values and c.then_axis == "fm_type":
            if c.then_value not in fm:
                return False
    return True


def _match(labs: dict[str, list[str]], wanted: dict[str, str], strict: bool) -> list[str] | None:
    """How a work's labels meet the wanted values: ``[]`` exactly, the generalist reasons
    that let it in, or None when it does not match."""
    match = []
    for axis, v in wanted.items():
        have = labs.get(axis, [])
        if v in have or _norm(v) in map(_norm, have):
            continue
        if not strict and axis == "modality" and "multi_modality" in have:
            match.append("generalist modality")
        elif not strict and axis == "task" and not have and _can_do(labs, v):
            match.append("task not stated")
        else:
            return None
    return match


def _model_facts(
    w: dict[str, Any], extras: list[dict[str, Any]]
) -> tuple[dict[str, bool | None], str, str]:
    """Code and weights availability from the lists' extras, the model's name (the lists'
    name first, else the one the title or abstract gives) and where the name came from."""
    avail: dict[str, bool | None] = {"code": None, "weights": None}
    model_name = ""
    for extra in extras:
        a = open_availability(extra)
        for k in avail:
            if a[k] is not None:
                avail[k] = bool(avail[k]) or bool(a[k])
        model_name = model_name or str(extra.get("model_name") or "")
    name_evidence = f"{model_name} (list)" if model_name else ""
    if not model_name:
        read = read_model_name(str(w.get("title") or ""), str(w.get("abstract") or ""))
        if read is not None:
            model_name = read.name
            name_evidence = f"{read.name} ({read.rule}; {read.evidence()})"
    return avail, model_name, name_evidence


def find(
    store: Store,
    *,
    modality: str | None = None,
    task: str | None = None,
    fm_type: str | None = None,
    architecture: str | None = None,
    anatomy: str | None = None,
    dataset: str | None = None,
    open_weights: bool | None = None,
    open_code: bool | None = None,
    year_from: int | None = None,
    include_excluded: bool = False,
    strict: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Works matching every given filter: exact matches newest first, then generalists.

    Returns
    -------
    list of dict
        ``work_id, title, year, venue, model_name, fm_type, modality, task, architecture,
        datasets, code, weights, links`` (links: doi / arxiv / pubmed / url), ``match``
        (``exact`` or why a generalist matched) and ``evidence`` (axis -> "method: text"
        for fm_type, modality and task: the span or list label each rests on; and
        ``model_name`` -> ``"NAME (list)"`` or ``"NAME (rule; title|abstract: span)"``).
    """
    protocol = store.protocol
    wanted: dict[str, str] = {}
    for axis, val in (
        ("modality", modality),
        ("task", task),
        ("fm_type", fm_type),
        ("architecture", architecture),
        ("anatomy", anatomy),
        ("datasets", dataset),
    ):
        if val:
            wanted[axis] = resolve_value(protocol, axis, val)
    values, evidence = _label_index(store)
    with store.connect() as conn:
        works = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(schema.works).where(schema.works.c.merged_into.is_(None))
            )
        ]
        extras = work_extras(conn)
    skip = set() if include_excluded else _excluded(store)
    out = []
    for w in works:
        wid = int(w["id"])
        if wid in skip:
            continue
        labs = values.get(wid, {})
        match = _match(labs, wanted, strict)
        if match is None:
            continue
        if year_from is not None and (w.get("year") or 0) < year_from:
            continue
        avail, model_name, name_evidence = _model_facts(w, extras.get(wid, []))
        if open_weights is not None and bool(avail["weights"]) != open_weights:
            continue
        if open_code is not None and bool(avail["code"]) != open_code:
            continue
        fm = labs.get("fm_type", [])
        out.append(
            {
                "work_id": wid,
                "title": w.get("title", ""),
                "year": w.get("year"),
                "date": w.get("date"),
                "venue": w.get("venue", ""),
                "model_name": model_name,
                "fm_type": fm[0] if fm else None,
                "modality": sorted(labs.get("modality", [])),
                "task": sorted(labs.get("task", [])),
                "architecture": sorted(labs.get("architecture", [])),
                "datasets": sorted(labs.get("datasets", [])),
                "code": avail["code"],
                "weights": avail["weights"],
                "links": _links(w),
                "match": ", ".join(match) or "exact",
                "evidence": {
                    **{a: "; ".join(e) for a, e in evidence.get(wid, {}).items()},
                    **({"model_name": name_evidence} if name_evidence else {}),
                },
            }
        )
    out.sort(key=lambda r: (r["year"] or 0, str(r["date"] or ""), r["work_id"]), reverse=True)
    # stable: exact matches first; a generalist that does the asked task before a model of
    # the asked modality whose text names no task, before one relaxing both
    weight = {"exact": 0, "generalist modality": 1, "task not stated": 2}
    out.sort(key=lambda r: sum(weight.get(m.strip(), 0) for m in r["match"].split(",")))
    return out[:limit] if limit else out
