"""The methods section, written from what the store recorded (PRISMA 2020 items 6–13).

Every sentence is derived from the ``runs``, ``searches``, ``decisions``, ``labels`` and
``effects`` tables, the protocol and the stored analysis. A stage with no trace in the
store is stated as *not performed* — never described from the protocol as if it had run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from fmreview.analysis_store import load_latest_analysis
from fmreview.report.numbers import label_numbers
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store

NOT_PERFORMED = "not performed"
DEDUPE_METHOD = (
    "fmreview's deduplication (exact identifiers, fuzzy title/author/year matching, "
    "preprint–published version linking)"
)
LIBRARIES = ("numpy", "scipy", "pandas", "statsmodels", "scikit-learn", "matplotlib", "SQLAlchemy")


@dataclass
class MethodsSection:
    """One paragraph of the methods: the PRISMA 2020 item(s) it answers."""

    key: str
    title: str
    items: str
    text: str
    performed: bool = True
    details: list[str] = field(default_factory=list)


@dataclass
class Agreement:
    """Inter-reviewer agreement on the works two reviewers both screened at one stage."""

    stage: str
    reviewer_a: str
    reviewer_b: str
    n: int
    agreement: float
    kappa: float | None  # None when undefined (both reviewers gave one label only)


# ----------------------------------------------------------------------------- helpers
def _date(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)[:10] if value else "an unrecorded date"


def _query_text(q: Any) -> str:
    if isinstance(q, str):
        return q
    if isinstance(q, dict) and set(q) <= {"q", "query"} and len(q) == 1:
        return str(next(iter(q.values())))
    return json.dumps(q, ensure_ascii=False, sort_keys=True)


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _fmt_counts(counts: dict[str, Any]) -> str:
    items = [
        f"{k.replace('_', ' ')} {v}"
        for k, v in counts.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return ", ".join(items)


def _find(obj: Any, pred: Any) -> list[dict[str, Any]]:
    """Every mapping nested in ``obj`` for which ``pred(mapping)`` holds."""
    out: list[dict[str, Any]] = []
    if isinstance(obj, dict):
        if pred(obj):
            out.append(obj)
        for v in obj.values():
            out.extend(_find(v, pred))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(_find(v, pred))
    return out


def _accuracy_items(obj: Any) -> dict[str, float]:
    """Numbers under keys that name a measured accuracy (f1, accuracy, precision, ...)."""
    keys = ("f1", "accuracy", "precision", "recall", "kappa", "sensitivity", "specificity")
    out: dict[str, float] = {}

    def walk(o: Any, prefix: str) -> None:
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{prefix}{k}." if not isinstance(v, int | float) else f"{prefix}{k}")
        elif isinstance(o, int | float) and not isinstance(o, bool):
            name = prefix.rstrip(".")
            if any(k in name.lower() for k in keys) and math.isfinite(float(o)):
                out[name] = float(o)

    walk(obj, "")
    return out


def _runs(conn: sa.engine.Connection) -> list[dict[str, Any]]:
    r = schema.runs
    return [dict(row._mapping) for row in conn.execute(sa.select(r).order_by(r.c.id))]


# ----------------------------------------------------------------------------- agreement
def reviewer_agreement(store: Store) -> list[Agreement]:
    """Cohen's kappa per stage and reviewer pair, on the works both screened.

    Each reviewer's latest vote per work counts; ``maybe`` counts as include (as in
    :mod:`fmreview.status`). The automated ``rules`` reviewer is not a person and is left out.
    """
    from sklearn.metrics import cohen_kappa_score

    d = schema.decisions
    votes: dict[str, dict[str, dict[int, str]]] = defaultdict(lambda: defaultdict(dict))
    with store.connect() as conn:
        q = (
            sa.select(d.c.work_id, d.c.stage, d.c.reviewer, d.c.label)
            .where(d.c.stage.in_(("title_abstract", "full_text")))
            .order_by(d.c.id)
        )
        for wid, stage, reviewer, label in conn.execute(q):
            if reviewer == "rules":
                continue
            votes[stage][reviewer][wid] = "exclude" if label == "exclude" else "include"
    out: list[Agreement] = []
    for stage in ("title_abstract", "full_text"):
        by = votes.get(stage, {})
        for a, b in combinations(sorted(by), 2):
            shared = sorted(set(by[a]) & set(by[b]))
            if not shared:
                continue
            ya = [by[a][w] for w in shared]
            yb = [by[b][w] for w in shared]
            agree = sum(x == y for x, y in zip(ya, yb, strict=True)) / len(shared)
            kappa: float | None = None
            if len(set(ya) | set(yb)) > 1:
                k = float(cohen_kappa_score(ya, yb, labels=["include", "exclude"]))
                kappa = k if math.isfinite(k) else None
            out.append(Agreement(stage, a, b, len(shared), agree, kappa))
    return out


# ----------------------------------------------------------------------------- searches
def search_rows(store: Store) -> list[dict[str, Any]]:
    """Every literature search: source, exact query, dates, hits, records fetched, status."""
    s = schema.searches
    with store.connect() as conn:
        rows = conn.execute(sa.select(s).order_by(s.c.id)).all()
    return [
        {
            "source": m.source,
            "query": _query_text(m.query),
            "date": _date(m.started_at),
            "since": m.since or "",
            "until": m.until or "",
            "total_hits": m.total_hits,
            "fetched": m.fetched,
            "status": m.status,
            "url": m.url or "",
        }
        for m in rows
    ]


def import_rows(store: Store) -> list[dict[str, Any]]:
    """Records identified by other methods and file imports: source, kind, origin, records, date."""
    r = schema.records
    with store.connect() as conn:
        q = (
            sa.select(
                r.c.source,
                r.c.source_kind,
                r.c.origin,
                r.c.format,
                sa.func.count(),
                sa.func.min(r.c.retrieved_at),
            )
            .where(r.c.search_id.is_(None))
            .group_by(r.c.source, r.c.source_kind, r.c.origin, r.c.format)
            .order_by(r.c.source)
        )
        return [
            {
                "source": src,
                "kind": kind,
                "origin": origin or "",
                "format": fmt or "",
                "records": int(n),
                "date": _date(first),
            }
            for src, kind, origin, fmt, n, first in conn.execute(q)
        ]


# ----------------------------------------------------------------------------- sections
def _search_section(store: Store, runs: list[dict[str, Any]]) -> MethodsSection:
    searches = search_rows(store)
    imports = import_rows(store)
    parts: list[str] = []
    details: list[str] = []
    if searches:
        by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in searches:
            by_source[s["source"]].append(s)
        parts.append(
            f"{_plural(len(by_source), 'database')} ({', '.join(by_source)}) "
            f"{'was' if len(by_source) == 1 else 'were'} searched in {_plural(len(searches), 'search', 'searches')}."
        )
        for s in searches:
            window = ""
            if s["since"] or s["until"]:
                window = f" for records from {s['since'] or 'the start'} to {s['until'] or 'the search date'}"
            hits = f"{s['total_hits']} hits reported, " if s["total_hits"] is not None else ""
            details.append(
                f"{s['source']}, searched on {s['date']}{window}: {hits}{s['fetched']} records retrieved "
                f"({s['status']}). Query: {s['query']}"
            )
    else:
        parts.append(f"Database searching: {NOT_PERFORMED} (no search is recorded in this review).")
        configured = list(store.protocol.sources)
        if configured:
            parts.append(
                f"The protocol defines queries for {', '.join(configured)}, but none was run."
            )
    if imports:
        other = [i for i in imports if i["kind"] != "database"]
        if other:
            parts.append(
                "Records were also identified by other methods: "
                + "; ".join(
                    f"{i['source']} ({i['records']} records, {i['kind']}"
                    + (f", from {i['origin']}" if i["origin"] else "")
                    + f", on {i['date']})"
                    for i in other
                )
                + "."
            )
        dbfiles = [i for i in imports if i["kind"] == "database"]
        if dbfiles:
            parts.append(
                "Database exports imported from files: "
                + "; ".join(
                    f"{i['source']} ({i['records']} records, {i['format'] or 'file'}, on {i['date']})"
                    for i in dbfiles
                )
                + "."
            )
    dr = store.protocol.date_range
    if dr.start or dr.end:
        parts.append(f"The protocol's date range is {dr.start or 'open'} to {dr.end or 'open'}.")
    if store.protocol.languages:
        parts.append(f"Languages: {', '.join(store.protocol.languages)}.")
    return MethodsSection(
        "search",
        "Information sources and search strategy",
        "6–7",
        " ".join(parts),
        bool(searches or imports),
        details,
    )


def _dedupe_section(store: Store, runs: list[dict[str, Any]]) -> MethodsSection:
    dd = [r for r in runs if r["command"] == "dedupe" and r["status"] == "ok"]
    fallback = [r for r in runs if r["command"] == "works" and r["status"] == "ok"]
    if dd:
        last = dd[-1]
        settings = (last["params"] or {}).get("settings") or last["params"] or {}
        s = ", ".join(f"{k} = {v}" for k, v in settings.items())
        cfg = last.get("config") or {}
        method = cfg.get("method") or cfg.get("name") or DEDUPE_METHOD
        text = (
            f"Duplicates were identified with {method}, run {_plural(len(dd), 'time')} (last on "
            f"{_date(last['started_at'])}) with settings {s or 'the defaults'}."
        )
        if last.get("counts"):
            text += f" Last run: {_fmt_counts(last['counts'])}."
        with store.connect() as conn:
            n_pairs = conn.execute(
                sa.select(sa.func.count()).select_from(schema.dedupe_decisions)
            ).scalar_one()
        if n_pairs:
            text += f" {_plural(int(n_pairs), 'uncertain pair')} {'was' if n_pairs == 1 else 'were'} decided by a person."
        return MethodsSection("dedupe", "Deduplication", "8", text)
    if fallback:
        return MethodsSection(
            "dedupe",
            "Deduplication",
            "8",
            f"Deduplication: {NOT_PERFORMED}; each record was treated as a separate work.",
            False,
        )
    return MethodsSection("dedupe", "Deduplication", "8", f"Deduplication: {NOT_PERFORMED}.", False)


def _stopping_info(store: Store, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest stopping-rule check recorded in a run or a decision's model state."""

    def is_check(m: dict[str, Any]) -> bool:
        return "recall" in m and ("rule" in m or "stop" in m)

    found: list[dict[str, Any]] = []
    for r in runs:
        found += _find({"c": r.get("counts"), "g": r.get("config")}, is_check)
    d = schema.decisions
    with store.connect() as conn:
        for (model,) in conn.execute(
            sa.select(d.c.model).where(d.c.model.is_not(None)).order_by(d.c.id)
        ):
            found += _find(model, is_check)
    return found[-1] if found else None


