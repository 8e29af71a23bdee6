"""Dedupe against the store: works, incremental runs, the review queue, decisions, CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from fmreview.cli.dedupe import diff_texts, register, run_review
from fmreview.dedupe import decide_pair, dedupe_store, pending_pairs
from fmreview.errors import InputError, NotFoundError
from fmreview.record import Author, Record
from fmreview.store import Store, add_records, schema

SAM = dict(
    title="Segment anything in medical images",
    authors=[Author("Ma", "Jun"), Author("He", "Yuting")],
    year=2024,
    venue="Nature Communications",
    volume="15",
    pages="654-660",
)


def add(store: Store, records: list[Record], source: str = "test") -> list[int]:
    with store.run("import", {}) as run:
        counts = add_records(
            store, records, source=source, source_kind="file", run_id=run.id, keep_ids=True
        )
    return counts.record_ids


def dedupe(store: Store) -> dict[str, int]:
    with store.run("dedupe", {}) as run:
        return dedupe_store(store, run_id=run.id)


def membership(store: Store) -> dict[int, int]:
    with store.connect() as conn:
        return {
            int(r): int(w)
            for r, w in conn.execute(
                sa.select(schema.work_records.c.record_id, schema.work_records.c.work_id)
            )
        }


def active_works(store: Store) -> list[dict[str, Any]]:
    with store.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(schema.works).where(schema.works.c.merged_into.is_(None))
            )
        ]


def uncertain_records() -> list[Record]:
    # same title, a year apart, one author in common, one without venue or pages: a person
    # decides (different page ranges in one venue and year would be two works, no question)
    return [
        Record(**SAM),
        Record(title=SAM["title"], authors=[Author("Ma", "Jun"), Author("Wang", "Bo")], year=2023),
    ]


def test_dedupe_store_builds_works_with_links_and_provenance(store: Store) -> None:
    ids = add(
        store,
        [
            Record(**SAM, doi="10.1038/s41467-024-44824-z", abstract="Medical image segmentation."),
            Record(
                **{
                    **SAM,
                    "title": SAM["title"].upper(),
                    "authors": [Author("Ma", "J."), Author("He", "Y.")],
                }
            ),
            Record(
                title=SAM["title"],
                authors=[Author("Ma", "J")],
                year=2023,
                venue="arXiv",
                arxiv="2304.12306",
            ),
            Record(
                title="Editorial",
                authors=[Author("Smith", "A")],
                year=2024,
                venue="Radiology",
                volume="1",
                pages="1",
            ),
        ],
    )
    counts = dedupe(store)
    assert counts["records_new"] == 4 and counts["works_created"] == 2
    assert counts["version_links"] == 1 and counts["duplicate_links"] == 1
    member = membership(store)
    assert member[ids[0]] == member[ids[1]] == member[ids[2]] != member[ids[3]]
    with store.connect() as conn:
        rows = {r.record_id: r for r in conn.execute(sa.select(schema.work_records))}
    assert rows[ids[0]].link == "canonical" and rows[ids[0]].reason["provenance"]["doi"] == ids[0]
    assert rows[ids[1]].link == "duplicate" and "fields" in rows[ids[1]].reason
    assert rows[ids[2]].link == "version-of"
    work = next(w for w in active_works(store) if w["id"] == member[ids[0]])
    assert work["doi"] == "10.1038/s41467-024-44824-z" and work["arxiv"] == "2304.12306"
    assert (
        work["abstract"] == "Medical image segmentation." and work["canonical_record_id"] == ids[0]
    )


def test_rerun_without_new_records_changes_nothing(store: Store) -> None:
    add(store, [Record(**SAM), Record(**{**SAM, "title": SAM["title"] + "."})])
    dedupe(store)
    before = membership(store)
    counts = dedupe(store)
    assert counts["records_new"] == 0 and counts["works_created"] == 0
    assert membership(store) == before


def test_incremental_run_compares_only_new_records(store: Store) -> None:
    first = add(
        store,
        [
            Record(**SAM),
            Record(
                title="Foundation models for chest X-ray",
                authors=[Author("Lee", "K")],
                year=2022,
                venue="Radiology",
            ),
        ],
    )
    dedupe(store)
    before = membership(store)
    new = add(
        store,
        [
            Record(**{**SAM, "title": SAM["title"] + "!"}),
            Record(title="A new MRI study", authors=[Author("New", "N")], year=2025),
        ],
        source="update",
    )
    counts = dedupe(store)
    assert counts["records_new"] == 2
    assert counts["records_joined_existing"] == 1 and counts["works_created"] == 1
    # pairs compared: at most new x (new + existing representatives), never old x old
    assert counts["candidate_pairs"] <= 2 * (2 + 2)
    after = membership(store)
    assert all(after[r] == w for r, w in before.items())
    assert after[new[0]] == after[first[0]]


def test_uncertain_pairs_go_to_the_queue_and_decisions_apply(store: Store) -> None:
    store.protocol.dedupe.upper = 0.99
    store.protocol.dedupe.lower = 0.01
    a, b = add(store, uncertain_records())
    counts = dedupe(store)
    assert counts["uncertain_pairs"] == 1
    pending = pending_pairs(store)
    assert len(pending) == 1 and {pending[0]["a"]["id"], pending[0]["b"]["id"]} == {a, b}
    assert "fields" in pending[0]["reason"]
    # queue is not duplicated by a re-run
    assert dedupe(store)["uncertain_pairs"] == 0
    decide_pair(store, b, a, True, "alice", "same paper, page typo")
    assert pending_pairs(store) == []
    counts = dedupe(store)
    assert counts["works_merged_by_decision"] == 1
    member = membership(store)
    assert member[a] == member[b]
    assert len(active_works(store)) == 1


def test_human_different_decision_respected_on_rerun(store: Store) -> None:
    a, b = add(store, [Record(**SAM), Record(**{**SAM, "title": SAM["title"].upper()})])
    decide_pair(store, a, b, False, "alice")
    dedupe(store)
    member = membership(store)
    assert member[a] != member[b]
    # a later import of a third copy cannot bridge them either
    (c,) = add(store, [Record(**{**SAM, "title": SAM["title"] + "."})], source="update")
    dedupe(store)
    member = membership(store)
    assert member[a] != member[b] and member[c] in (member[a], member[b])


def test_human_decisions_are_append_only(store: Store) -> None:
    a, b = add(store, uncertain_records())
    decide_pair(store, a, b, False, "alice")
    decide_pair(store, a, b, True, "bob", "changed my mind")
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(schema.dedupe_decisions).order_by(schema.dedupe_decisions.c.id)
        ).all()
    assert [(r.same, r.reviewer) for r in rows] == [(False, "alice"), (True, "bob")]
    dedupe(store)
    member = membership(store)
    assert member[a] == member[b]  # the latest decision counts


def test_decide_pair_validates_input(store: Store) -> None:
    (a,) = add(store, [Record(**SAM)])
    with pytest.raises(InputError, match="itself"):
        decide_pair(store, a, a, True, "alice")
    with pytest.raises(NotFoundError, match="No record with id 999"):
        decide_pair(store, a, 999, True, "alice")
    with pytest.raises(InputError, match="reviewer"):
        decide_pair(store, a, a + 1, True, "")


def test_run_review_records_answers_and_resumes(store: Store) -> None:
    store.protocol.dedupe.upper = 0.99
    store.protocol.dedupe.lower = 0.01
    add(store, uncertain_records())
    add(
        store,
        [
            Record(**{**SAM, "title": "Segment anything in CT", "pages": "1-9"}),
            Record(
                title="Segment anything in CT",
                authors=[Author("Ma", "Jun"), Author("Wang", "Bo")],
                year=2023,
            ),
        ],
        source="b",
    )
    dedupe(store)
    total = len(pending_pairs(store))
    assert total >= 2
    from rich.console import Console

    out = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    keys = iter(["x", "k", "q"])
    counts = run_review(store, "alice", read_key=lambda: next(keys), out=out)
    assert counts["skipped"] == 1 and counts["same"] == counts["different"] == 0
    keys = iter(["d", "q"])
    counts = run_review(store, "alice", read_key=lambda: next(keys), out=out)
    assert counts["different"] == 1
    assert len(pending_pairs(store)) == total - 1


def test_diff_texts_highlights_changed_words() -> None:
    a, b = diff_texts("deep learning for CT", "deep learning for MRI")
    assert a.plain.strip() == "deep learning for CT" and b.plain.strip() == "deep learning for MRI"
    assert any(span.style == "bold yellow" for span in b.spans)


def test_cli_review_answers_from_stdin(file_store: Store) -> None:
    folder = file_store.folder
    file_store.protocol.dedupe.lower = 0.5
    (folder / "protocol.yaml").write_text(
        (folder / "protocol.yaml").read_text().replace("lower: 0.75", "lower: 0.5")
    )
    a, b = add(file_store, uncertain_records())
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    assert runner.invoke(app, ["dedupe", "-d", str(folder), "-q"]).exit_code == 0
    result = runner.invoke(app, ["dedupe", "review", "-d", str(folder), "-r", "alice"], input="x s")
    assert result.exit_code == 0, result.output
    assert "unknown key 'x'" in result.output and "same 1" in result.output
    result = runner.invoke(app, ["dedupe", "-d", str(folder), "--json"])
    assert '"works_merged_by_decision": 1' in result.output
    reopened = Store.open(folder)
    assert membership(reopened)[a] == membership(reopened)[b]


def test_cli_dedupe_and_review(file_store: Store, tmp_path: Path) -> None:
    folder = file_store.folder
    add(file_store, [Record(**SAM), Record(**{**SAM, "title": SAM["title"] + "."})])
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    result = runner.invoke(app, ["dedupe", "--dir", str(folder), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    assert '"works_created": 1' in result.output
    result = runner.invoke(
        app, ["dedupe", "review", "--dir", str(folder), "--reviewer", "alice"], input="q"
    )
    assert result.exit_code == 0, result.output
    assert "still pending 0" in result.output
    for args in (["dedupe", "--help"], ["dedupe", "review", "--help"]):
        help_text = runner.invoke(app, args).output
        assert "Example:" in help_text


def test_published_version_arriving_later_becomes_canonical(store: Store) -> None:
    (pre,) = add(
        store,
        [
            Record(
                title=SAM["title"],
                authors=[Author("Ma", "J")],
                year=2023,
                venue="arXiv",
                arxiv="2304.12306",
            )
        ],
    )
    dedupe(store)
    (pub,) = add(
        store, [Record(**SAM, doi="10.1038/s41467-024-44824-z", abstract="Text.")], source="update"
    )
    counts = dedupe(store)
    assert counts["records_joined_existing"] == 1
    with store.connect() as conn:
        rows = {r.record_id: r for r in conn.execute(sa.select(schema.work_records))}
        work = conn.execute(sa.select(schema.works)).one()
    assert rows[pub].link == "canonical" and rows[pre].link == "version-of"
    assert (
        work.canonical_record_id == pub
        and work.doi == "10.1038/s41467-024-44824-z"
        and work.arxiv == "2304.12306"
    )


def test_later_different_decision_splits_an_automatic_merge(store: Store) -> None:
    a, b = add(store, [Record(**SAM), Record(**{**SAM, "title": SAM["title"].upper()})])
    dedupe(store)
    assert membership(store)[a] == membership(store)[b]
    decide_pair(store, a, b, False, "alice", "two different papers after all")
    counts = dedupe(store)
    assert counts["records_split_by_decision"] == 1
    member = membership(store)
    assert member[a] != member[b]
    assert len(active_works(store)) == 2
    # stable: nothing more happens on the next run
    counts = dedupe(store)
    assert counts["records_split_by_decision"] == 0 and membership(store) == member
