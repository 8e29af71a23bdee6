"""Per-axis trend tables cross-checked against the single-series functions and statsmodels;
period bookkeeping; dataset network; JSON cleaning; findings details."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from fmreview.analysis import (
    AnalysisResult,
    AnalysisSettings,
    check_finding,
    co_usage_network,
    cochran_armitage,
    cooccurrence_tables,
    fit_growth,
    fit_segmented,
    format_rich,
    growth_table,
    mann_kendall,
    prepare,
    segmented_table,
    trend_table,
)
from fmreview.analysis.cooccurrence import matrix
from fmreview.analysis.frame import period_keys, period_start
from fmreview.analysis.settings import Event, parse_date
from fmreview.analysis.tidy import clean, records
from fmreview.analysis.trends import segment_series, segmented_freq
from fmreview.errors import InputError

AS_OF = dt.date(2025, 3, 1)  # 2025 is partial


def small_field(with_months: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts per year for two task values, fixed by hand (works spread over quarters)."""
    per_year = {
        # year: (segmentation, classification)
        2018: (1, 4),
        2019: (1, 5),
        2020: (2, 5),
        2021: (2, 6),
        2022: (3, 6),
        2023: (12, 6),
        2024: (16, 7),
        2025: (3, 1),  # partial
    }
    works, labels = [], []
    wid = 0
    for year, (n_seg, n_cls) in per_year.items():
        for value, n in (("segmentation", n_seg), ("classification", n_cls)):
            for i in range(n):
                wid += 1
                month = 1 + (i * 5 + wid) % 12
                date = f"{year}-{month:02d}-10" if with_months else None
                works.append((wid, year, date, f"t{wid}"))
                labels.append((wid, "task", value))
                labels.append(
                    (
                        wid,
                        "fm_type",
                        "vision_only" if value == "segmentation" else "vision_language",
                    )
                )
    return (
        pd.DataFrame(works, columns=["work_id", "year", "date", "title"]),
        pd.DataFrame(labels, columns=["work_id", "axis", "value"]),
    )


SEG = np.array([1, 1, 2, 2, 3, 12, 16], dtype=float)
CLS = np.array([4, 5, 5, 6, 6, 6, 7], dtype=float)
YEARS = list(range(2018, 2025))


@pytest.fixture(scope="module")
def frame():
    works, labels = small_field()
    return prepare(works, labels, AnalysisSettings(as_of=AS_OF, min_cell=3))


# ------------------------------------------------------------------- growth table
def test_growth_table_rows_equal_single_series_fits(frame):
    g = growth_table(frame).set_index(["axis", "value"])
    seg = g.loc[("task", "segmentation")]
    ref = fit_growth(SEG, YEARS, min_total=3)
    assert seg["rate_ratio"] == pytest.approx(ref.rate_ratio)
    assert seg["model"] == ref.model
    assert seg["first_year"] == 2018 and seg["last_year"] == 2024
    assert seg["total"] == SEG.sum()
    allw = g.loc[("all", "all works")]
    assert allw["total"] == SEG.sum() + CLS.sum()
    assert allw["p_bh"] is None  # the field row is not part of any axis family


def test_growth_table_relative_fit_is_an_offset_glm(frame):
    g = growth_table(frame).set_index(["axis", "value"])
    cls = g.loc[("task", "classification")]
    if cls["rel_model"] == "poisson":
        ref = sm.GLM(
            CLS,
            sm.add_constant(np.arange(7.0)),
            family=sm.families.Poisson(),
            offset=np.log(SEG + CLS),
        ).fit()
        assert cls["rel_rate_ratio"] == pytest.approx(math.exp(ref.params[1]), rel=1e-6)
    # classification grows slower than the field, so its share falls
    assert cls["rel_rate_ratio"] < 1


def test_growth_table_bh_within_axis(frame):
    from statsmodels.stats.multitest import multipletests

    g = growth_table(frame)
    task = g[g.axis == "task"]
    ref = multipletests(task["p_value"].astype(float), method="fdr_bh")[1]
    assert task["p_bh"].astype(float).tolist() == pytest.approx(list(ref))


# ------------------------------------------------------------------- trend table
def test_trend_table_equals_mann_kendall_and_cochran_armitage(frame):
    t = trend_table(frame).set_index(["axis", "value"])
    row = t.loc[("task", "segmentation")]
    mk = mann_kendall(SEG, YEARS)
    ca = cochran_armitage(SEG, SEG + CLS, YEARS)
    assert row["mk_s"] == mk.s and row["mk_var_s"] == pytest.approx(mk.var_s)
    assert row["sen_slope"] == pytest.approx(mk.sen_slope)
    assert row["ca_z"] == pytest.approx(ca.z)
    assert row["ca_p_value"] == pytest.approx(ca.p_value)
    assert row["years"] == "2018-2024"
    # two complementary values on a single-valued axis: opposite CA statistics
    other = t.loc[("task", "classification")]
    assert other["ca_z"] == pytest.approx(-row["ca_z"])
    assert t.loc[("all", "all works")]["ca_p_value"] is None or pd.isna(
        t.loc[("all", "all works")]["ca_p_value"]
    )


