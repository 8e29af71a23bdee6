"""Statements about the shape of the field, each tested, never asserted.

A statement is a mapping::

    {"id": "vl_rising", "statement": "Vision-language FM studies are rising since 2021",
     "kind": "growth", "axis": ["fm_type"], "values": ["vision_language"],
     "pattern": "vision.?language", "start": 2021}

Keys: ``kind`` (below), ``axis`` (an axis or a list tried in order), ``values`` (exact
values, compared case- and punctuation-insensitively) and/or ``pattern`` (a regular
expression searched in the values); all matching values of the first axis that has any
are pooled (a work counts once). ``start``/``end`` bound the years (partial years are
always left out unless the settings include them); ``event`` names an event.

Kinds and their support rules (``alpha`` from the settings):

* ``growth`` — count GLM on year (:func:`~fmreview.analysis.growth.fit_growth`, model
  chosen by its stated rule); supported when the yearly rate ratio > 1 and p < alpha.
* ``share_trend`` — Cochran–Armitage trend in the share of works labelled on the axis that
  carry the value; supported when Z > 0 and p < alpha.
* ``surge_after_event`` — segmented count model around the event
  (:func:`~fmreview.analysis.growth.fit_segmented`); supported when the change in level is
  a rate ratio > 1 with Wald p < alpha; when the level is not estimable (no works on one
  side), the exact conditional test of post vs pre rates with more works after.

Growth and surge findings also carry, in ``detail["relative_to_field"]``, the same model
with ``log(all works)`` as offset (does the value outgrow the field?). It is secondary
evidence and does not change the verdict.

A statement whose series cannot be built (no matching labels, too few years or works) is
``not testable`` with the reason, never supported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fmreview.errors import InputError

from .frame import AnalysisFrame
from .growth import MODEL_RULE, fit_growth, fit_segmented
from .settings import Event
from .trend_tests import cochran_armitage, mann_kendall
from .trends import segment_series

KINDS = ("growth", "share_trend", "surge_after_event")

#: The flagship review's "known shape of the field".
DEFAULT_FINDINGS: tuple[dict[str, Any], ...] = (
    {
        "id": "vl_rising",
        "statement": "Vision-language FM studies are rising since 2021",
        "kind": "growth",
        "axis": ["fm_type"],
        "values": ["vision_language"],
        "pattern": r"vision.?language",
        "start": 2021,
    },
    {
        "id": "vl_share_rising",
        "statement": "The share of vision-language FMs is rising since 2021",
        "kind": "share_trend",
        "axis": ["fm_type"],
        "values": ["vision_language"],
        "pattern": r"vision.?language",
        "start": 2021,
    },
    {
        "id": "seg_surge_sam",
        "statement": "Segmentation FM studies surge after the release of SAM (April 2023)",
        "kind": "surge_after_event",
        "axis": ["task"],
        "values": ["segmentation"],
        "pattern": r"segment",
        "event": "SAM",
    },
    {
        "id": "mllm_rising",
        "statement": "Multimodal LLM studies are rising since 2022",
        "kind": "growth",
        "axis": ["architecture", "task", "fm_type"],
        "values": ["mllm", "llm_based_mllm", "multimodal_llm"],
        "pattern": r"mllm|multimodal.?llm|llm.?based",
        "start": 2022,
        "end": 2025,
    },
)


@dataclass
class Finding:
    """One tested statement."""

    id: str
    statement: str
    kind: str
    status: str  # "supported" | "not supported" | "not testable"
    supported: bool | None
    test: str | None = None
    rule: str | None = None
    axis: str | None = None
    values: list[str] | None = None
    period: str | None = None
    n_works: int | None = None
    estimate_name: str | None = None
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    statistic: float | None = None
    p_value: float | None = None
    detail: dict[str, Any] | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def match_values(frame: AnalysisFrame, spec: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """The first axis of ``spec`` with matching values, and those values."""
    axes = spec.get("axis") or []
    axes = [axes] if isinstance(axes, str) else list(axes)
    wanted = {_norm(v) for v in spec.get("values") or []}
    pattern = spec.get("pattern")
    rx = re.compile(pattern, re.IGNORECASE) if pattern else None
    for axis in axes:
        if axis not in frame.axes:
            continue
        found = [
            v for v in frame.values(axis) if _norm(v) in wanted or (rx is not None and rx.search(v))
        ]
        if found:
            return axis, found
    return None, []


def _years(frame: AnalysisFrame, spec: Mapping[str, Any]) -> list[int]:
    start, end = spec.get("start"), spec.get("end")
    return [
        y
        for y in frame.fit_years
        if (start is None or y >= int(start)) and (end is None or y <= int(end))
    ]


def _find_event(frame: AnalysisFrame, name: str | None) -> Event | None:
    """The named event (exact, then substring, case-insensitive); the first when None."""
    s = frame.settings
    if name is None:
        return s.event()
    exact = s.event(name)
    if exact is not None:
        return exact
    return next((e for e in s.events if name.lower() in e.name.lower()), None)


def _log(totals: np.ndarray) -> np.ndarray:
    """log exposure; -inf for empty periods (dropped by the fits)."""
    with np.errstate(divide="ignore"):
        return np.log(totals)


def _relative_to_field(
    detail: dict[str, Any],
    fit: Callable[[np.ndarray], Any],
    totals: np.ndarray,
    keys: tuple[str, ...],
) -> None:
    """Refit with ``log(all works)`` as offset (does the value outgrow the field?) and keep
    the fit's ``keys`` in ``detail["relative_to_field"]``; nothing when no work is dated in
    the series' periods."""
    if len(totals) and np.any(totals > 0):
        rel = fit(_log(totals))
        detail["relative_to_field"] = {k: getattr(rel, k) for k in keys}