def _screening_section(store: Store, runs: list[dict[str, Any]]) -> MethodsSection:
    proto = store.protocol
    parts: list[str] = []
    details: list[str] = []
    elig = [r for r in runs if r["command"] == "eligibility" and r["status"] == "ok"]
    d = schema.decisions
    with store.connect() as conn:
        n_auto = conn.execute(
            sa.select(sa.func.count()).select_from(d).where(d.c.stage == "automation")
        ).scalar_one()
        human = conn.execute(
            sa.select(d.c.stage, d.c.reviewer, sa.func.count())
            .where(
                d.c.stage.in_(("title_abstract", "full_text", "resolution")),
                d.c.reviewer != "rules",
            )
            .group_by(d.c.stage, d.c.reviewer)
        ).all()
        models = [
            m
            for (m,) in conn.execute(
                sa.select(d.c.model).where(d.c.model.is_not(None)).order_by(d.c.id)
            )
        ]
    if elig or n_auto:
        crit = [c for c in proto.eligibility if c.rule is not None]
        parts.append(
            "Eligibility rules (explainable automation tool) were applied to every work"
            + (f" on {_date(elig[-1]['started_at'])}" if elig else "")
            + f": {_plural(len(crit), 'machine-readable criterion', 'machine-readable criteria')} "
            + f"({', '.join(c.id for c in crit) or 'none'})."
        )
        if elig and elig[-1].get("counts"):
            parts.append(f"Result of the last run: {_fmt_counts(elig[-1]['counts'])}.")
        for c in proto.eligibility:
            details.append(f"{c.id} ({c.action}, {c.stage.replace('_', '/')}): {c.description}")
    else:
        parts.append(f"Automated eligibility screening: {NOT_PERFORMED}.")
    reviewers = sorted({r for _, r, _ in human})
    if human:
        per_stage: Counter[str] = Counter()
        for stage, _, n in human:
            per_stage[stage] += int(n)
        stages = ", ".join(f"{st.replace('_', '/')} {n}" for st, n in per_stage.items())
        parts.append(
            f"{_plural(len(reviewers), 'reviewer')} screened the works ({stages} decisions), "
            f"{proto.screening.reviewers_per_record} per work"
            + (", blinded to each other's votes" if proto.screening.blinding else "")
            + "; disagreements were resolved by a third reviewer or consensus"
            + (
                f" ({_plural(per_stage['resolution'], 'resolution')})."
                if per_stage.get("resolution")
                else "."
            )
        )
        agreements = reviewer_agreement(store)
        for a in agreements:
            k = (
                f"Cohen's kappa {a.kappa:.2f}"
                if a.kappa is not None
                else "kappa undefined (one label only)"
            )
            parts.append(
                f"Agreement at {a.stage.replace('_', '/')} between {a.reviewer_a} and {a.reviewer_b}: "
                f"{k}, {a.agreement:.0%} raw agreement on {_plural(a.n, 'work')} both screened."
            )
        if not agreements:
            parts.append(
                "Inter-reviewer agreement: not computable (no work was screened by two reviewers)."
            )
    else:
        parts.append(f"Screening by human reviewers: {NOT_PERFORMED}.")
        if proto.screening.mode == "rules":
            parts.append(
                "The protocol sets screening.mode: rules, so a work that passed the eligibility rules counts as "
                "included without human confirmation."
            )
    names = sorted(
        {
            str(m.get("name") or m.get("model"))
            for m in models
            if isinstance(m, dict) and (m.get("name") or m.get("model"))
        }
    )
    if names:
        parts.append(
            f"Works were prioritised for screening by the active-learning ranking model {', '.join(names)}."
        )
    else:
        parts.append(f"Active-learning prioritisation: {NOT_PERFORMED}.")
    stop = _stopping_info(store, runs)
    if stop is not None:
        rec = stop.get("recall")
        low = stop.get("recall_low")
        txt = f"Screening stopped by the {stop.get('rule', proto.screening.stopping.rule)} stopping rule"
        if rec is not None:
            txt += f" with an estimated recall of {float(rec):.1%}"
            if low is not None:
                txt += f" (lower {proto.screening.stopping.confidence:.0%} bound {float(low):.1%})"
        txt += f", target recall {proto.screening.stopping.recall:.0%}."
        parts.append(txt)
    else:
        parts.append(f"Stopping rule: {NOT_PERFORMED} (no stopping check is recorded).")
    performed = bool(elig or n_auto or human)
    return MethodsSection(
        "screening", "Selection process", "8", " ".join(parts), performed, details
    )


