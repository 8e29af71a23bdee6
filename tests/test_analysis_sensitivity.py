"""Leave-one-source-out refits of the findings, and the challenge -> solution map."""

from __future__ import annotations

import pandas as pd
import pytest

from fmreview.analysis import challenge_map, flips, leave_one_source_out

FINDING = {
    "id": "ct_rising",
    "statement": "CT studies are rising",
    "kind": "growth",
    "axis": "modality",
    "values": ["CT"],
    "start": 2018,
}
SETTINGS = {"as_of": "2026-03-15", "findings": [FINDING], "start_year": 2018, "end_year": 2025}


def field() -> tuple[pd.DataFrame, pd.DataFrame, dict[int, set[str]]]:
    """List "boom" holds a steep rise of CT works (its own focus); list "flat" holds a
    constant 4 CT works a year; 2 works a year are in both lists."""
    works, labels, sources = [], [], {}
    wid = 0
    for year in range(2018, 2026):
        per_list = {"boom": 2 ** (year - 2018) if year > 2019 else 0, "flat": 4, "both": 2}
        for src, n in per_list.items():
            for _ in range(n):
                wid += 1
                works.append({"work_id": wid, "year": year})
                labels.append({"work_id": wid, "axis": "modality", "value": "CT"})
                sources[wid] = {"boom", "flat"} if src == "both" else {src}
    return pd.DataFrame(works), pd.DataFrame(labels), sources


def test_a_finding_that_rests_on_one_list_flips() -> None:
    works, labels, sources = field()
    tab = leave_one_source_out(works, labels, SETTINGS, sources)
    base = tab[tab["left_out"] == "(all sources)"]
    assert list(base["status"]) == ["supported"]
    by = tab.set_index("left_out")
    # without "boom" only the flat list and the shared works remain: no growth
    assert by.loc["boom", "status"] == "not supported" and bool(by.loc["boom", "flipped"])
    assert by.loc["boom", "n_works_left_out"] == sum(1 for v in sources.values() if v == {"boom"})
    # without "flat" the boom remains: the verdict holds
    assert by.loc["flat", "status"] == "supported" and not bool(by.loc["flat", "flipped"])
    # shared works are never left out
    assert by.loc["boom", "n_works"] == len(works) - by.loc["boom", "n_works_left_out"]
    assert flips(tab) == {"ct_rising": ["boom"]}


def test_robust_finding_and_single_source() -> None:
    works, labels, sources = field()
    even = {w: {"a"} if w % 2 else {"b"} for w in sources}  # two lists sampling the same field
    tab = leave_one_source_out(works, labels, SETTINGS, even)
    assert set(tab["left_out"]) == {"(all sources)", "a", "b"}
    assert flips(tab) == {"ct_rising": []}
    one = leave_one_source_out(works, labels, SETTINGS, {w: {"a"} for w in sources})
    assert one.empty and list(one.columns)[:2] == ["left_out", "n_works_left_out"]
    assert flips(one) == {}


def test_challenge_map_cells_and_works() -> None:
    labels = pd.DataFrame(
        [
            (1, "themes", "prompting"),
            (1, "themes", "robustness"),
            (1, "task", "segmentation"),
            (2, "themes", "prompting"),
            (2, "task", "segmentation"),
            (2, "modality", "CT"),
            (3, "themes", "robustness"),
            (3, "themes", "prompting"),
            (3, "task", "classification"),
            (4, "task", "segmentation"),  # no theme: in no cell
        ],
        columns=["work_id", "axis", "value"],
    )
    cm = challenge_map(labels)
    cells = {
        (r.col_axis, r.row_value, r.col_value): (r.n_works, r.work_ids) for r in cm.itertuples()
    }
    assert cells == {
        ("modality", "prompting", "CT"): (1, [2]),
        ("task", "prompting", "segmentation"): (2, [1, 2]),
        ("task", "prompting", "classification"): (1, [3]),
        ("task", "robustness", "segmentation"): (1, [1]),
        ("task", "robustness", "classification"): (1, [3]),
        ("themes", "prompting", "robustness"): (2, [1, 3]),  # once, not twice; no diagonal
    }
    # largest cell first within each column axis
    task = cm[cm["col_axis"] == "task"]
    assert list(task["n_works"])[0] == 2


@pytest.mark.parametrize("df", [pd.DataFrame(columns=["work_id", "axis", "value"]), None])
def test_challenge_map_empty(df: pd.DataFrame | None) -> None:
    assert challenge_map(df).empty  # type: ignore[arg-type]
