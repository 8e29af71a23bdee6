"""Extraction on the store: label rows with evidence, people confirm or correct, history kept."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from fmreview.errors import InputError, NotFoundError
from fmreview.extract.store_io import (
    confirm_label,
    correct_label,
    current_labels,
    extract_store,
    review_queue,
)
from fmreview.record import Record
from fmreview.store import Store, schema
from fmreview.store.records import add_records
from fmreview.store.works import works_from_records

# one work per axis: a title with a rule cue, the value it gives, its evidence, and a correction
AXIS_CASES = {
    "fm_type": (
        "CLIP-based zero-shot reading of chest radiographs",
        "vision_language",
        "CLIP",
        ["vision_only"],
    ),
    "architecture": ("MedSAM for liver tumour delineation", "sam_family", "MedSAM", ["vit"]),
    "training_paradigm": (
        "Masked autoencoders for fundus images",
        "masked_image_modeling",
        "Masked autoencoders",
        ["self_distillation"],
    ),
    "adaptation": ("LoRA tuning of a pathology model", "peft", "LoRA", ["full_fine_tuning"]),
    "modality": ("A foundation model for ultrasound", "ultrasound", "ultrasound", ["ct", "mri"]),
    "anatomy": (
        "Knee cartilage analysis with a vision model",
        "musculoskeletal",
        "Knee",
        ["brain"],
    ),
    "task": (
        "Report generation with an assistant",
        "report_generation",
        "Report generation",
        ["vqa"],
    ),
    "datasets": ("Pretraining on MIMIC-CXR at scale", "MIMIC-CXR", "MIMIC-CXR", ["CheXpert"]),
    "themes": (
        "Federated training of an imaging model",
        "federated_learning",
        "Federated",
        ["fairness"],
    ),
}


def add(
    store: Store, titles: list[str], extras: list[dict[str, Any]] | None = None
) -> dict[str, int]:
    extras = extras or [{} for _ in titles]
    recs = [
        Record(title=t, year=2020 + i % 5, extra=e)
        for i, (t, e) in enumerate(zip(titles, extras, strict=True))
    ]
    with store.run("test-import") as run:
        add_records(store, recs, source="test", source_kind="other", run_id=run.id)
        works_from_records(store, run.id)
    with store.connect() as conn:
        return {
            r.title: int(r.id)
            for r in conn.execute(sa.select(schema.works.c.id, schema.works.c.title))
        }


def extract(store: Store, **kw: Any) -> dict[str, Any]:
    with store.run("extract") as run:
        return extract_store(store, run_id=run.id, **kw)


def labels_of(store: Store, work_id: int, axis: str) -> list[dict[str, Any]]:
    cur = current_labels(store)
    return cur[(cur.work_id == work_id) & (cur.axis == axis)].to_dict("records")


@pytest.fixture
def axis_store(store: Store) -> tuple[Store, dict[str, int]]:
    ids = add(store, [c[0] for c in AXIS_CASES.values()])
    extract(store)
    return store, ids


@pytest.mark.parametrize("axis", list(AXIS_CASES))
def test_each_axis_label_evidence_and_correction(
    axis_store: tuple[Store, dict[str, int]], axis: str
) -> None:
    store, ids = axis_store
    title, value, evidence, correction = AXIS_CASES[axis]
    wid = ids[title]
    # the label, with the span that supports it
    (lab,) = [r for r in labels_of(store, wid, axis) if r["value"] == value]
    assert lab["method"] == "rule" and lab["status"] == "auto"
    spans = [s for s in lab["evidence"] if s["field"] == "title"]
    assert any(s["text"] == evidence for s in spans)
    for s in spans:
        assert title[s["start"] : s["end"]] == s["text"]
    # a person corrects it: a new row, the old one untouched
    new_ids = correct_label(store, wid, axis, correction, "alice")
    now = labels_of(store, wid, axis)
    assert sorted(r["value"] for r in now) == sorted(correction)
    assert {r["method"] for r in now} == {"human"} and {r["status"] for r in now} == {"corrected"}
    assert {r["reviewer"] for r in now} == {"alice"}
    with store.connect() as conn:
        rows = conn.execute(sa.select(schema.labels).where(schema.labels.c.id.in_(new_ids))).all()
        old = conn.execute(
            sa.select(schema.labels).where(schema.labels.c.id == lab["label_id"])
        ).one()
    assert all(r.supersedes is not None for r in rows)
    assert old.value == value and old.status == "auto"
    # the next extraction keeps the person's answer
    extract(store)
    assert sorted(r["value"] for r in labels_of(store, wid, axis)) == sorted(correction)


def test_rerun_is_idempotent(axis_store: tuple[Store, dict[str, int]]) -> None:
    store, _ = axis_store
    with store.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(schema.labels)).scalar()
    counts = extract(store)
    with store.connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(schema.labels)).scalar()
    assert before == after and counts["rows_added"] == {}
    assert counts["works"] == len(AXIS_CASES)
    assert counts["labels"] == counts["human"] + counts["list"] + counts["automatic"]


def test_labels_are_append_only(axis_store: tuple[Store, dict[str, int]]) -> None:
    store, _ = axis_store
    with pytest.raises(sa.exc.DatabaseError), store.begin() as conn:
        conn.execute(sa.update(schema.labels).values(value="changed"))


def test_confirmation_is_a_new_row(axis_store: tuple[Store, dict[str, int]]) -> None:
    store, ids = axis_store
    wid = ids[AXIS_CASES["modality"][0]]
    (lab,) = labels_of(store, wid, "modality")
    new = confirm_label(store, int(lab["label_id"]), "bob", note="checked the PDF")
    (now,) = labels_of(store, wid, "modality")
    assert now["label_id"] == new and now["method"] == "human" and now["status"] == "confirmed"
    assert now["reviewer"] == "bob" and now["value"] == "ultrasound"
    assert any(s["field"] == "title" and s["text"] == "ultrasound" for s in now["evidence"])
    assert not [q for q in review_queue(store, 100) if q["label_id"] == lab["label_id"]]


def test_review_queue_is_least_confident_first(axis_store: tuple[Store, dict[str, int]]) -> None:
    store, ids = axis_store
    q = review_queue(store, 5)
    assert len(q) == 5
    confs = [item["confidence"] for item in q]
    assert confs == sorted(confs)
    assert all(item["title"] for item in q)
    assert review_queue(store, 50, axes=["fm_type"]) and all(
        item["axis"] == "fm_type" for item in review_queue(store, 50, axes=["fm_type"])
    )


def test_correction_errors(axis_store: tuple[Store, dict[str, int]]) -> None:
    store, ids = axis_store
    wid = ids[AXIS_CASES["fm_type"][0]]
    with pytest.raises(InputError, match="takes one value"):
        correct_label(store, wid, "fm_type", ["vision_only", "vision_language"], "a")
    with pytest.raises(Exception, match="Unknown value of axis 'modality' 'MRX'|'MRX'"):
        correct_label(store, wid, "modality", ["MRX"], "a")
    with pytest.raises(InputError, match="reviewer"):
        correct_label(store, wid, "modality", ["ct"], "")
    with pytest.raises(NotFoundError, match="no work with id 9999"):
        correct_label(store, 9999, "modality", ["ct"], "a")
    with pytest.raises(NotFoundError, match="no label with id 9999"):
        confirm_label(store, 9999, "a")
    # dataset corrections resolve aliases through the gazetteer
    correct_label(store, wid, "datasets", ["mimic cxr", "NIH ChestX-ray14"], "a")
    assert sorted(r["value"] for r in labels_of(store, wid, "datasets")) == [
        "ChestX-ray14",
        "MIMIC-CXR",
    ]


def test_multi_axis_confirmation_after_correction_adds(
    axis_store: tuple[Store, dict[str, int]],
) -> None:
    store, ids = axis_store
    wid = ids[AXIS_CASES["anatomy"][0]]
    correct_label(store, wid, "anatomy", ["brain"], "a")
    with store.begin() as conn:  # an automatic label appears later (e.g. from an LLM)
        lid = conn.execute(  # type: ignore[index]
            sa.insert(schema.labels).values(
                work_id=wid,
                axis="anatomy",
                value="chest",
                method="llm",
                confidence=0.8,
                evidence=[],
                status="auto",
                created_at=store.clock(),
            )
        ).inserted_primary_key[0]
    assert [r["value"] for r in labels_of(store, wid, "anatomy")] == ["brain"]
    confirm_label(store, int(lid), "b")
    assert sorted(r["value"] for r in labels_of(store, wid, "anatomy")) == ["brain", "chest"]


def test_list_labels_come_from_record_extra(store: Store) -> None:
    ids = add(
        store,
        ["Some study of things"],
        [{"fm_type": "vision_only", "modality": "CT", "task": "segmentation", "model_name": "X"}],
    )
    extract(store)
    wid = ids["Some study of things"]
    (fm,) = labels_of(store, wid, "fm_type")
    assert fm["method"] == "list" and fm["value"] == "vision_only"
    assert fm["evidence"][0]["field"] == "list.fm_type"
    assert [r["value"] for r in labels_of(store, wid, "modality")] == ["ct"]


def test_human_corrections_retrain_the_classifier(store: Store) -> None:
    """A correction changes the next prediction for a work nobody labelled."""
    vl = [f"zorblat encoder number {i} with captions" for i in range(12)]
    vo = [f"quuxify encoder number {i} with pixels" for i in range(12)]
    fresh = [f"frobnic widget number {i}" for i in range(6)]
    target = "frobnic widget number 99"
    extras = [{"fm_type": "vision_language"}] * 12 + [{"fm_type": "vision_only"}] * 12 + [{}] * 7
    ids = add(store, vl + vo + fresh + [target], extras)
    params = {"min_train": 5, "char": False}

    def predicted() -> tuple[str, str]:
        (r,) = labels_of(store, ids[target], "fm_type")
        return r["value"], r["method"]

    for wanted in ("vision_only", "vision_language"):
        for t in fresh:
            correct_label(store, ids[t], "fm_type", wanted, "alice")
        extract(store, classifier_params=params)
        assert predicted() == (wanted, "model")
    with store.connect() as conn:
        art = conn.execute(
            sa.select(schema.artifacts)
            .where(schema.artifacts.c.kind == "extract-model")
            .order_by(schema.artifacts.c.id)
        ).all()
    assert art[-1].meta["human_labels"] == 6 and art[-1].meta["config"]["min_train"] == 5


def test_unknown_method_is_refused(store: Store) -> None:
    with pytest.raises(InputError, match="unknown extraction method"):
        extract(store, methods=["magic"])


def test_labels_of_merged_works_are_history(axis_store: tuple[Store, dict[str, int]]) -> None:
    store, ids = axis_store
    a, b = ids[AXIS_CASES["fm_type"][0]], ids[AXIS_CASES["task"][0]]
    assert a in set(current_labels(store).work_id)
    with store.begin() as conn:
        conn.execute(sa.update(schema.works).where(schema.works.c.id == a).values(merged_into=b))
    assert a not in set(current_labels(store).work_id)
    assert all(item["work_id"] != a for item in review_queue(store, 100))


def test_current_label_map(axis_store: tuple[Store, dict[str, int]]) -> None:
    from fmreview.extract.store_io import current_label_map

    store, ids = axis_store
    m = current_label_map(store)
    wid = ids[AXIS_CASES["modality"][0]]
    assert m[wid]["modality"] == ["ultrasound"]
    assert set(m) == set(current_labels(store).work_id)


def test_methods_and_work_ids_select_what_runs(store: Store) -> None:
    ids = add(
        store,
        ["CLIP for chest X-rays", "SAM for CT"],
        [{"fm_type": "vision_language"}, {}],
    )
    counts = extract(store, methods=["list"])
    assert counts["rows_added"] == {"list": 1}
    counts = extract(store, methods=["rule"], work_ids=[ids["SAM for CT"]])
    assert counts["works"] == 1 and set(counts["rows_added"]) == {"rule"}
    cur = current_labels(store)
    assert set(cur[cur.work_id == ids["CLIP for chest X-rays"]].method) == {"list"}
    assert set(cur[cur.work_id == ids["SAM for CT"]].method) == {"rule"}


def test_changed_rules_append_a_new_run(store: Store) -> None:
    ids = add(store, ["SAM for CT"])
    extract(store, methods=["rule"])
    wid = ids["SAM for CT"]
    before = labels_of(store, wid, "modality")
    # a new abstract changes the evidence: the next run appends, the current state follows it
    with store.begin() as conn:
        conn.execute(
            sa.update(schema.works)
            .where(schema.works.c.id == wid)
            .values(abstract="Also tested on MRI.")
        )
    counts = extract(store, methods=["rule"])
    assert counts["rows_added"]["rule"] >= 2
    after = labels_of(store, wid, "modality")
    assert [r["value"] for r in before] == ["ct"]
    assert sorted(r["value"] for r in after) == ["ct", "mri"]
    assert len({r["label_id"] for r in after} & {r["label_id"] for r in before}) == 0
