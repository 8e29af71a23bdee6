"""The bundled 1,062-study snapshot end to end: eligibility, consistent labels, the atlas.

One module-scoped review (import, works, eligibility rules of every stage, extraction)
answers the questions a reader of the flagship asks: which open-weight model for CT
segmentation (MedSAM), which for pathology classification (CONCH, UNI), which chest X-ray
report generator.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from fmreview.extract.atlas import find
from fmreview.extract.store_io import current_labels_and_violations, extract_store
from fmreview.screening.eligibility import apply_rules
from fmreview.snapshot import import_snapshot
from fmreview.store import Store, schema
from fmreview.store.works import works_from_records


@pytest.fixture(scope="module")
def review() -> Iterator[Store]:
    store = Store.memory()
    import_snapshot(store)
    with store.run("works") as run:
        works_from_records(store, run.id)
    apply_rules(store, stages=("automation", "title_abstract", "full_text"))
    with store.run("extract") as run:
        extract_store(store, run_id=run.id)
    yield store
    store.close()


def _work(store: Store, title_start: str) -> dict[str, object]:
    with store.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                sa.select(schema.works).where(schema.works.c.title.like(f"{title_start}%"))
            )
        ]
    assert len(rows) == 1, title_start
    return rows[0]


def _models(rows: list[dict[str, object]]) -> list[str]:
    return [str(r["model_name"]) for r in rows]


def test_medsam_for_ct_segmentation_with_open_weights(review: Store) -> None:
    rows = find(review, modality="CT", task="segmentation", open_weights=True)
    medsam = [r for r in rows if r["model_name"] == "MedSAM"]
    assert medsam, _models(rows)
    assert medsam[0]["weights"] is True and medsam[0]["match"] == "generalist modality"
    assert "segmentation" in medsam[0]["task"] and "task" in medsam[0]["evidence"]
    # exact matches come before generalists
    kinds = [r["match"] == "exact" for r in rows]
    assert kinds == sorted(kinds, reverse=True)
    assert find(review, modality="CT", task="segmentation", open_weights=True, strict=True) != rows


def test_conch_and_uni_for_pathology_classification(review: Store) -> None:
    rows = find(review, modality="pathology", task="classification")
    names = _models(rows)
    assert "CONCH" in names and "UNI" in names
    uni = rows[names.index("UNI")]
    # a general-purpose pathology encoder is not a segmentation model
    assert "segmentation" not in uni["task"] and uni["modality"] == ["histopathology"]
    conch = rows[names.index("CONCH")]
    assert conch["fm_type"] == "vision_language"  # "visual-language" in its title


def test_a_chest_xray_report_generator(review: Store) -> None:
    rows = find(review, modality="X-ray", task="report generation", open_weights=True)
    exact = [r for r in rows if r["match"] == "exact"]
    assert exact and all("report_generation" in r["task"] for r in exact)
    assert all(r["fm_type"] == "vision_language" for r in exact)


def test_eligibility_on_the_snapshot(review: Store) -> None:
    from fmreview.status import work_statuses

    st = {k: str(v.status) for k, v in work_statuses(review).items()}
    agent = _work(review, "Hybrid Retrieval-Generation Reinforced Agent")
    assert st[int(agent["id"])].startswith("excluded")  # NeurIPS 2018, pre-FM era
    med3d = _work(review, "Med3d: Transfer learning")
    assert st[int(med3d["id"])] == "included"  # 2019, but transfer of a pretrained model
    emnlp = _work(review, "Automated generation of accurate & fluent medical x-ray reports")
    assert emnlp["year"] == 2021  # the lists say 2018 and 2021; arXiv 2108.12126 settles it
    with review.connect() as conn:
        untitled = [
            int(r.id)
            for r in conn.execute(
                sa.select(schema.works.c.id).where(
                    sa.or_(schema.works.c.title.is_(None), schema.works.c.title == "")
                )
            )
        ]
    assert untitled and all(st[w].startswith("excluded") for w in untitled)


def test_labels_agree_and_nothing_falls_back(review: Store) -> None:
    cur, violations = current_labels_and_violations(review)
    by: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in cur.itertuples():
        by[int(r.work_id)][str(r.axis)].add(str(r.value))
    clip_vo = [
        w
        for w, lab in by.items()
        if lab["architecture"] & {"clip_dual_encoder", "llm_mllm"}
        and lab["fm_type"] == {"vision_only"}
    ]
    sam_itc = [
        w
        for w, lab in by.items()
        if "sam_family" in lab["architecture"]
        and "clip_dual_encoder" not in lab["architecture"]
        and "image_text_contrastive" in lab["training_paradigm"]
    ]
    assert clip_vo == [] and sam_itc == []
    assert violations, "the lists contradict each other somewhere; the check must see it"
    # multi_modality only where a list or a text span says so, never from a classifier
    multi = cur[(cur["axis"] == "modality") & (cur["value"] == "multi_modality")]
    assert set(multi["method"]) <= {"list", "rule"}
    assert (cur[cur["axis"] != "fm_type"]["method"] != "model").all()
    # model evidence is never filler words alone
    from fmreview.extract.extractor import informative

    for ev in cur[cur["method"] == "model"]["evidence"]:
        assert all(informative(str(e["text"])) for e in ev)


def test_violations_and_proposed_datasets_are_tables(review: Store) -> None:
    from fmreview.extract.store_io import proposed_datasets, violations_table

    table = violations_table(review)
    assert list(table.columns) == [
        "work_id",
        "title",
        "constraint",
        "cause",
        "conflict",
        "resolution",
    ]
    assert len(table) > 0 and set(table["constraint"]) <= {
        "VL-ARCH",
        "VL-PARADIGM",
        "VL-TASK",
        "SAM-NOT-ITC",
    }
    proposed = proposed_datasets(review)
    gaz_names = set()
    from fmreview.extract.gazetteer import bundled_gazetteer

    gaz_names = set(bundled_gazetteer().entities)
    assert not set(proposed["dataset"]) & gaz_names
    assert all(str(e).startswith(("title:", "abstract:")) for e in proposed["evidence"])
