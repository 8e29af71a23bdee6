"""Dedupe keys: normalisation, author parsing, pages; idempotence checked by Hypothesis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmreview.dedupe.keys import (
    as_frame,
    author_surnames,
    first_page,
    fold,
    is_missing,
    normalize_text,
    number_key,
    parse_pages,
    record_keys,
    surname_key,
    title_key,
    venue_key,
    year_value,
)
from fmreview.record import Author

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FFF), max_size=120
)


@settings(max_examples=300, deadline=None)
@given(text)
def test_normalize_text_is_idempotent(s: str) -> None:
    once = normalize_text(s)
    assert normalize_text(once) == once


@settings(max_examples=300, deadline=None)
@given(text)
def test_title_key_is_idempotent(s: str) -> None:
    once = title_key(s)
    assert title_key(once) == once


@settings(max_examples=200, deadline=None)
@given(text)
def test_venue_and_surname_keys_are_idempotent(s: str) -> None:
    assert venue_key(venue_key(s)) == venue_key(s)
    assert surname_key(surname_key(s)) == surname_key(s)


@settings(max_examples=200, deadline=None)
@given(text)
def test_normalized_text_is_plain_ascii_words(s: str) -> None:
    out = normalize_text(s)
    assert out == out.strip()
    assert "  " not in out
    assert all(ch.isascii() and (ch.isalnum() or ch == " ") for ch in out)


def test_fold_strips_accents_and_case() -> None:
    assert fold("Müller–Lyer Ñandú") == "muller-lyer nandu"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (
            "Robot-assisted gait.[Erratum appears in Exp Brain Res 2010;207:153]",
            "robot assisted gait",
        ),
        ("[Incretins and the heart]. [French]", "incretins and the heart"),
        ("Eculizumab for aHUS (vol 360, pg 542, 2009)", "eculizumab for ahus"),
        ("HPV testing: review. [Review] [45 refs]", "hpv testing review"),
        ("A meta-analysis (Provisional abstract)", "a meta analysis"),
        ("<i>In vivo</i> imaging", "in vivo imaging"),
        ("NA", ""),
        (None, ""),
    ],
)
def test_title_key_drops_catalogue_annotations(raw: str | None, key: str) -> None:
    assert title_key(raw) == key


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Zhai, Q. J. and Yue, X. Y. and Hong, Z.", ["zhai", "yue", "hong"]),
        ("Adeli K.Lewis G. F.", ["adeli", "lewis"]),
        ("Chang M. W.Chen C. H.Chen Y. C.", ["chang", "chen", "chen"]),
        ("Smith J; Jones K", ["smith", "jones"]),
        ("Ludwig van Beethoven", ["vanbeethoven"]),
        ("Smith, J., Jones, K.", ["smith", "jones"]),
        ([["Müller", "A"], ["de Jorge", "E"]], ["muller", "dejorge"]),
        ([Author("Ma", "Jun")], ["ma"]),
        ([{"family": "He", "given": "Y"}], ["he"]),
        ("", []),
        (None, []),
        (float("nan"), []),
    ],
)
def test_author_surnames(value: object, expected: list[str]) -> None:
    assert author_surnames(value) == expected


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("221-8", ("", 221, 228)),
        ("S417-S429", ("s", 417, 429)),
        ("e12724", ("e", 12724, 12724)),
        ("527-32.e1", ("", 527, 532)),
        ("01-Jun", None),
        ("Suppl-29", None),
        ("t-8", None),
    ],
)
def test_parse_pages(raw: str, parsed: tuple[str, int, int] | None) -> None:
    assert parse_pages(raw) == parsed


def test_small_field_keys() -> None:
    assert first_page("S36") == "36"
    assert first_page("") == ""
    assert number_key("Suppl 2") == "2"
    assert number_key("NA") == ""
    assert year_value("2019-05-01") == 2019
    assert year_value(np.int64(2020)) == 2020
    assert year_value("n.d.") == 0
    assert is_missing("N/A") and is_missing(float("nan")) and not is_missing("x")


def test_as_frame_accepts_benchmark_layout() -> None:
    frame = as_frame(
        pd.DataFrame({"record_id": ["a"], "author": ["X, Y"], "journal": ["J"], "number": ["2"]})
    )
    assert {"id", "authors", "venue", "issue", "doi", "abstract"} <= set(frame.columns)
    assert frame.loc[0, "id"] == "a"


def test_record_keys_columns_and_ids() -> None:
    keys = record_keys(
        [
            {
                "id": 1,
                "title": "Deep Learning!",
                "authors": "Doe, J.",
                "year": "2020",
                "doi": "https://doi.org/10.48550/arXiv.2301.01234",
                "pages": "12-19",
            }
        ]
    )
    row = keys.iloc[0]
    assert row["title"] == "deep learning"
    assert row["first_author"] == "doe"
    assert row["arxiv"] == "2301.01234"  # an arXiv DOI names the preprint
    assert row["page"] == "12" and row["page_span"] == 7


def test_record_keys_same_per_value_whatever_the_input_shape() -> None:
    """Keys are computed once per distinct value: repeated, missing (None, NaN, "NA")
    and unhashable values (author lists) give the keys of each value on its own."""
    authors_list = [{"family": "Carignani", "given": "Andrea"}, {"family": "Gemino"}]
    rows = [
        {"id": "a", "title": "Deep Learning", "authors": "Doe, J.", "pages": "S417-29"},
        {"id": "b", "title": "Deep Learning", "authors": "Doe, J.", "pages": "S417-29"},
        {"id": "c", "title": None, "authors": authors_list, "pages": float("nan")},
        {"id": "d", "title": "NA", "authors": None, "pages": "NA", "volume": "Suppl 2"},
    ]
    keys = record_keys(rows)
    one_by_one = pd.concat([record_keys([r]) for r in rows], ignore_index=True)
    pd.testing.assert_frame_equal(keys, one_by_one, check_dtype=False)
    assert keys["title"].tolist() == ["deep learning", "deep learning", "", ""]
    assert keys["authors"].tolist()[2] == "carignani gemino"
    assert keys["name_words"].tolist()[2] == "andrea carignani gemino"
    assert keys["page_prefix"].tolist()[:2] == ["s", "s"]
    assert keys["page_first"].tolist() == [417, 417, -1, -1]
    assert keys["page_last"].tolist() == [429, 429, -1, -1]
    assert keys["page_span"].tolist() == [-1, -1, -1, -1]  # a prefixed range is not plain
    assert keys["volume"].tolist() == ["", "", "", "2"]
    # string keys are plain object arrays (no conversion when a stage reads them)
    assert keys["title"].dtype == object