def _extraction_section(
    store: Store, runs: list[dict[str, Any]], nums: Any = None
) -> MethodsSection:
    ex = [r for r in runs if r["command"] == "extract" and r["status"] == "ok"]
    lab = schema.labels
    with store.connect() as conn:
        by = conn.execute(
            sa.select(
                lab.c.method,
                lab.c.status,
                sa.func.count(),
                sa.func.count(sa.distinct(lab.c.work_id)),
            ).group_by(lab.c.method, lab.c.status)
        ).all()
    if not ex and not by:
        return MethodsSection(
            "extraction",
            "Data collection process",
            "9–10",
            f"Data extraction (classification into the taxonomy): {NOT_PERFORMED}.",
            False,
        )
    parts = []
    if ex:
        last = ex[-1]
        methods = (last["params"] or {}).get("methods") or store.protocol.extraction.methods
        parts.append(
            f"Every work was classified into the taxonomy ({', '.join(a.name for a in store.protocol.taxonomy)}) "
            f"by the methods {', '.join(map(str, methods))} (last run on {_date(last['started_at'])}); "
            "every label keeps its evidence (text span), method and confidence."
        )
        acc = _accuracy_items({"c": last.get("counts"), "g": last.get("config")})
        if acc:
            parts.append(
                "Measured accuracy: "
                + ", ".join(f"{k.split('.', 1)[-1]} {v:.2f}" for k, v in acc.items())
                + "."
            )
        else:
            parts.append("The accuracy of automatic extraction was not measured in this review.")
    else:
        parts.append("An extraction run is not recorded; labels were given with the records.")

    nums = nums if nums is not None else label_numbers(store)
    if nums.labels:
        parts.append(
            f"{_plural(nums.labels, 'label')} are current on {nums.works_labelled:,} of "
            f"{_plural(nums.works, 'work')} ({nums.kinds_text()}); "
            f"{nums.included_labels:,} of them belong to the {_plural(nums.included, 'included study', 'included studies')} "
            f"({nums.kinds_text(included=True) or 'none'}). They were chosen by the policy "
            f"human > list > LLM > rule > model from {_plural(nums.rows_stored, 'stored candidate row')} "
            "(every method's proposal, kept for audit)."
        )
    else:
        parts.append("No work carries a current label.")
    human = nums.by_kind.get("human", 0)
    parts.append(
        f"{_plural(human, 'label')} {'was' if human == 1 else 'were'} confirmed or corrected by a person."
        if human
        else "No label was confirmed by a person."
    )
    return MethodsSection("extraction", "Data collection process", "9–10", " ".join(parts))


