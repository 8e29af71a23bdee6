"""The bundled snapshot and `fmreview run` (whatever stages exist)."""

from __future__ import annotations

import csv
from pathlib import Path

import sqlalchemy as sa

from fmreview.cli import main
from fmreview.pipeline import run_review
from fmreview.snapshot import SOURCE, read_snapshot, snapshot_path
from fmreview.store import Store, schema


def test_snapshot_rows_become_records_with_list_labels() -> None:
    with snapshot_path().open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    recs = list(read_snapshot())
    assert len(recs) == len(rows) > 700
    with_arxiv = [r for r, row in zip(recs, rows, strict=True) if row["arxiv_id"]]
    assert with_arxiv and all(r.arxiv and "v" not in r.arxiv for r in with_arxiv)
    first = recs[0]
    assert first.title == rows[0]["title"]
    assert first.extra["fm_type"] == rows[0]["fm_type"]
    assert first.source_labels and all("@" not in s for s in first.source_labels)


def test_cli_run_builds_a_review_says_where_and_is_idempotent(
    tmp_path: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # one test for both (the bundled review takes ~40 s to build; the suite has 5 min)
    monkeypatch.chdir(tmp_path)  # a relative folder: the output must not hang on tmp's path
    assert main(["run", "fm", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    packed = "".join(out.split())  # rich folds a long path anywhere, even inside a name
    assert "review.db" in packed and "report:" in packed
    report = (tmp_path / "fm" / "report" / "index.html").resolve()
    # rich may break the line anywhere in a long path: compare without any white space
    assert "".join(f"Open {report} in a browser".split()) in "".join(out.split())

    folder = tmp_path / "fm"
    store = Store.open(folder)
    with store.connect() as conn:
        added = conn.execute(sa.select(sa.func.count()).select_from(schema.records)).scalar_one()
    store.close()
    assert added == len(list(read_snapshot()))
    again = run_review(folder)
    assert not again.created and again.imported["added"] == 0
    store = Store.open(folder)
    with store.connect() as conn:
        sources = set(conn.execute(sa.select(schema.records.c.source).distinct()).scalars())
        kinds = set(conn.execute(sa.select(schema.records.c.source_kind).distinct()).scalars())
        n_works = conn.execute(sa.select(sa.func.count()).select_from(schema.works)).scalar_one()
    assert sources == {SOURCE} and kinds == {"other"}
    assert 0 < n_works <= added
    commands = [r["command"] for r in store.runs()]
    assert commands.count("run") == 2 and "import-snapshot" in commands
    assert all(r["status"] == "ok" for r in store.runs())


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["runs", "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code != 0 and err.count("error:") == 1
    assert "not a review folder" in " ".join(err.split()) and "Traceback" not in err


def test_usage_errors_are_messages_not_tracebacks(capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["import", "--bogus"])
    err = capsys.readouterr().err
    assert code == 2
    assert "No such option" in err and "Traceback" not in err
