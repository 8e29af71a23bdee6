"""Tables of fmreview.analysis on a tiny hand-checked field: counts, shares, co-occurrence,
datasets, explain, periods, settings."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pydantic
import pytest

from fmreview.analysis import (
    AnalysisSettings,
    coerce_settings,
    cooccurrence,
    counts,
    coverage,
    dataset_tables,
    explain,
    explain_frame,
    overall,
    parse_query,
    period_tests,
    prepare,
    totals,
)
from fmreview.analysis.trends import assign_periods, period_labels
from fmreview.errors import InputError, NotFoundError

WORKS = pd.DataFrame(
    {
        "work_id": [1, 2, 3, 4, 5, 6],
        "year": [2020, 2020, 2021, 2021, 2022, None],
        "date": ["2020-03-15", "2020-11", None, "2021-02-01", None, None],
        "title": ["A", "B", "C", "D", "E", "F"],
    }
)
LABELS = pd.DataFrame(
    [
        (1, "modality", "CT"),
        (1, "modality", "MRI"),
        (1, "task", "segmentation"),
        (1, "fm_type", "vision_only"),
        (2, "modality", "CT"),
        (2, "task", "classification"),
        (2, "fm_type", "vision_language"),
        (3, "modality", "MRI"),
        (3, "task", "segmentation"),
        (3, "task", "classification"),
        (4, "modality", "X-ray"),
        (4, "fm_type", "vision_language"),
        (5, "task", "segmentation"),
        (6, "modality", "CT"),
        (6, "modality", "CT"),  # duplicate row: counted once
        (99, "modality", "CT"),  # a work not in the works table
    ],
    columns=["work_id", "axis", "value"],
)


@pytest.fixture
def frame():
    return prepare(WORKS, LABELS, AnalysisSettings(as_of=dt.date(2022, 6, 1), min_cell=2))


def _row(df, **kw):
    sel = df
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, kw
    return sel.iloc[0]


# ---------------------------------------------------------------------- frame
def test_prepare_normalises_dates_partial_years_and_notes(frame):
    w = frame.works.set_index("work_id")
    assert w.loc[1, "quarter"] == "2020-Q1" and w.loc[2, "month_key"] == "2020-11"
    assert pd.isna(w.loc[3, "quarter"])  # year only
    assert bool(w.loc[5, "partial"]) and not bool(w.loc[4, "partial"])
    assert frame.all_years == [2020, 2021, 2022]
    assert frame.fit_years == [2020, 2021]  # 2022 is partial (as_of 2022-06-01)
    assert frame.partial_years == [2022]
    assert any("1 work without a year is left out" in n for n in frame.notes)
    assert any("1 label row(s)" in n for n in frame.notes)
    assert len(frame.labels[(frame.labels.work_id == 6)]) == 1


def test_prepare_takes_year_from_date_and_rejects_bad_input():
    f = prepare(
        pd.DataFrame({"work_id": [1], "year": [None], "date": ["2019-07-02"], "title": ["x"]}),
        pd.DataFrame({"work_id": [1], "axis": ["task"], "value": ["vqa"]}),
        AnalysisSettings(as_of=dt.date(2025, 1, 1)),
    )
    assert int(f.works.loc[0, "year"]) == 2019 and f.works.loc[0, "quarter"] == "2019-Q3"
    with pytest.raises(InputError, match="lacks column"):
        prepare(pd.DataFrame({"id": [1]}), LABELS, AnalysisSettings())
    with pytest.raises(InputError, match="appears more than once"):
        prepare(pd.DataFrame({"work_id": [1, 1]}), LABELS, AnalysisSettings())
    with pytest.raises(InputError, match="not an integer"):
        prepare(pd.DataFrame({"work_id": ["x"]}), LABELS, AnalysisSettings())


def test_unknown_axis_and_value_name_the_choices(frame):
    with pytest.raises(
        NotFoundError, match="Unknown axis 'modalty'; available: fm_type, modality, task"
    ):
        frame.check_axis("modalty")
    with pytest.raises(NotFoundError, match="available: CT, MRI, X-ray"):
        frame.check_value("modality", "PET")


# --------------------------------------------------------------------- counts
def test_counts_per_work_and_per_label_views(frame):
    c = counts(frame, "year")
    ct20 = _row(c, axis="modality", value="CT", period=2020)
    assert ct20.n_works == 2
    assert ct20.n_fractional == pytest.approx(1.5)  # work 1 splits 1/2 CT, 1/2 MRI
    assert ct20.period_works == 2 and ct20.period_labelled == 2
    assert ct20.share_of_works == pytest.approx(1.0)
    assert ct20.share_of_labels == pytest.approx(0.75)
    mri20 = _row(c, axis="modality", value="MRI", period=2020)
    assert mri20.share_of_works == pytest.approx(0.5)  # per-work shares add to 1.5
    per_label = c[(c.axis == "modality") & (c.period == 2020)]["share_of_labels"].sum()
    assert per_label == pytest.approx(1.0)
    ct22 = _row(c, axis="modality", value="CT", period=2022)
    assert ct22.n_works == 0 and pd.isna(ct22.share_of_labelled) and bool(ct22.partial)
    assert bool(_row(c, axis="modality", value="X-ray", period=2021).small)  # 1 < min_cell 2
    # every value has a row for every year (zeros included)
    assert len(c[c.axis == "task"]) == 2 * 3


def test_counts_by_quarter_and_month(frame):
    q = counts(frame, "quarter")
    assert sorted(q["period"].unique()) == ["2020-Q1", "2020-Q2", "2020-Q3", "2020-Q4", "2021-Q1"]
    assert _row(q, axis="modality", value="CT", period="2020-Q4").n_works == 1
    assert _row(q, axis="fm_type", value="vision_language", period="2021-Q1").n_works == 1
    m = counts(frame, "month")
    assert _row(m, axis="modality", value="CT", period="2020-03").n_works == 1
    tq = totals(frame, "quarter")
    assert tq["n_works"].sum() == 3  # only works with a month


def test_totals_mark_partial_and_small(frame):
    t = totals(frame, "year")
    assert t.to_dict("list") == {
        "period": [2020, 2021, 2022],
        "n_works": [2, 2, 1],
        "partial": [False, False, True],
        "small": [False, False, True],
    }


def test_overall_and_coverage(frame):
    o = overall(frame)
    ct = _row(o, axis="modality", value="CT")
    assert ct.n_works == 3  # works 1, 2, 6 (undated work 6 counts overall)
    assert ct.share_of_works == pytest.approx(3 / 6)
    assert ct.share_of_labelled == pytest.approx(3 / 5)
    cov = coverage(frame).set_index("axis")
    assert cov.loc["modality", "n_labelled"] == 5 and cov.loc["modality", "n_unlabelled"] == 1
    assert bool(cov.loc["modality", "multivalued"]) and not bool(cov.loc["fm_type", "multivalued"])


# --------------------------------------------------------------- co-occurrence
def test_cooccurrence_counts_and_shares(frame):
    c = cooccurrence(frame, "modality", "task")
    assert _row(c, row_value="CT", col_value="segmentation").n_works == 1
    mri_seg = _row(c, row_value="MRI", col_value="segmentation")
    assert mri_seg.n_works == 2 and mri_seg.row_share == pytest.approx(1.0)
    assert mri_seg.col_share == pytest.approx(1.0)  # work 5 has no modality
    ct_seg = _row(c, row_value="CT", col_value="segmentation")
    assert ct_seg.row_share == pytest.approx(0.5) and ct_seg.col_share == pytest.approx(0.5)
    xr = _row(c, row_value="X-ray", col_value="classification")
    assert xr.n_works == 0 and pd.isna(xr.row_share)  # X-ray work has no task
    assert len(c) == 3 * 2


# ---------------------------------------------------------------------- explain
def test_parse_query_forms():
    q = parse_query("modality=CT task=segmentation 2024-Q2")
    assert q.conditions == (("modality", "CT"), ("task", "segmentation"))
    assert (q.period, q.freq) == ("2024-Q2", "quarter")
    assert parse_query(["modality=X ray", "2024"]).conditions == (("modality", "X ray"),)
    assert parse_query('modality="X ray" 2024-03').freq == "month"
    assert parse_query("all 2023").conditions == ()
    with pytest.raises(InputError, match="neither AXIS=VALUE nor a period"):
        parse_query("2024 segmentation")
    with pytest.raises(InputError, match="empty"):
        parse_query("")
    with pytest.raises(InputError, match="both an axis and a value"):
        parse_query("task=")


def test_explain_lists_the_works_behind_a_cell(frame):
    assert explain_frame(frame, "modality=CT 2020")["work_id"].tolist() == [1, 2]
    assert sorted(explain_frame(frame, "modality=ct")["work_id"]) == [1, 2, 6]  # case-insensitive
    both = explain_frame(frame, "modality=MRI task=segmentation")
    assert both["work_id"].tolist() == [1, 3]
    assert both.loc[0, "modality"] == "CT | MRI"
    assert explain_frame(frame, "modality=CT 2020-Q4")["work_id"].tolist() == [2]
    assert sorted(explain_frame(frame, "all 2021")["work_id"]) == [3, 4]
    with pytest.raises(NotFoundError, match="Unknown value of axis 'task' 'vqa'"):
        explain_frame(frame, "task=vqa")
    with pytest.raises(NotFoundError, match="Unknown axis"):
        explain_frame(frame, "organ=lung")


def test_explain_matches_the_counts_table(frame):
    c = counts(frame, "year")
    for row in c[c.n_works > 0].itertuples():
        got = explain_frame(frame, f"{row.axis}={row.value} {row.period}")
        assert len(got) == row.n_works


def test_explain_from_raw_tables():
    out = explain(WORKS, LABELS, ["task=segmentation"], {"as_of": "2022-06-01"})
    assert out["work_id"].tolist() == [1, 3, 5]


# ---------------------------------------------------------------------- periods
def test_period_assignment_respects_date_precision():
    s = AnalysisSettings(as_of=dt.date(2022, 6, 1), period_split=(dt.date(2021, 1, 15),))
    f = prepare(WORKS, LABELS, s)
    assert period_labels(s.split_dates) == ["before 2021-01-15", "from 2021-01-15"]
    got = {
        r.work_id: (None if pd.isna(r.period) else r.period) for r in assign_periods(f).itertuples()
    }
    assert got == {1: "before 2021-01-15", 2: "before 2021-01-15", 3: None, 4: "from 2021-01-15"}


def _period_field():
    # 40 labelled works before and after: value A 30/40 before, 10/40 after
    works, labels = [], []
    for i in range(80):
        year = 2019 if i < 40 else 2022
        works.append((i, year, f"{year}-06-01", f"w{i}"))
        a = (i < 30) or (40 <= i < 50)
        labels.append((i, "fm_type", "A" if a else "B"))
        if i % 20 == 0:
            labels.append((i, "task", "rare"))
        labels.append((i, "task", "common"))
    return (
        pd.DataFrame(works, columns=["work_id", "year", "date", "title"]),
        pd.DataFrame(labels, columns=["work_id", "axis", "value"]),
    )


def test_period_tests_chi_square_fisher_residuals_and_bh():
    w, lab = _period_field()
    f = prepare(
        w,
        lab,
        coerce_settings({"as_of": "2025-01-01", "events": [{"name": "X", "date": "2021-01-01"}]}),
    )
    tests, cells, note = period_tests(f)
    assert note is None
    a = _row(tests, axis="fm_type", value="A")
    import numpy as np
    from scipy import stats

    table = np.array([[30, 10], [10, 30]])
    assert a.test == "chi-square"
    assert a.p_value == pytest.approx(stats.chi2_contingency(table, correction=False)[1])
    omni = _row(tests, axis="fm_type", value="*")  # single-valued axis: omnibus too
    assert omni.p_value == pytest.approx(a.p_value)
    rare = _row(tests, axis="task", value="rare")  # 2 + 2 of 80: expected < 5
    assert rare.test == "Fisher exact"
    assert rare.p_value == pytest.approx(stats.fisher_exact([[2, 2], [38, 38]]).pvalue)
    assert "*" not in set(tests[tests.axis == "task"]["value"])  # multi-valued: no omnibus
    cell = _row(cells, axis="fm_type", value="A", period="before 2021-01-01")
    assert cell.share == pytest.approx(0.75)
    assert cell.adj_residual == pytest.approx(np.sqrt(20))  # 2 x 2: r^2 = chi2 = 20
    # BH within axis: task values 'common' (not tested, margin empty) and 'rare'
    assert _row(tests, axis="task", value="rare").p_bh == pytest.approx(rare.p_value)


def test_period_tests_skipped_without_events(frame):
    tests, cells, note = period_tests(frame)
    assert tests.empty and "skipped" in note


# --------------------------------------------------------------------- datasets
def _dataset_field():
    works = pd.DataFrame(
        {
            "work_id": [1, 2, 3, 4, 5],
            "year": [2020, 2020, 2021, 2021, 2021],
            "date": None,
            "title": list("abcde"),
        }
    )
    rows = [
        (1, "datasets", "MIMIC CXR", "pretraining"),
        (1, "datasets", "CheXpert", "evaluation"),
        (2, "datasets", "MIMIC-CXR", "pretraining"),
        (3, "datasets", "CheXpert", "evaluation"),
        (3, "datasets", "PrivateSet", None),
        (4, "datasets", "PrivateSet", None),
        (5, "datasets", "BraTS", "evaluation"),
        (5, "datasets", "LiTS", "evaluation"),
        (1, "modality", "X-ray", None),
        (2, "modality", "X-ray", None),
        (5, "modality", "MRI", None),
    ]
    labels = pd.DataFrame(rows, columns=["work_id", "axis", "value", "role"])
    gaz = pd.DataFrame(
        {
            "name": ["MIMIC-CXR", "CheXpert", "BraTS", "LiTS"],
            "aliases": ["MIMIC CXR; MIMIC-CXR-JPG", "", "", None],
            "modality": ["X-ray", "X-ray", "MRI", "CT"],
        }
    )
    return works, labels, gaz


def test_dataset_tables():
    works, labels, gaz = _dataset_field()
    f = prepare(
        works, labels, AnalysisSettings(as_of=dt.date(2024, 1, 1), gazetteer=gaz, min_cell=2)
    )
    t = dataset_tables(f)
    usage = t.usage.set_index("dataset")
    assert usage.loc["CheXpert", "n_works"] == 2 and bool(usage.loc["CheXpert", "public"])
    assert bool(usage.loc["MIMIC CXR", "public"])  # alias
    assert usage.loc["MIMIC CXR", "gazetteer_name"] == "MIMIC-CXR"
    assert not bool(usage.loc["PrivateSet", "public"])
    assert usage.loc["PrivateSet", "share_of_works"] == pytest.approx(2 / 5)
    py = t.per_year.set_index(["dataset", "year"])
    assert py.loc[("PrivateSet", 2021), "n_works"] == 2
    share = t.public_share.set_index("period")
    assert share.loc["2020", "share_public_dataset"] == pytest.approx(1.0)
    assert share.loc["2021", "share_public_dataset"] == pytest.approx(
        2 / 3
    )  # works 3, 5 of 3, 4, 5
    assert share.loc["all", "share_any_dataset"] == pytest.approx(1.0)
    top = t.top_by[(t.top_by.axis == "modality") & (t.top_by.value == "X-ray")]
    assert top["dataset"].tolist()[:1] == ["CheXpert"] or top["n_works"].tolist()[0] == 1
    roles = t.roles.set_index(["dataset", "role"])["n_works"]
    assert roles[("CheXpert", "evaluation")] == 2 and roles[("MIMIC CXR", "pretraining")] == 1
    comm = t.nodes.set_index("dataset")["community"]
    assert comm["BraTS"] == comm["LiTS"]
    assert comm["BraTS"] != comm["CheXpert"]
    assert comm["CheXpert"] == comm["PrivateSet"]
    edges = {(r.source, r.target): r.weight for r in t.edges.itertuples()}
    assert edges[("BraTS", "LiTS")] == 1
    assert t.modularity is not None and t.modularity > 0


def test_dataset_tables_without_gazetteer_or_roles():
    works, labels, _ = _dataset_field()
    f = prepare(works, labels.drop(columns="role"), AnalysisSettings(as_of=dt.date(2024, 1, 1)))
    t = dataset_tables(f)
    assert t.usage["public"].isna().all()
    assert t.public_share["share_public_dataset"].isna().all()
    assert t.roles.empty
    assert any("gazetteer" in n for n in t.notes) and any("roles" in n for n in t.notes)


# --------------------------------------------------------------------- settings
def test_coerce_settings_from_mapping_and_pydantic():
    s = coerce_settings(
        {
            "events": [{"name": "SAM", "date": "2023-04-05"}],
            "as_of": "2025-11-01",
            "min_cell": 3,
            "period_split": "2022",
        }
    )
    assert s.events[0].date == dt.date(2023, 4, 5)
    assert s.split_dates == (dt.date(2022, 1, 1),)
    assert s.describe()["as_of"] == "2025-11-01"

    class Ev(pydantic.BaseModel):
        name: str
        date: dt.date

    class Model(pydantic.BaseModel):
        events: list[Ev] = []
        min_cell: int = 5
        alpha: float = 0.05

    m = coerce_settings(Model(events=[Ev(name="SAM", date=dt.date(2023, 4, 5))], alpha=0.01))
    assert m.alpha == 0.01 and m.event("sam").date == dt.date(2023, 4, 5)
    assert m.split_dates == (dt.date(2023, 4, 5),)


def test_coerce_settings_errors_name_the_way_out():
    with pytest.raises(
        InputError, match="Unknown analysis setting.*'min_cells'.*available:.*min_cell"
    ):
        coerce_settings({"min_cells": 3})
    with pytest.raises(InputError, match="event 'SAM' date '2023-13-40' is not a date"):
        coerce_settings({"events": [{"name": "SAM", "date": "2023-13-40"}]})
    with pytest.raises(InputError, match="needs a 'name' and a 'date'"):
        coerce_settings({"events": [{"date": "2023-01-01"}]})
    with pytest.raises(InputError, match="alpha"):
        coerce_settings({"alpha": 1.5})
    with pytest.raises(InputError, match="segmented_freq"):
        coerce_settings({"segmented_freq": "week"})


def test_coerce_settings_ignore_unknown_and_gazetteer_rows():
    class Row(pydantic.BaseModel):
        name: str
        modality: str

    s = coerce_settings(
        {
            "min_cell": 2,
            "report_title": "x",
            "gazetteer": [Row(name="BraTS", modality="MRI"), {"name": "LiTS", "modality": "CT"}],
        },
        ignore_unknown=True,
    )
    assert s.min_cell == 2
    assert s.gazetteer["name"].tolist() == ["BraTS", "LiTS"]
    assert coerce_settings(s) is s
    assert coerce_settings(s, min_cell=9).min_cell == 9


def test_explain_split_periods_match_period_cells():
    w, lab = _period_field()
    settings = {"as_of": "2025-01-01", "events": [{"name": "X", "date": "2021-01-01"}]}
    f = prepare(w, lab, coerce_settings(settings))
    _, cells, _ = period_tests(f)
    for row in cells[cells.n_works > 0].itertuples():
        got = explain_frame(f, f"{row.axis}={row.value} {row.period}")
        assert len(got) == row.n_works, row
    q = parse_query("task=vqa 2021-01-01 to 2023-04-05")
    assert (q.date_from, q.date_before) == (dt.date(2021, 1, 1), dt.date(2023, 4, 5))
    with pytest.raises(InputError, match="needs a date"):
        parse_query("task=vqa before")
    with pytest.raises(InputError, match="needs a date"):
        parse_query("task=vqa before 2023")
    with pytest.raises(InputError, match="'to' must follow a date"):
        parse_query("task=vqa to 2023-01-01")


def test_explain_split_period_leaves_out_coarse_dates(frame):
    # work 3 is dated only 2021: it is neither before nor from 2021-01-15
    before = explain_frame(frame, "all before 2021-01-15")["work_id"].tolist()
    after = explain_frame(frame, "all from 2021-01-15")["work_id"].tolist()
    assert sorted(before) == [1, 2] and after == [4]  # 2022 is partial: not in the fits
