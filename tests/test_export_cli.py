"""``fmreview export`` before dedupe writes nothing, fails, and says where the records are."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmreview.cli import main

RIS = "".join(
    f"TY  - JOUR\nTI  - Foundation model number {i}\nPY  - 2024\nDO  - 10.1/x{i}\nER  - \n\n"
    for i in range(3)
)


def test_export_before_dedupe_points_to_dedupe_and_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    review, src = tmp_path / "r", tmp_path / "a.ris"
    src.write_text(RIS, encoding="utf-8")
    assert main(["init", str(review)]) == 0
    assert main(["import", str(src), "--dir", str(review), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "w.ris"), "--dir", str(review)]) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "no works to export yet: the 3 imported records become works with" in err
    assert "fmreview dedupe --dir" in err and "--what records" in err
    assert not (tmp_path / "w.ris").exists()  # no 0-byte file left behind
    assert main(["export", str(tmp_path / "r.ris"), "--dir", str(review), "--what", "records"]) == 0
    assert "Wrote 3 records" in capsys.readouterr().out
    assert main(["dedupe", "--dir", str(review), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "w2.ris"), "--dir", str(review)]) == 0
    out = capsys.readouterr().out
    assert "Wrote 3 works" in out and (tmp_path / "w2.ris").stat().st_size > 0


def test_export_of_an_empty_review_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path / "r")]) == 0
    assert main(["export", str(tmp_path / "w.bib"), "--dir", str(tmp_path / "r")]) != 0
    assert "holds no records yet" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "w.bib").exists()
