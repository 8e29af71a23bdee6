"""Record-level deduplication metrics of Hair et al. (2023, ASySD; BMC Biology 21:189).

One record is kept per predicted cluster (the first one in the order given). For a gold
group ``g`` with ``k`` of its records kept:

* ``k = 0``: the whole work was removed: ``FP += 1``, ``TP += |g| - 1``;
* ``k >= 1``: ``TN += 1``, ``FN += k - 1``, ``TP += |g| - k``.

Sensitivity = TP / (TP + FN), specificity = TN / (TN + FP), precision = TP / (TP + FP).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fmreview.errors import InputError


@dataclass(frozen=True)
class DedupeMetrics:
    """Confusion counts and rates (rates are NaN when undefined)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @staticmethod
    def _rate(num: int, den: int) -> float:
        return num / den if den else float("nan")

    @property
    def sensitivity(self) -> float:
        return self._rate(self.tp, self.tp + self.fn)

    @property
    def specificity(self) -> float:
        return self._rate(self.tn, self.tn + self.fp)

    @property
    def precision(self) -> float:
        return self._rate(self.tp, self.tp + self.fp)

    def __add__(self, other: DedupeMetrics) -> DedupeMetrics:
        return DedupeMetrics(
            self.tp + other.tp, self.fp + other.fp, self.tn + other.tn, self.fn + other.fn
        )

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = dict(asdict(self))
        out.update(
            sensitivity=self.sensitivity, specificity=self.specificity, precision=self.precision
        )
        return out


def hair_metrics(
    predicted: Mapping[Any, Any],
    gold: Mapping[Any, Any],
    order: Sequence[Any] | None = None,
) -> DedupeMetrics:
    """Score predicted clusters against gold groups.

    Parameters
    ----------
    predicted : mapping
        Record id → predicted cluster id.
    gold : mapping
        Record id → gold group id (every record, singletons included).
    order : sequence, optional
        The order in which the first record of each predicted cluster is kept
        (default: the order of ``gold``).
    """
    missing = [r for r in gold if r not in predicted]
    if missing:
        raise InputError(
            f"{len(missing)} gold record(s) have no predicted cluster, e.g. {missing[0]!r}; "
            "predict a cluster for every record."
        )
    kept_clusters: set[Hashable] = set()
    kept_per_group: Counter[Hashable] = Counter()
    for rid in order if order is not None else gold:
        c = predicted[rid]
        if c not in kept_clusters:
            kept_clusters.add(c)
            kept_per_group[gold[rid]] += 1
    size = Counter(gold.values())
    tp = fp = tn = fn = 0
    for g, n in size.items():
        k = kept_per_group.get(g, 0)
        if k == 0:
            fp += 1
            tp += n - 1
        else:
            tn += 1
            fn += k - 1
            tp += n - k
    return DedupeMetrics(tp=tp, fp=fp, tn=tn, fn=fn)
