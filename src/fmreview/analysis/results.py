"""One call that runs every analysis, and its JSON-ready result.

``analyze(works, labels, settings)`` returns an :class:`AnalysisResult` carrying every
table as a tidy DataFrame, the tested findings and the methods statements;
``result.to_dict()`` is strict JSON (no NaN, no numpy scalars) and
``AnalysisResult.from_dict`` reads it back, so the store can keep it for the report.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fmreview import __version__
from fmreview.errors import unknown_name
from fmreview.progress import NullReporter, Reporter

from .cooccurrence import cooccurrence_tables
from .counts import counts as count_table
from .counts import coverage, overall, totals
from .datasets import DATASET_AXIS, dataset_tables
from .findings import Finding, findings
from .frame import AnalysisFrame, prepare
from .growth import MODEL_RULE
from .settings import AnalysisSettings, coerce_settings
from .tidy import clean, records
from .trends import growth_table, period_tests, segmented_freq, segmented_table, trend_table

MULTIPLE_TESTING = (
    "Benjamini-Hochberg false discovery rate adjustment across the values of each axis "
    "(column p_bh), separately for each test family; raw p-values are kept in p_value."
)


@dataclass
class AnalysisResult:
    """Every table (tidy DataFrames), the findings and the run's metadata."""

    meta: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    findings: list[dict[str, Any]] = field(default_factory=list)

    def table(self, name: str) -> pd.DataFrame:
        """One table by name (``NotFoundError`` lists the names)."""
        if name not in self.tables:
            raise unknown_name("analysis table", name, list(self.tables))
        return self.tables[name]

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON dict: ``{"meta", "findings", "tables": {name: [row, ...]}}``."""
        return {
            "meta": clean(self.meta),
            "findings": clean(self.findings),
            "tables": {name: records(df) for name, df in self.tables.items()},
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """:meth:`to_dict` as a JSON string (``allow_nan=False``: a NaN would fail loudly)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisResult:
        """Rebuild a result from :meth:`to_dict` output (e.g. read back from the store)."""
        tables = {name: pd.DataFrame(rows) for name, rows in data.get("tables", {}).items()}
        return cls(
            meta=dict(data.get("meta", {})), tables=tables, findings=list(data.get("findings", []))
        )

    @classmethod
    def from_json(cls, text: str) -> AnalysisResult:
        return cls.from_dict(json.loads(text))


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The parts one under the other; an empty part or an all-NA column takes no part in the
    result's dtypes (pandas' old behaviour, stated here: relying on it is deprecated and
    printed a FutureWarning on every ``fmreview run``)."""
    columns = list(dict.fromkeys(c for p in parts for c in p.columns))
    kept = [p.dropna(axis=1, how="all") for p in parts if not p.empty]
    if not kept:
        return pd.DataFrame(columns=columns)
    return pd.concat(kept, ignore_index=True).reindex(columns=columns)


def _library_versions() -> dict[str, str]:
    import networkx
    import numpy
    import scipy
    import statsmodels

    return {
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
        "networkx": networkx.__version__,
    }


def _methods(frame: AnalysisFrame, seg_freq: str) -> list[str]:
    s = frame.settings
    partial = (
        f"Years from {frame.partial_from} (the year of the data, {s.as_of.isoformat()}, and later) are "
        "partial: they are marked in every table and "
        + (
            "included in trend fits (include_partial)."
            if s.include_partial
            else "left out of all trend fits and tests."
        )
    )
    split = ", ".join(d.isoformat() for d in s.split_dates) or "none"
    return [
        "Counts are of distinct works; on multi-valued axes a work counts for each of its values "
        "(per-work view, shares may add up to more than 1) and, in n_fractional/share_of_labels, "
        "with weight 1/k over its k values (per-label view, shares add up to 1).",
        partial,
        f"Growth: Poisson and negative-binomial (NB2) models of yearly counts on year; model choice: {MODEL_RULE}. "
        "The yearly rate ratio is exp(slope) with a Wald confidence interval; rel_* columns repeat the fit "
        "with log(all works) as offset (growth of the share).",
        f"Segmented models around each event at {seg_freq} resolution: change in level and slope, "
        "likelihood-ratio test of both (2 df); exact conditional rate test when the level is not estimable.",
        "Mann-Kendall test with tie correction and continuity correction on yearly counts; Sen's slope "
        "(Theil-Sen) with its confidence interval. Cochran-Armitage test for a linear trend in the share of "
        "works labelled on the axis that carry each value.",
        f"Axis x period tests (periods split at {split}): per value, a 2 x k table of works with/without the "
        "value by period, Pearson chi-square without continuity correction, or Fisher's exact test when an "
        "expected count is below 5; adjusted standardised residuals per cell (|r| > 1.96 departs at 5%).",
        MULTIPLE_TESTING,
        f"Cells with fewer than {s.min_cell} works are flagged small (column small) and are not interpreted.",
        f"Significance level alpha = {s.alpha}.",
    ]


def analyze(
    works: pd.DataFrame,
    labels: pd.DataFrame,
    settings: AnalysisSettings | dict[str, Any] | Any = None,
    *,
    reporter: Reporter | None = None,
) -> AnalysisResult:
    """Run every analysis of issue 7 on the included works and their labels.

    Parameters
    ----------
    works, labels : DataFrame
        See :mod:`fmreview.analysis.frame` for the input contract.
    settings : AnalysisSettings, mapping or pydantic model, optional
        See :class:`~fmreview.analysis.settings.AnalysisSettings`.
    reporter : Reporter, optional
        Progress reporting (one step per analysis).
    """
    s = coerce_settings(settings)
    rep = reporter or NullReporter()
    frame = prepare(works, labels, s)
    tables: dict[str, pd.DataFrame] = {}
    notes = list(frame.notes)
    steps = [
        "counts",
        "growth",
        "segmented",
        "trend tests",
        "period tests",
        "co-occurrence",
        "datasets",
        "findings",
    ]
    with rep.task("analysis", total=len(steps)) as task:
        for freq in ("year", "quarter", "month"):
            tables[f"totals_{freq}"] = totals(frame, freq)
            c = count_table(frame, freq)
            if freq == "month":
                c = c[c["n_works"] > 0].reset_index(drop=True)
            tables[f"counts_{freq}"] = c
        tables["overall"] = overall(frame)
        tables["coverage"] = coverage(frame)
        task.advance()
        tables["growth"] = growth_table(frame)
        task.advance()
        seg_freq = segmented_freq(frame)
        seg = [segmented_table(frame, ev) for ev in s.events]
        tables["segmented"] = _concat(seg)
        if not s.events:
            notes.append("no events in the settings: segmented models skipped")
        task.advance()
        tables["trends"] = trend_table(frame)
        task.advance()
        pt, pc, pnote = period_tests(frame)
        tables["period_tests"], tables["period_cells"] = pt, pc
        if pnote:
            notes.append(pnote)
        task.advance()
        co, conotes = cooccurrence_tables(frame)
        tables["cooccurrence"] = co
        notes += conotes
        task.advance()
        modularity = None
        if DATASET_AXIS in frame.axes:
            dt_ = dataset_tables(frame)
            tables.update(dt_.named())
            modularity = dt_.modularity
            notes += dt_.notes
        else:
            notes.append(f"no labels on axis {DATASET_AXIS!r}: dataset utilization skipped")
        task.advance()
        found: list[Finding] = findings(frame)
        tables["findings"] = pd.DataFrame(
            [{k: v for k, v in f.to_dict().items() if k not in ("detail", "values")} for f in found]
        )
        task.advance()
    meta = {
        "fmreview_version": __version__,
        "library_versions": _library_versions(),
        "settings": s.describe(),
        "n_works": len(frame.works),
        "n_dated_works": len(frame.dated),
        "n_label_rows": len(frame.labels),
        "axes": frame.axes,
        "years": frame.all_years,
        "fit_years": frame.fit_years,
        "partial_years": frame.partial_years,
        "partial_years_excluded_from_fits": not s.include_partial,
        "segmented_freq": seg_freq,
        "month_share": frame.month_share(),
        "dataset_network_modularity": modularity,
        "model_rule": MODEL_RULE,
        "multiple_testing": MULTIPLE_TESTING,
        "methods": _methods(frame, seg_freq),
        "notes": notes,
    }
    return AnalysisResult(meta=meta, tables=tables, findings=[f.to_dict() for f in found])


# --------------------------------------------------------------------------- text
def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and pd.isna(x)):
        return "-"
    if isinstance(x, float):
        if x != 0 and (abs(x) < 10 ** (-digits) or abs(x) >= 1e5):
            return f"{x:.2e}"
        return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:.{digits + 1}g}"
    return str(x)


def _rich_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Any:
    """A ``rich`` table: ``title``, one column per name, then the rows."""
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    return table


def _finding_cells(f: dict[str, Any]) -> tuple[Any, ...]:
    """A finding as the cells of the findings table (status coloured by verdict)."""
    from rich.text import Text

    est = f.get("estimate")
    ci = (
        f" [{_fmt(f.get('ci_low'))}, {_fmt(f.get('ci_high'))}]"
        if f.get("ci_low") is not None
        else ""
    )
    est_txt = f"{f.get('estimate_name') or ''} {_fmt(est)}{ci}".strip() if est is not None else "-"
    style = {"supported": "green", "not supported": "red"}.get(str(f.get("status")), "yellow")
    return (
        str(f.get("statement")),
        Text(str(f.get("status")), style=style),
        str(f.get("test") or f.get("reason") or "-"),
        est_txt,
        _fmt(f.get("p_value")),
    )


def format_rich(result: AnalysisResult, *, top: int = 12) -> Any:
    """A compact human summary as a ``rich`` renderable (findings first, then key tables)."""
    from rich.console import Group
    from rich.text import Text

    m = result.meta
    parts: list[Any] = []
    partial = m.get("partial_years") or []
    head = (
        f"{m.get('n_works')} works ({m.get('n_dated_works')} dated), years "
        f"{(m.get('years') or ['-'])[0]}-{(m.get('years') or ['-'])[-1]}; trend fits on "
        f"{(m.get('fit_years') or ['-'])[0]}-{(m.get('fit_years') or ['-'])[-1]}"
    )
    if partial:
        head += (
            f"; partial {'year' if len(partial) == 1 else 'years'} {', '.join(map(str, partial))} "
            + (
                "excluded from fits"
                if m.get("partial_years_excluded_from_fits")
                else "included in fits"
            )
        )
    parts.append(Text(head, style="bold"))
    for note in m.get("notes") or []:
        parts.append(Text(f"note: {note}", style="dim"))

    parts.append(
        _rich_table(
            "Findings (each with the test that supports it or not)",
            ("statement", "status", "test", "estimate [CI]", "p"),
            [_finding_cells(f) for f in result.findings],
        )
    )

    g = result.tables.get("growth")
    if g is not None and len(g):
        ok = g[(g["status"] == "ok") & (~g["small"].astype(bool))].copy()
        ok = ok.sort_values("rate_ratio", ascending=False).head(top)
        parts.append(
            _rich_table(
                f"Fastest-growing values (yearly rate ratio; top {top}, small cells hidden)",
                ("axis", "value", "works", "model", "RR [CI]", "p", "p_bh", "RR vs field"),
                [
                    (
                        str(r["axis"]),
                        str(r["value"]),
                        str(r["total"]),
                        str(r["model"]),
                        f"{_fmt(r['rate_ratio'])} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
                        _fmt(r["p_value"]),
                        _fmt(r.get("p_bh")),
                        _fmt(r.get("rel_rate_ratio")),
                    )
                    for r in ok.to_dict("records")
                ],
            )
        )

    pt = result.tables.get("period_tests")
    if pt is not None and len(pt):
        sig = pt[pd.to_numeric(pt["p_bh"], errors="coerce") < m["settings"]["alpha"]].head(top)
        if len(sig):
            parts.append(
                _rich_table(
                    "Axis x period: values whose share differs between periods (BH)",
                    ("axis", "value", "test", "p", "p_bh"),
                    [
                        (
                            str(r["axis"]),
                            str(r["value"]),
                            str(r["test"]),
                            _fmt(r["p_value"]),
                            _fmt(r["p_bh"]),
                        )
                        for r in sig.to_dict("records")
                    ],
                )
            )

    du = result.tables.get("dataset_usage")
    if du is not None and len(du):
        parts.append(
            _rich_table(
                f"Most used datasets (top {top})",
                ("dataset", "works", "share", "public"),
                [
                    (
                        str(r["dataset"]),
                        str(r["n_works"]),
                        _fmt(r["share_of_works"]),
                        _fmt(r.get("public")),
                    )
                    for r in du.head(top).to_dict("records")
                ],
            )
        )
    parts.append(Text(str(m.get("multiple_testing", "")), style="dim"))
    return Group(*parts)


def format_text(result: AnalysisResult, *, top: int = 12, width: int = 120) -> str:
    """:func:`format_rich` rendered to plain text (no colour codes)."""
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False).print(
        format_rich(result, top=top)
    )
    return buf.getvalue()