def _synthesis_section(
    store: Store, runs: list[dict[str, Any]], analysis: dict[str, Any] | None
) -> MethodsSection:
    parts: list[str] = []
    details: list[str] = []
    if analysis:
        meta = analysis.get("meta") or {}
        parts.append(
            f"Temporal trends were analysed on {meta.get('n_works', 'the')} included works "
            f"(fmreview {meta.get('fmreview_version', '')})."
        )
        details += [str(m) for m in meta.get("methods") or []]
    else:
        parts.append(f"Trend analysis: {NOT_PERFORMED} (not analysed yet).")
    with store.connect() as conn:
        n_eff = int(
            conn.execute(sa.select(sa.func.count()).select_from(schema.effects)).scalar_one()
        )
    meta_runs = [r for r in runs if r["command"].startswith("meta") and r["status"] == "ok"]
    if n_eff:
        txt = f"{_plural(n_eff, 'study-level effect')} {'was' if n_eff == 1 else 'were'} recorded for meta-analysis"
        if meta_runs:
            p = meta_runs[-1]["params"] or {}
            txt += (
                f"; pooled with {p.get('method') or p.get('estimator') or 'a random-effects model'}"
            )
        parts.append(txt + ".")
    else:
        parts.append(f"Effect-size meta-analysis: {NOT_PERFORMED} (no effects recorded).")
    return MethodsSection(
        "synthesis", "Synthesis methods", "13", " ".join(parts), bool(analysis or n_eff), details
    )


