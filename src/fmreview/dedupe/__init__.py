"""Deduplication: records → works, explained, incremental, with a human review queue.

Library entry points:

* :class:`Deduplicator` — the pure engine (``fit`` / ``partial_fit``; ``clusters_``,
  ``links_``, ``uncertain_``);
* :func:`dedupe_store`, :func:`pending_pairs`, :func:`decide_pair` — the same against a
  review store;
* :func:`hair_metrics` — record-level metrics of Hair et al. (2023) for benchmarks;
* :func:`merge_records` — the best value per field of a work, with provenance.
"""

from fmreview.dedupe.engine import Deduplicator
from fmreview.dedupe.evaluate import DedupeMetrics, hair_metrics
from fmreview.dedupe.merge import merge_records
from fmreview.dedupe.store_io import decide_pair, dedupe_store, pending_pairs

__all__ = [
    "DedupeMetrics",
    "Deduplicator",
    "decide_pair",
    "dedupe_store",
    "hair_metrics",
    "merge_records",
    "pending_pairs",
]
