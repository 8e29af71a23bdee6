"""Hair et al. (2023) record-level metrics, checked by hand on tiny gold sets."""

from __future__ import annotations

import math

import pytest

from fmreview.dedupe.evaluate import DedupeMetrics, hair_metrics
from fmreview.errors import InputError

# gold: g1 = {a, b, c}, g2 = {d, e}, s1 = {f}
GOLD = {"a": "g1", "b": "g1", "c": "g1", "d": "g2", "e": "g2", "f": "s1"}


def test_perfect_prediction() -> None:
    pred = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2, "f": 3}
    m = hair_metrics(pred, GOLD)
    # each group keeps one record: TN 3; removed duplicates TP = 2 + 1
    assert (m.tp, m.fp, m.tn, m.fn) == (3, 0, 3, 0)
    assert m.sensitivity == 1.0 and m.specificity == 1.0 and m.precision == 1.0


def test_missed_duplicate_is_a_false_negative() -> None:
    pred = {"a": 1, "b": 1, "c": 9, "d": 2, "e": 2, "f": 3}
    m = hair_metrics(pred, GOLD)
    # g1 keeps a and c (k = 2): TN 1, FN 1, TP 1; g2: TN 1, TP 1; s1: TN 1
    assert (m.tp, m.fp, m.tn, m.fn) == (2, 0, 3, 1)
    assert m.sensitivity == pytest.approx(2 / 3)


def test_over_merge_loses_a_work() -> None:
    # everything merged, first kept record is "a": g2 and s1 keep nothing
    pred = dict.fromkeys(GOLD, 1)
    m = hair_metrics(pred, GOLD)
    # g1: k=1 -> TN 1, TP 2; g2: k=0 -> FP 1, TP 1; s1: k=0 -> FP 1, TP 0
    assert (m.tp, m.fp, m.tn, m.fn) == (3, 2, 1, 0)
    assert m.precision == pytest.approx(3 / 5)
    assert m.specificity == pytest.approx(1 / 3)


def test_kept_record_follows_the_given_order() -> None:
    pred = {"a": 1, "b": 1, "c": 1, "d": 1, "e": 2, "f": 3}
    # keep "d" first: cluster 1 is kept as g2's record, g1 keeps nothing
    m = hair_metrics(pred, GOLD, order=["d", "a", "b", "c", "e", "f"])
    # g1: k=0 -> FP 1, TP 2; g2: d and e kept (k=2) -> TN 1, FN 1; s1: TN 1
    assert (m.tp, m.fp, m.tn, m.fn) == (2, 1, 2, 1)


def test_metrics_add_and_handle_empty_denominators() -> None:
    total = DedupeMetrics(1, 0, 2, 1) + DedupeMetrics(2, 1, 0, 0)
    assert (total.tp, total.fp, total.tn, total.fn) == (3, 1, 2, 1)
    assert math.isnan(DedupeMetrics(0, 0, 0, 0).sensitivity)
    assert set(total.as_dict()) >= {"tp", "sensitivity", "specificity", "precision"}


def test_missing_prediction_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no predicted cluster"):
        hair_metrics({"a": 1}, GOLD)