# -------------------------------------------------------------- segmented table
def test_segment_series_quarters_and_post(frame):
    assert segmented_freq(frame) == "quarter"  # every work has a month
    ser = segment_series(
        frame, frame.work_ids("task", "segmentation"), Event("SAM", dt.date(2023, 4, 5))
    )
    assert ser.keys[0] == "2018-Q1" and ser.keys[-1] == "2024-Q4"  # 2025 partial left out
    assert ser.counts.sum() == SEG.sum()
    assert ser.keys[int(np.argmax(ser.post))] == "2023-Q2"
    assert ser.dropped_undated == 0


def test_segment_series_yearly_when_months_are_missing():
    works, labels = small_field(with_months=False)
    f = prepare(works, labels, AnalysisSettings(as_of=AS_OF))
    assert segmented_freq(f) == "year"
    ser = segment_series(f, f.work_ids("task", "segmentation"), Event("SAM", dt.date(2023, 4, 5)))
    assert ser.counts.tolist() == SEG.tolist()
    assert ser.post.tolist() == [0, 0, 0, 0, 0, 1, 1]
    f2 = prepare(works, labels, AnalysisSettings(as_of=AS_OF, segmented_freq="quarter"))
    ser2 = segment_series(
        f2, f2.work_ids("task", "segmentation"), Event("SAM", dt.date(2023, 4, 5))
    )
    assert ser2.counts.sum() == 0 and ser2.dropped_undated == SEG.sum()


def test_segmented_table_rows_equal_single_series_fit():
    works, labels = small_field(with_months=False)
    f = prepare(works, labels, AnalysisSettings(as_of=AS_OF, min_cell=3))
    t = segmented_table(f, Event("SAM", dt.date(2023, 4, 5))).set_index(["axis", "value"])
    row = t.loc[("task", "segmentation")]
    ref = fit_segmented(SEG, [0, 0, 0, 0, 0, 1, 1], min_total=3)
    assert row["status"] == ref.status
    assert row["joint_p_value"] == pytest.approx(ref.joint_p_value)
    assert row["freq"] == "year" and row["first_period"] == "2018" and row["last_period"] == "2024"
    assert row["event"] == "SAM" and row["event_date"] == "2023-04-05"


# ------------------------------------------------------------------- periods
def test_period_keys_and_starts():
    assert period_keys(dt.date(2023, 2, 1), dt.date(2023, 11, 1), "quarter") == [
        "2023-Q1",
        "2023-Q2",
        "2023-Q3",
        "2023-Q4",
    ]
    assert period_keys(dt.date(2023, 11, 1), dt.date(2024, 2, 1), "month") == [
        "2023-11",
        "2023-12",
        "2024-01",
        "2024-02",
    ]
    assert period_start("2024-Q3", "quarter") == dt.date(2024, 7, 1)
    assert period_start("2024-02", "month") == dt.date(2024, 2, 1)
    assert period_start(2024, "year") == dt.date(2024, 1, 1)


def test_partial_periods(frame):
    # as_of 2025-03-01: 2025-Q1 ends 2025-03-31 > as_of -> partial; 2025-02 complete
    assert frame.is_partial_period("2025-Q1", "quarter")
    assert not frame.is_partial_period("2024-Q4", "quarter")
    assert not frame.is_partial_period("2025-02", "month")
    assert frame.is_partial_period("2025-03", "month")
    assert frame.is_partial_period(2025, "year") and not frame.is_partial_period(2024, "year")


def test_parse_date_forms():
    assert parse_date("2023") == dt.date(2023, 1, 1)
    assert parse_date("2023-04") == dt.date(2023, 4, 1)
    assert parse_date("2023-04-05") == dt.date(2023, 4, 5)
    assert parse_date(dt.datetime(2023, 4, 5, 12)) == dt.date(2023, 4, 5)
    with pytest.raises(InputError, match="expected YYYY, YYYY-MM or YYYY-MM-DD"):
        parse_date("April 2023")


# ------------------------------------------------------------ network and tables
def test_co_usage_network_two_cliques():
    rows = []
    for w, ds in enumerate(
        [("A", "B"), ("A", "C"), ("B", "C"), ("X", "Y"), ("X", "Z"), ("Y", "Z"), ("C", "X")]
    ):
        rows += [(w, d) for d in ds]
    lab = pd.DataFrame(rows, columns=["work_id", "dataset"])
    nodes, edges, comms, modularity = co_usage_network(lab)
    comm = nodes.set_index("dataset")["community"]
    assert comm["A"] == comm["B"] == comm["C"]
    assert comm["X"] == comm["Y"] == comm["Z"]
    assert comm["A"] != comm["X"]
    assert comms["size"].tolist() == [3, 3]
    assert modularity == pytest.approx(0.357, abs=1e-3)  # 2 triangles + 1 bridge: 5/14
    strength = nodes.set_index("dataset")["strength"]
    assert strength["C"] == 3 and strength["A"] == 2
    assert len(edges) == 7