def _not_testable(fields: dict[str, Any], reason: str | None, **more: Any) -> Finding:
    return Finding(**fields, status="not testable", supported=None, reason=reason, **more)


def _tested(fields: dict[str, Any], supported: bool, **more: Any) -> Finding:
    """A finding whose test ran: supported when its rule (``supported``) holds."""
    status = "supported" if supported else "not supported"
    return Finding(**fields, status=status, supported=bool(supported), **more)


def _rate_ratio_test(
    fields: dict[str, Any],
    alpha: float,
    estimate: tuple[float, float | None, float | None, float],
    test: str,
    ratio_name: str,
    detail: dict[str, Any],
    estimate_name: str | None = None,
) -> Finding:
    """Supported when the rate ratio (``estimate``: ratio, CI low, CI high, p) is above 1
    with p < ``alpha``; ``estimate_name`` defaults to ``ratio_name``."""
    ratio, ci_low, ci_high, p_value = estimate
    return _tested(
        fields,
        ratio > 1 and p_value < alpha,
        test=test,
        rule=f"{ratio_name} > 1 and p < {alpha}",
        estimate_name=estimate_name or ratio_name,
        estimate=ratio,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        detail=detail,
    )


@dataclass
class _Series:
    """One statement's yearly series, as every kind's check receives it."""

    frame: AnalysisFrame
    spec: Mapping[str, Any]
    common: dict[str, Any]  # the Finding fields known before the test
    ids: set[int]
    years: list[int]
    y: np.ndarray
    partial_note: str | None


def check_finding(frame: AnalysisFrame, spec: Mapping[str, Any]) -> Finding:
    """Test one statement (see the module docstring for the rules)."""
    s = frame.settings
    kind = str(spec.get("kind", ""))
    if kind not in KINDS:
        raise InputError(
            f"finding {spec.get('id', spec.get('statement'))!r} has kind {kind!r}; available: {', '.join(KINDS)}"
        )
    fid = str(spec.get("id") or _norm(str(spec.get("statement", kind)))[:30])
    base: dict[str, Any] = {"id": fid, "statement": str(spec.get("statement", fid)), "kind": kind}
    axis, values = match_values(frame, spec)
    if axis is None:
        axes = spec.get("axis")
        return _not_testable(
            base,
            f"no labels match {spec.get('values') or spec.get('pattern')!r} on axis {axes!r}",
        )
    ids: set[int] = set().union(*(frame.work_ids(axis, v) for v in values))
    years = _years(frame, spec)
    period = f"{years[0]}-{years[-1]}" if years else None
    common: dict[str, Any] = {**base, "axis": axis, "values": values, "period": period}
    if len(years) < 3:
        return _not_testable(
            common, f"fewer than 3 complete years in the window (have {period or 'none'})"
        )
    y = frame.yearly(ids, years)
    common["n_works"] = int(y.sum())
    partial_note = (
        f"partial years from {frame.partial_from} excluded" if not s.include_partial else None
    )
    series = _Series(frame, spec, common, ids, years, y, partial_note)
    if kind == "growth":
        return _check_growth(series)
    if kind == "share_trend":
        return _check_share(series)
    return _check_surge(series)


