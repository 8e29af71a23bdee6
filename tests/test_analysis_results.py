"""End to end: analyze() on deterministic synthetic fields, findings, JSON, text summary."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from fmreview.analysis import AnalysisResult, analyze, check_finding, explain, format_text, prepare
from fmreview.analysis.settings import coerce_settings
from fmreview.errors import InputError, NotFoundError

SETTINGS = {
    "events": [{"name": "SAM release", "date": "2023-04-05"}],
    "as_of": "2026-03-15",
    "min_cell": 5,
}


def synthetic_field(trend: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A field generated without randomness, one quarter at a time, 2015-Q1..2026-Q1.

    trend=True: the field grows 30%/year; the vision-language share rises from 15% to 75%
    after 2020; segmentation works jump from 2 to about 25 per quarter from 2023-Q2 (SAM);
    MLLM works appear in 2022 and multiply. trend=False: constant counts and shares with a
    small periodic wobble.
    """
    works, labels = [], []
    wid = 0
    modalities = ["CT", "MRI", "X-ray", "histopathology"]
    datasets = ["MIMIC-CXR", "CheXpert", "BraTS", "TCGA", "LiTS"]
    for year in range(2015, 2027):
        for q in range(1, 5):
            if year == 2026 and q > 1:
                break
            t = (year - 2015) * 4 + (q - 1)
            wobble = (t * 7) % 3 - 1
            if trend:
                n = round(6 * 1.3 ** (t / 4)) + wobble
                p_vl = 0.15 if year <= 2020 else min(0.15 + 0.12 * (year - 2020), 0.75)
                n_seg = 2 + (t % 2) if (year, q) < (2023, 2) else 24 + wobble * 2
                p_mllm = {2022: 0.1, 2023: 0.3, 2024: 0.5, 2025: 0.7, 2026: 0.7}.get(year, 0.0)
            else:
                n = 20 + wobble
                p_vl = 0.4 + 0.05 * wobble
                n_seg = 5 + wobble
                p_mllm = 0.0
            n_vl = round(p_vl * n)
            n_mllm = round(p_mllm * n_vl) if trend else 2 + (t % 2)
            for i in range(n + n_seg):
                wid += 1
                month = 3 * (q - 1) + 1 + (i % 3)
                works.append((wid, year, f"{year}-{month:02d}-{1 + i % 27:02d}", f"work {wid}"))
                labels.append((wid, "modality", modalities[(wid + i) % 4]))
                labels.append((wid, "datasets", datasets[wid % 5]))
                if wid % 3 == 0:
                    labels.append((wid, "datasets", datasets[(wid + 1) % 5]))
                if i >= n:  # the segmentation works
                    labels.append((wid, "task", "segmentation"))
                    labels.append((wid, "fm_type", "vision_only"))
                    labels.append((wid, "architecture", "SAM-family"))
                    continue
                labels.append((wid, "task", "classification" if i % 2 else "report generation"))
                vl = i < n_vl
                labels.append((wid, "fm_type", "vision_language" if vl else "vision_only"))
                labels.append(
                    (wid, "architecture", "MLLM" if i < n_mllm else ("CLIP-style" if vl else "ViT"))
                )
    return (
        pd.DataFrame(works, columns=["work_id", "year", "date", "title"]),
        pd.DataFrame(labels, columns=["work_id", "axis", "value"]),
    )


@pytest.fixture(scope="module")
def trend_result():
    works, labels = synthetic_field(trend=True)
    return works, labels, analyze(works, labels, SETTINGS)


@pytest.fixture(scope="module")
def null_result():
    works, labels = synthetic_field(trend=False)
    return analyze(works, labels, SETTINGS)


def _finding(result: AnalysisResult, fid: str) -> dict:
    return next(f for f in result.findings if f["id"] == fid)


def test_trend_field_findings_are_supported(trend_result):
    _, _, r = trend_result
    for fid in ("vl_rising", "vl_share_rising", "seg_surge_sam", "mllm_rising"):
        f = _finding(r, fid)
        assert f["status"] == "supported", (fid, f)
        assert f["p_value"] < 0.05
        assert f["test"]
    seg = _finding(r, "seg_surge_sam")
    assert seg["detail"]["freq"] == "quarter"  # every work has a month
    assert seg["detail"]["post_from"] == "2023-Q2"
    assert seg["estimate"] > 5  # level jumps ~10x
    assert _finding(r, "mllm_rising")["values"] == ["MLLM"]  # matched case-insensitively
    assert _finding(r, "vl_rising")["period"] == "2021-2025"  # 2026 is partial


def test_null_field_findings_are_not_supported(null_result):
    for fid in ("vl_rising", "vl_share_rising", "seg_surge_sam", "mllm_rising"):
        f = _finding(null_result, fid)
        assert f["status"] == "not supported", (fid, f)
        assert f["supported"] is False


def test_partial_years_are_marked_and_excluded(trend_result):
    _, _, r = trend_result
    assert r.meta["partial_years"] == [2026]
    assert r.meta["fit_years"][-1] == 2025
    assert r.meta["partial_years_excluded_from_fits"] is True
    ty = r.table("totals_year").set_index("period")
    assert bool(ty.loc[2026, "partial"]) and not bool(ty.loc[2025, "partial"])
    c = r.table("counts_year")
    assert c.loc[c.period == 2026, "partial"].all()
    g = r.table("growth")
    assert (g["last_year"] == 2025).all()
    assert any("partial" in m for m in r.meta["methods"])


def test_include_partial_extends_the_fits():
    works, labels = synthetic_field(trend=True)
    r = analyze(works, labels, {**SETTINGS, "include_partial": True})
    assert r.meta["fit_years"][-1] == 2026
    assert r.meta["partial_years_excluded_from_fits"] is False