def test_co_usage_network_empty_and_isolated():
    nodes, edges, comms, modularity = co_usage_network(pd.DataFrame(columns=["work_id", "dataset"]))
    assert nodes.empty and modularity is None
    nodes, edges, comms, modularity = co_usage_network(
        pd.DataFrame({"work_id": [1, 2], "dataset": ["A", "B"]})
    )
    assert edges.empty and modularity is None and comms["size"].tolist() == [1, 1]


def test_cooccurrence_tables_and_matrix(frame):
    s = AnalysisSettings(as_of=AS_OF, cooccurrence=(("task", "fm_type"), ("modality", "task")))
    works, labels = small_field()
    f = prepare(works, labels, s)
    cells, notes = cooccurrence_tables(f)
    assert notes == ["co-occurrence modality x task skipped: no labels on modality"]
    m = matrix(cells, "task", "fm_type")
    assert m.loc["segmentation", "vision_only"] == SEG.sum() + 3  # plus partial 2025
    assert m.loc["segmentation", "vision_language"] == 0


# ------------------------------------------------------------------ JSON cleaning
def test_clean_strict_json_values():
    out = clean(
        {
            "a": np.float64("nan"),
            "b": np.int64(3),
            "c": [np.inf, 1.5, None],
            "d": dt.date(2024, 1, 2),
            "e": pd.NA,
            "f": {2, 1},
            "g": np.bool_(True),
            "h": np.array([1.0, np.nan]),
        }
    )
    assert out == {
        "a": None,
        "b": 3,
        "c": [None, 1.5, None],
        "d": "2024-01-02",
        "e": None,
        "f": [1, 2],
        "g": True,
        "h": [1.0, None],
    }
    assert type(out["b"]) is int and type(out["g"]) is bool
    df = pd.DataFrame({"x": [1.0, np.nan], "y": pd.array([1, None], dtype="Int64")})
    assert records(df) == [{"x": 1.0, "y": 1}, {"x": None, "y": None}]


def test_result_from_dict_and_rich_summary():
    works, labels = small_field()
    from fmreview.analysis import analyze

    r = analyze(
        works,
        labels,
        {"as_of": AS_OF, "events": [{"name": "SAM", "date": "2023-04-05"}], "min_cell": 3},
    )
    back = AnalysisResult.from_dict(r.to_dict())
    assert list(back.tables) == list(r.tables)
    assert len(back.table("growth")) == len(r.table("growth"))
    from rich.console import Console

    console = Console(record=True, width=200, color_system=None)
    console.print(format_rich(back))
    text = console.export_text()
    assert "Segmentation FM studies surge" in text and "Fastest-growing" in text


# ------------------------------------------------------------------ findings detail
def test_surge_finding_detail_and_relative_fit(frame):
    f = check_finding(
        frame,
        {
            "id": "s",
            "statement": "seg surge",
            "kind": "surge_after_event",
            "axis": "task",
            "pattern": "segment",
            "event": "sam",
        },
    )
    assert f.status == "not testable" and "events: (none)" in f.reason  # no events in settings
    works, labels = small_field()
    fr = prepare(
        works,
        labels,
        AnalysisSettings(
            as_of=AS_OF, min_cell=3, events=(Event("SAM release", dt.date(2023, 4, 5)),)
        ),
    )
    f = check_finding(
        fr,
        {
            "id": "s",
            "statement": "seg surge",
            "kind": "surge_after_event",
            "axis": "task",
            "pattern": "segment",
            "event": "sam",
        },
    )
    assert f.detail["event"] == "SAM release"  # substring, case-insensitive
    assert f.detail["freq"] == "quarter" and sum(f.detail["counts"].values()) == SEG.sum()
    assert f.detail["relative_to_field"]["status"] in {"ok", "fallback", "not_fitted"}
    assert f.status in {"supported", "not supported"}
    assert f.period.startswith("2018-Q1..2024-Q4")


def test_growth_finding_detail_carries_model_rule_and_mann_kendall(frame):
    f = check_finding(
        frame,
        {
            "id": "g",
            "statement": "seg up",
            "kind": "growth",
            "axis": "task",
            "values": ["Segmentation"],
        },
    )
    ref = fit_growth(SEG, YEARS, min_total=3)
    assert f.estimate == pytest.approx(ref.rate_ratio)
    assert f.detail["counts"] == {str(y): int(c) for y, c in zip(YEARS, SEG, strict=True)}
    assert f.detail["mann_kendall_s"] == mann_kendall(SEG).s
    assert "boundary-corrected" in f.detail["model_rule"]
    assert f.detail["relative_to_field"]["rate_ratio"] > 1
    assert f.status == "supported"


def test_share_trend_finding_constant_share_is_not_testable():
    works, labels = small_field()
    labels = labels[labels.axis != "fm_type"].copy()
    extra = labels.assign(axis="fm_type", value="vision_language")  # every work: share 1
    f = prepare(works, pd.concat([labels, extra]), AnalysisSettings(as_of=AS_OF))
    res = check_finding(
        f,
        {
            "id": "v",
            "statement": "vl share",
            "kind": "share_trend",
            "axis": "fm_type",
            "values": ["vision_language"],
        },
    )
    assert res.status == "not testable" and "constant" in res.reason