def _check_growth(ser: _Series) -> Finding:
    s, years, y = ser.frame.settings, ser.years, ser.y
    fit = fit_growth(y, years, alpha=s.alpha, min_total=s.min_cell)
    mk = mann_kendall(y, years, alpha=s.alpha)
    detail: dict[str, Any] = {
        "counts": dict(zip(map(str, years), map(int, y), strict=True)),
        "model": fit.model,
        "model_rule": MODEL_RULE,
        "pearson_chi2_df": fit.pearson_chi2_df,
        "nb_alpha": fit.nb_alpha,
        "mann_kendall_s": mk.s,
        "mann_kendall_p": mk.p_value,
        "sen_slope": mk.sen_slope,
        "note": ser.partial_note,
    }
    _relative_to_field(
        detail,
        lambda offset: fit_growth(y, years, offset=offset, alpha=s.alpha, min_total=s.min_cell),
        ser.frame.yearly(None, years),
        ("rate_ratio", "ci_low", "ci_high", "p_value", "model"),
    )
    if fit.status != "ok" or fit.p_value is None or fit.rate_ratio is None:
        return _not_testable(ser.common, fit.note, detail=detail)
    test = f"{fit.model} GLM of yearly counts on year (Wald test of the slope)"
    estimate = (fit.rate_ratio, fit.ci_low, fit.ci_high, fit.p_value)
    return _rate_ratio_test(ser.common, s.alpha, estimate, test, "yearly rate ratio", detail)


def _check_share(ser: _Series) -> Finding:
    s, years, y = ser.frame.settings, ser.years, ser.y
    den = ser.frame.yearly(ser.frame.work_ids(ser.common["axis"]), years)
    ca = cochran_armitage(y, den, years)
    shares = {
        str(yr): (float(a / b) if b else None) for yr, a, b in zip(years, y, den, strict=True)
    }
    detail: dict[str, Any] = {
        "shares": shares,
        "labelled": dict(zip(map(str, years), map(int, den), strict=True)),
        "slope_per_year": ca.slope,
        "note": ser.partial_note,
    }
    if ca.p_value is None or ca.z is None:
        return _not_testable(
            ser.common,
            "the share is constant (0 or 1) or too few labelled works",
            detail=detail,
        )
    return _tested(
        ser.common,
        ca.z > 0 and ca.p_value < s.alpha,
        test="Cochran-Armitage trend in proportions",
        rule=f"Z > 0 and p < {s.alpha}",
        estimate_name="change in share per year",
        estimate=ca.slope,
        statistic=ca.z,
        p_value=ca.p_value,
        detail=detail,
    )


def _check_surge(series: _Series) -> Finding:
    frame, common, s = series.frame, series.common, series.frame.settings
    event = _find_event(frame, series.spec.get("event"))
    if event is None:
        names = [e.name for e in s.events] or ["(none)"]
        return _not_testable(
            common,
            f"event {series.spec.get('event')!r} is not in the settings; events: {', '.join(names)}",
        )
    ser = segment_series(frame, series.ids, event)
    keep = [i for i, k in enumerate(ser.keys) if int(k[:4]) in series.years]
    counts, post = ser.counts[keep], ser.post[keep]
    seg = fit_segmented(counts, post, alpha=s.alpha, min_total=s.min_cell)
    common["period"] = f"{ser.keys[keep[0]]}..{ser.keys[keep[-1]]} ({ser.freq})" if keep else None
    common["n_works"] = int(np.sum(counts))
    detail: dict[str, Any] = {
        "event": event.name,
        "event_date": event.date.isoformat(),
        "freq": ser.freq,
        "counts": dict(zip([ser.keys[i] for i in keep], map(int, counts), strict=True)),
        "post_from": next((ser.keys[i] for i in keep if ser.post[i] == 1), None),
        "segmented": seg.to_dict(),
        "model_rule": MODEL_RULE,
        "note": series.partial_note,
        "undated_left_out": ser.dropped_undated,
    }
    _relative_to_field(
        detail,
        lambda offset: fit_segmented(
            counts, post, offset=offset, alpha=s.alpha, min_total=s.min_cell
        ),
        ser.totals[keep],
        ("status", "level_ratio", "level_p_value", "slope_ratio", "joint_p_value", "note"),
    )
    if seg.status == "ok" and seg.level_p_value is not None and seg.level_ratio is not None:
        test = f"segmented {seg.model} model: change in level at the event (Wald)"
        estimate = (seg.level_ratio, seg.level_ci_low, seg.level_ci_high, seg.level_p_value)
        return _rate_ratio_test(
            common, s.alpha, estimate, test, "level rate ratio", detail, "level change (rate ratio)"
        )
    if seg.status == "fallback" and seg.joint_p_value is not None:
        more_after = seg.total_post / max(seg.n_post, 1) > seg.total_pre / max(seg.n_pre, 1)
        return _tested(
            common,
            more_after and seg.joint_p_value < s.alpha,
            test=seg.test,
            rule=f"more works per period after the event and p < {s.alpha}",
            estimate_name="rate ratio post/pre",
            estimate=seg.rate_ratio_post_pre,
            p_value=seg.joint_p_value,
            detail=detail,
            reason=seg.note,
        )
    return _not_testable(common, seg.note, detail=detail)


def findings(frame: AnalysisFrame) -> list[Finding]:
    """Test the settings' statements (the flagship defaults when None)."""
    specs = frame.settings.findings if frame.settings.findings is not None else DEFAULT_FINDINGS
    return [check_finding(frame, spec) for spec in specs]
