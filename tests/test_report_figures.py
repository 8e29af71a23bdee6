"""Report figures (matplotlib) and table helpers, on small hand-made analysis tables."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from fmreview.report import figures as figs
from fmreview.report.tables import analysis_table, fmt_cell, html_rows, pct


def _counts() -> pd.DataFrame:
    rows = []
    for axis, values in {"task": ["segmentation", "classification"], "modality": ["CT"]}.items():
        for v in values:
            for year, n in zip(range(2020, 2026), [1, 2, 4, 8, 12, 3], strict=True):
                rows.append(
                    {
                        "axis": axis,
                        "value": v,
                        "period": year,
                        "n_works": n if v != "CT" else n // 2,
                    }
                )
    return pd.DataFrame(rows)


def test_trend_figure_draws_each_value_and_marks_partial_years(tmp_path: Path) -> None:
    fig = figs.trend_figure(_counts(), "task", partial_years=[2025])
    assert fig is not None
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["classification", "segmentation"]  # most frequent first, ties by name
    solid = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(solid) == 2 and len(dashed) == 2
    assert list(solid[0].get_xdata()) == [
        2020,
        2021,
        2022,
        2023,
        2024,
    ]  # partial year not on the solid line
    assert list(dashed[0].get_xdata()) == [2024, 2025]
    assert ax.get_ylim()[0] == 0
    assert any(t.get_text() == "partial year" for t in ax.texts)
    paths = figs.save_figure(fig, tmp_path, "trend_task")
    svg = paths["svg"].read_text(encoding="utf-8")
    assert "Included studies per year by task" in svg  # text kept as text (svg.fonttype none)
    assert paths["png"].read_bytes()[:4] == b"\x89PNG" and paths["pdf"].read_bytes()[:4] == b"%PDF"


def test_trend_figure_shades_years_the_sources_do_not_cover() -> None:
    """Lists stop in 2024: 2024 and 2025 are drawn dashed over a band, never as a solid fall."""
    fig = figs.trend_figure(_counts(), "task", partial_years=[2025], low_coverage_years=[2024])
    assert fig is not None
    ax = fig.axes[0]
    solid = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert [list(ln.get_xdata()) for ln in solid] == [[2020, 2021, 2022, 2023]] * 2
    assert [list(ln.get_xdata()) for ln in dashed] == [[2023, 2024, 2025]] * 2
    assert [t.get_text() for t in ax.texts] == ["sources incomplete", "partial year"]
    assert len(ax.patches) == 2  # one shaded band each


def test_trend_figure_partial_year_outside_the_data_is_ignored() -> None:
    fig = figs.trend_figure(_counts(), "modality", partial_years=[2031])
    assert fig is not None
    assert not [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--"]
    assert not fig.axes[0].texts


@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame(),
        pd.DataFrame({"axis": ["task"], "value": ["x"], "period": ["2024Q1"], "n_works": [1]}),
    ],
)
def test_trend_figure_none_when_nothing_to_draw(df: pd.DataFrame) -> None:
    assert figs.trend_figure(df, "task") is None
    assert figs.trend_figure(_counts(), "anatomy") is None


def test_dataset_figure_top_n() -> None:
    usage = pd.DataFrame(
        {
            "dataset": [f"D{i}" for i in range(30)],
            "n_works": list(range(30, 0, -1)),
            "public": [i % 2 == 0 for i in range(30)],
        }
    )
    fig = figs.dataset_figure(usage, top=10)
    assert fig is not None
    bars = fig.axes[0].patches
    assert len(bars) == 10
    assert max(b.get_width() for b in bars) == 30
    assert figs.dataset_figure(pd.DataFrame()) is None


def test_cooccurrence_figure() -> None:
    cells = pd.DataFrame(
        [
            {
                "row_axis": "modality",
                "row_value": r,
                "col_axis": "task",
                "col_value": c,
                "n_works": n,
            }
            for (r, c), n in {
                ("CT", "seg"): 5,
                ("CT", "cls"): 1,
                ("MRI", "seg"): 0,
                ("MRI", "cls"): 2,
            }.items()
        ]
    )
    assert figs.cooccurrence_pairs(cells) == [("modality", "task")]
    fig = figs.cooccurrence_figure(cells, "modality", "task")
    assert fig is not None
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["CT", "MRI"]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "5"]  # zero cells stay blank
    assert figs.cooccurrence_figure(cells, "task", "modality") is None


def test_style_does_not_leak_into_global_rcparams(tmp_path: Path) -> None:
    before = matplotlib.rcParams["svg.fonttype"], matplotlib.rcParams["font.size"]
    fig = figs.trend_figure(_counts(), "task")
    figs.save_figure(fig, tmp_path, "x")
    assert figs.png_data_uri(fig).startswith("data:image/png;base64,")
    assert (matplotlib.rcParams["svg.fonttype"], matplotlib.rcParams["font.size"]) == before


def test_alt_text() -> None:
    assert "FM type" not in figs.alt_text("trend", axis="fm_type", values=["vision_only"])
    assert "fm type" in figs.alt_text("trend", axis="fm_type", values=["vision_only"])
    assert "BraTS" in figs.alt_text("datasets", top=["BraTS"])
    assert "modality and task" in figs.alt_text(
        "cooccurrence", row_axis="modality", col_axis="task"
    )


def test_pct() -> None:
    assert [pct(x) for x in (None, 0.0, 0.004, 0.009, 0.01, 0.5, 1.0)] == [
        "–",
        "0%",
        "<1%",
        "<1%",
        "1%",
        "50%",
        "100%",
    ]


def test_table_helpers() -> None:
    assert fmt_cell(None) == "–" and fmt_cell(float("nan")) == "–" and fmt_cell(True) == "yes"
    assert fmt_cell(0.000012) == "1.20e-05" and fmt_cell(1.23456) == "1.23" and fmt_cell(0.0) == "0"
    header, rows = html_rows(pd.DataFrame({"a": [1.5, None], "b": ["x", "y"]}), limit=1)
    assert header == ["a", "b"] and rows == [["1.5", "x"]]
    analysis = {
        "tables": {"growth": [{"axis": "task", "value": "seg", "p_value": 0.01, "extra": 1}]},
        "findings": [{"statement": "s"}],
    }
    assert list(analysis_table(analysis, "growth", ["axis", "p_value", "missing"]).columns) == [
        "axis",
        "p_value",
    ]
    assert list(analysis_table(analysis, "findings")["statement"]) == ["s"]
    assert analysis_table(None, "growth").empty and analysis_table(analysis, "nope").empty


def test_share_columns_are_percentages() -> None:
    from fmreview.report.tables import fmt_share, is_share_column

    df = pd.DataFrame(
        {"value": ["a", "b"], "share_first": [0.00803, 0.5], "n_works": [3, 4], "p": [0.00803, 1.0]}
    )
    header, rows = html_rows(df)
    assert header == ["value", "share_first", "n_works", "p"]
    assert rows[0] == ["a", "<1%", "3", "0.00803"]  # a p-value stays a number
    assert rows[1][1] == "50%"
    assert is_share_column("share_of_works") and is_share_column("public_share")
    assert not is_share_column("shared_by")
    assert fmt_share(0.0004) == "<1%" and fmt_share(None) == "–" and fmt_share(0) == "0%"
    assert fmt_share(0.0803) == pct(0.0803) == "8%"


def test_stat_table_shows_fitted_rows_first(tmp_path: Path) -> None:
    """Unfitted rows (no estimate) sort last even when their p-value is smallest."""
    from fmreview.report.sections import stat_table

    df = pd.DataFrame(
        {
            "value": [f"v{i}" for i in range(30)],
            "level_ratio": [None] * 25 + [1.5, 2.0, 0.7, 1.1, 3.0],
            "joint_p_value": [1e-6] * 25 + [0.4, 0.01, 0.2, 0.9, 0.03],
        }
    )
    t = stat_table(
        df, tmp_path, "seg", "Segmented", "", None, "joint_p_value", fitted="level_ratio"
    )
    assert t is not None
    assert [r[0] for r in t["rows"][:5]] == ["v26", "v29", "v27", "v25", "v28"]
    assert all(r[1] != "–" for r in t["rows"][:5]) and t["rows"][5][1] == "–"
    assert "25 of 30 rows could not be fitted" in t["intro"]
    assert (tmp_path / "seg.csv").exists()
