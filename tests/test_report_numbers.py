"""One source for the label counts: the run summary, the methods text and the limitations agree."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fmreview.extract.store_io import correct_label, current_labels, extract_store
from fmreview.report.build import report_context
from fmreview.report.methods import methods_sections
from fmreview.report.numbers import evidence_kind, label_numbers
from fmreview.store import Store
from tests.test_report_prisma import AUTO_EX, AUTO_IN, FT_IN, TA_IN, W, make_review, memory_store

INC = AUTO_IN + TA_IN + FT_IN
TITLES_IN = [
    "CLIP-based zero-shot reading of chest radiographs",
    "MedSAM for liver tumour segmentation in CT",
    "LoRA tuning of a pathology foundation model",
    "Report generation from chest X-ray with a multimodal LLM",
]
TITLES_OUT = ["Federated training of an MRI segmentation model", "A CNN for fundus images"]


@pytest.fixture
def review() -> Iterator[Store]:
    store = memory_store()
    make_review(
        store,
        [W(t, decisions=INC) for t in TITLES_IN] + [W(t, decisions=AUTO_EX) for t in TITLES_OUT],
    )
    yield store
    store.close()


def _ints(text: str) -> list[int]:
    return [int(x.replace(",", "")) for x in re.findall(r"\d[\d,]*", text)]


def test_run_methods_and_limitations_agree(review: Store, tmp_path: Path) -> None:
    with review.run("extract") as run:
        summary = extract_store(review, run_id=run.id, methods=["rule"])
    # a person corrects a label: a new row, the rule's row stays stored as history
    cur = current_labels(review)
    # modality takes part in no constraint between axes, so the correction replaces one
    # value by another and nothing else changes
    row = cur[cur["axis"] == "modality"].iloc[0]
    other = "mri" if row["value"] != "mri" else "ct"
    correct_label(review, int(row["work_id"]), "modality", [other], "alice")
    with review.run("extract") as run:
        again = extract_store(review, run_id=run.id, methods=["rule"])
    nums = label_numbers(review)
    cur = current_labels(review)
    assert again["labels"] == nums.labels == len(cur) > 0
    assert summary["labels"] == nums.labels  # one value replaced by another
    assert nums.by_kind.get("human") == 1
    assert nums.rows_stored > nums.labels  # the audit rows are not "labels"
    inc_ids = set(range(1, len(TITLES_IN) + 1))
    assert nums.included_labels == int(cur["work_id"].isin(inc_ids).sum())
    assert 0 < nums.included_labels < nums.labels  # the excluded works are labelled too
    # methods text: the same current-label count, and the stored rows named as such
    (ex,) = [s for s in methods_sections(review) if s.key == "extraction"]
    assert f"{nums.labels:,} labels are current" in ex.text
    assert f"{nums.included_labels:,} of them belong to the {len(TITLES_IN)} included studies" in (
        ex.text
    )
    assert f"{nums.rows_stored:,} stored candidate rows" in ex.text
    # limitations: the included studies' labels, split by kind, add up to the same count
    ctx = report_context(review, tmp_path)
    (lim,) = [t for t in ctx["limitations"] if "labels of the" in t]
    first = _ints(lim)
    assert first[0] == nums.included_labels
    assert f"of {nums.labels:,} labels on all" in lim
    by = nums.included_by_kind
    assert nums.included_automatic + by.get("list", 0) + by.get("human", 0) == (
        nums.included_labels
    )
    assert ctx["label_numbers"].labels == nums.labels
    # the report stage's run summary prints the same two numbers
    from fmreview.report.build import build_report

    res = build_report(review, out_dir=tmp_path / "r")
    assert (res["labels"], res["labels_of_included"]) == (nums.labels, nums.included_labels)
    assert res["labels"] == again["labels"]  # what the extract stage's summary printed


def test_no_labels(review: Store) -> None:
    nums = label_numbers(review)
    assert nums.labels == 0 and nums.included_labels == 0 and nums.included == len(TITLES_IN)
    (ex,) = [s for s in methods_sections(review) if s.key == "extraction"]
    assert ex.performed is False


def test_evidence_kind() -> None:
    assert evidence_kind("rule", "confirmed") == "human"
    assert evidence_kind("human", "corrected") == "human"
    assert evidence_kind("model", "auto") == "model"
    assert evidence_kind("list", "auto") == "list"
    assert evidence_kind(None, None) == "unknown"
