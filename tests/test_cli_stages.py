"""The stage commands call the same stage functions as ``fmreview run`` and ``update``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fmreview import stages
from fmreview.cli import main
from fmreview.pipeline import STAGES, run_review
from fmreview.store import Store

RIS = "".join(
    f"TY  - JOUR\nTI  - A foundation model for medical image segmentation {i}\nPY  - 2024\n"
    f"DO  - 10.1234/seg.{i}\nAU  - Doe, Jane\nER  - \n\n"
    for i in range(3)
)


def _review(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    review, src = tmp_path / "r", tmp_path / "a.ris"
    src.write_text(RIS, encoding="utf-8")
    assert main(["init", str(review)]) == 0
    assert main(["import", str(src), "--dir", str(review), "--quiet"]) == 0
    assert main(["dedupe", "--dir", str(review), "--quiet"]) == 0
    capsys.readouterr()
    return review


def test_the_pipeline_lists_the_stage_functions_themselves() -> None:
    assert [s.fn for s in STAGES] == [
        stages.dedupe,
        stages.screen_rules,
        stages.extract,
        stages.analyze,
        stages.report,
    ]


def test_screen_rules_records_the_eligibility_run_the_methods_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fmreview.report.methods import methods_text

    review = _review(tmp_path, capsys)
    assert main(["screen", "rules", "--dir", str(review), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    # the flagship protocol screens in rules mode: every stage's rules, the rest included
    assert counts["mode"] == "rules" and counts["included_by_rules"] == 3
    store = Store.open(review)
    (run,) = store.runs("eligibility")
    assert run["params"]["mode"] == "rules" and run["counts"]["included_by_rules"] == 3
    assert store.runs("screen-rules") == []
    text = methods_text(store)
    assert "Eligibility rules (explainable automation tool) were applied" in text
    assert "Automated eligibility screening: not performed" not in text


def test_dedupe_and_extract_commands_record_one_run_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    review = _review(tmp_path, capsys)
    assert main(["extract", "--dir", str(review), "--quiet", "--method", "rule"]) == 0
    store = Store.open(review)
    assert [r["command"] for r in store.runs() if r["command"] in ("dedupe", "extract")] == [
        "dedupe",
        "extract",
    ]
    assert store.runs("extract")[0]["params"] == {"methods": ["rule"]}


def test_run_refuses_a_folder_whose_parent_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nonexistent" / "a" / "b"
    assert main(["run", str(target), "--quiet"]) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "does not exist" in err and "mkdir -p" in err
    assert not (tmp_path / "nonexistent").exists()
    with pytest.raises(Exception, match="does not exist"):
        run_review(target)
    assert main(["init", str(target)]) != 0
    assert not (tmp_path / "nonexistent").exists()


def test_a_folder_that_is_not_a_review_points_at_the_one_inside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.create(tmp_path / "fm-review").close()
    monkeypatch.chdir(tmp_path)
    assert main(["analyze"]) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "is not a review folder" in err and "point at it with --dir fm-review" in err
    assert main(["runs", "--dir", "elsewhere"]) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "elsewhere does not exist" in err and "--dir DIR" in err


def test_verbose_logs_what_each_stage_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    review = _review(tmp_path, capsys)
    try:
        assert main(["--verbose", "screen", "rules", "--dir", str(review)]) == 0
        err = " ".join(capsys.readouterr().err.split())
        assert "stage eligibility: start" in err and "stage eligibility: done" in err
    finally:
        logging.getLogger("fmreview").setLevel(logging.WARNING)
    assert main(["screen", "rules", "--dir", str(review)]) == 0
    assert "stage eligibility" not in capsys.readouterr().err  # quiet without --verbose