def test_tables_have_small_flags_and_bh(trend_result):
    _, _, r = trend_result
    for name in (
        "counts_year",
        "growth",
        "trends",
        "period_cells",
        "cooccurrence",
        "dataset_usage",
    ):
        assert "small" in r.table(name).columns, name
    g = r.table("growth").set_index(["axis", "value"])
    vl = g.loc[("fm_type", "vision_language")]
    assert vl["rate_ratio"] > 1 and vl["p_bh"] is not None
    assert vl["p_bh"] >= vl["p_value"]
    seg = r.table("segmented").set_index(["axis", "value"]).loc[("task", "segmentation")]
    assert seg["event"] == "SAM release" and seg["level_ratio"] > 1
    assert r.table("period_tests")["test"].str.len().gt(0).all()
    with pytest.raises(NotFoundError, match="available:"):
        r.table("nope")


def test_result_json_is_strict_and_round_trips(trend_result):
    _, _, r = trend_result
    text = r.to_json()  # allow_nan=False: a NaN anywhere would raise
    data = json.loads(text)
    assert set(data) == {"meta", "findings", "tables"}

    def walk(x):
        if isinstance(x, float):
            assert math.isfinite(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(data)
    back = AnalysisResult.from_json(text)
    assert back.to_dict() == data
    assert data["meta"]["settings"]["events"] == [{"name": "SAM release", "date": "2023-04-05"}]


def test_every_count_cell_is_explainable(trend_result):
    works, labels, r = trend_result
    c = r.table("counts_year")
    sample = c[(c.n_works > 0) & (c.axis.isin(["task", "architecture"]))].head(12)
    for row in sample.itertuples():
        got = explain(works, labels, f"{row.axis}={row.value} {row.period}", SETTINGS)
        assert len(got) == row.n_works
    co = r.table("cooccurrence").iloc[0]
    got = explain(
        works, labels, [f"{co.row_axis}={co.row_value}", f"{co.col_axis}={co.col_value}"], SETTINGS
    )
    assert len(got) == co.n_works


def test_format_text_summarises_findings_and_tests(trend_result):
    _, _, r = trend_result
    text = format_text(r, width=250)
    assert "Vision-language FM studies are rising since 2021" in text
    assert "supported" in text and "Cochran-Armitage" in text
    assert "2026 excluded from fits" in text
    assert "Benjamini-Hochberg" in text
    assert "\x1b[" not in text  # no colour codes


def test_custom_findings_and_untestable_statements():
    works, labels = synthetic_field(trend=True)
    f = prepare(works, labels, coerce_settings(SETTINGS))
    res = check_finding(
        f,
        {
            "id": "x",
            "statement": "Dermoscopy rising",
            "kind": "growth",
            "axis": "modality",
            "values": ["dermoscopy"],
        },
    )
    assert (
        res.status == "not testable" and res.supported is None and "no labels match" in res.reason
    )
    res = check_finding(
        f,
        {
            "id": "y",
            "statement": "s",
            "kind": "surge_after_event",
            "axis": "task",
            "values": ["segmentation"],
            "event": "GPT-4",
        },
    )
    assert res.status == "not testable" and "GPT-4" in res.reason
    res = check_finding(
        f,
        {
            "id": "z",
            "statement": "s",
            "kind": "growth",
            "axis": "task",
            "values": ["segmentation"],
            "start": 2024,
            "end": 2025,
        },
    )
    assert res.status == "not testable" and "fewer than 3" in res.reason
    with pytest.raises(InputError, match="available: growth, share_trend, surge_after_event"):
        check_finding(f, {"id": "k", "kind": "boom", "axis": "task"})
    r = analyze(
        works,
        labels,
        {
            **SETTINGS,
            "findings": [
                {
                    "id": "ct",
                    "statement": "CT rising",
                    "kind": "growth",
                    "axis": "modality",
                    "values": ["CT"],
                }
            ],
        },
    )
    assert [x["id"] for x in r.findings] == ["ct"]
    assert r.findings[0]["status"] == "supported"


def test_analyze_without_events_or_datasets_notes_what_was_skipped():
    works, labels = synthetic_field(trend=False)
    labels = labels[labels.axis != "datasets"]
    r = analyze(works, labels, {"as_of": "2026-03-15"})
    notes = " ".join(r.meta["notes"])
    assert "segmented models skipped" in notes and "dataset utilization skipped" in notes
    assert "axis x period tests skipped" in notes
    assert _finding(r, "seg_surge_sam")["status"] == "not testable"
    json.loads(r.to_json())


def test_public_surface_is_importable():
    import fmreview.analysis as analysis

    for name in analysis.__all__:
        assert hasattr(analysis, name), name
    assert callable(analysis.analyze) and callable(analysis.format_text)


@pytest.mark.parametrize(
    "works,labels",
    [
        (
            pd.DataFrame(columns=["work_id", "year", "date", "title"]),
            pd.DataFrame(columns=["work_id", "axis", "value"]),
        ),
        (
            pd.DataFrame(
                {"work_id": [1, 2], "year": [2024, 2024], "date": [None, None], "title": ["a", "b"]}
            ),
            pd.DataFrame({"work_id": [1], "axis": ["task"], "value": ["vqa"]}),
        ),
    ],
)
def test_analyze_degenerate_inputs_gives_untestable_findings(works, labels):
    r = analyze(works, labels, SETTINGS)
    assert {f["status"] for f in r.findings} == {"not testable"}
    json.loads(r.to_json())
    assert isinstance(format_text(r), str)