def software_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from fmreview import __version__

    out = {"fmreview": __version__, "Python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            continue
    return out


def _software_section(store: Store, runs: list[dict[str, Any]]) -> MethodsSection:
    used = sorted({r["version"] for r in runs if r.get("version")})
    sw = software_versions()
    text = (
        f"The review was run with fmreview {', '.join(used) or sw['fmreview']} "
        f"({_plural(len(runs), 'recorded command run')}; store: {store.dialect}). This report was built with "
        + ", ".join(f"{k} {v}" for k, v in sw.items())
        + ". Every decision and label is kept in an append-only log; every number can be re-derived from it."
    )
    return MethodsSection("software", "Software", "8–13", text)


def methods_sections(
    store: Store, *, analysis: dict[str, Any] | None = None, numbers: Any = None
) -> list[MethodsSection]:
    """The methods, one section per PRISMA item group, derived from the store.

    ``analysis`` is the stored analysis (:func:`fmreview.analysis_store.load_latest_analysis`);
    when not given it is loaded. ``numbers`` are the review's
    :class:`~fmreview.report.numbers.LabelNumbers` when already computed.
    """
    if analysis is None:
        analysis = load_latest_analysis(store)
    with store.connect() as conn:
        runs = _runs(conn)
    return [
        _search_section(store, runs),
        _dedupe_section(store, runs),
        _screening_section(store, runs),
        _extraction_section(store, runs, numbers),
        _synthesis_section(store, runs, analysis),
        _software_section(store, runs),
    ]


def methods_text(store: Store, *, analysis: dict[str, Any] | None = None) -> str:
    """The methods as plain paragraphs (title: text), for the CLI and the report's copy box."""
    return "\n\n".join(f"{s.title}. {s.text}" for s in methods_sections(store, analysis=analysis))
