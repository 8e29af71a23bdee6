"""The one record-field list (fmreview.record) matches the store, the formats and dedupe."""

from __future__ import annotations

from dataclasses import fields

from fmreview.dedupe.merge import SCALAR_FIELDS, merge_records
from fmreview.formats._common import build_record
from fmreview.record import (
    ID_FIELDS,
    LIST_FIELDS,
    OPTIONAL_FIELDS,
    STANDARD_FIELDS,
    TEXT_FIELDS,
    WORK_FIELDS,
    Record,
)
from fmreview.store import schema
from fmreview.store.records import row_to_record


def test_every_standard_field_is_a_record_attribute_in_dataclass_order() -> None:
    names = [f.name for f in fields(Record)]
    assert list(STANDARD_FIELDS) == [n for n in names if n in STANDARD_FIELDS]
    assert {"extra", "raw", "position", "line", "warnings"}.isdisjoint(STANDARD_FIELDS)


def test_field_kinds_partition_the_standard_fields() -> None:
    kinds = [set(TEXT_FIELDS), set(LIST_FIELDS), set(OPTIONAL_FIELDS), {"authors"}]
    assert set().union(*kinds) == set(STANDARD_FIELDS)
    assert sum(map(len, kinds)) == len(STANDARD_FIELDS)
    assert set(ID_FIELDS) <= set(OPTIONAL_FIELDS)
    empty = Record()
    assert all(getattr(empty, f) == "" for f in TEXT_FIELDS)
    assert all(getattr(empty, f) is None for f in OPTIONAL_FIELDS)
    assert all(getattr(empty, f) == [] for f in LIST_FIELDS)


def test_the_store_has_a_column_for_every_field() -> None:
    assert set(STANDARD_FIELDS) <= set(schema.records.c.keys())
    work_cols = set(schema.works.c.keys())
    assert set(WORK_FIELDS) == work_cols & set(STANDARD_FIELDS)


def test_a_stored_row_comes_back_as_the_record() -> None:
    rec = build_record(
        title="T",
        authors=["Doe, Jane"],
        year=2021,
        keywords=["a"],
        doi="10.1234/x",
        extra={"k": 1},
    )
    row = {f: getattr(rec, f) for f in STANDARD_FIELDS if f != "authors"}
    row |= {"authors": [["Doe", "Jane"]], "extra": {"k": 1}, "raw": None}
    assert row_to_record(row) == rec


def test_merge_fills_every_work_field() -> None:
    _, values, _ = merge_records([{"id": 1, "title": "T"}])
    assert set(values) == set(WORK_FIELDS)
    assert all(values[f] is None for f in SCALAR_FIELDS if f in OPTIONAL_FIELDS)
