"""Extraction: label every work on the protocol's taxonomy, with evidence.

Rules (protocol synonyms/patterns and the dataset gazetteer), curated-list labels,
supervised classifiers and an optional LLM propose labels; :mod:`.combine` states the
policy that picks a work's labels (human > list > llm > rule > model); people confirm or
correct them as new rows (:mod:`.store_io`); :mod:`.atlas` answers "which FMs exist for my
modality and task".
"""

from fmreview.extract.atlas import find, resolve_value
from fmreview.extract.classifier import AxisClassifier, TaxonomyClassifier
from fmreview.extract.combine import DEFAULT_THRESHOLDS, ORDER, combine, combine_axis
from fmreview.extract.extractor import Extractor
from fmreview.extract.gazetteer import DatasetGazetteer, Mention, bundled_gazetteer, load_gazetteer
from fmreview.extract.label import Label, Span
from fmreview.extract.lists import list_hints, list_labels
from fmreview.extract.rules import RuleSet
from fmreview.extract.store_io import (
    confirm_label,
    correct_label,
    current_label_map,
    current_labels,
    extract_store,
    review_queue,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "ORDER",
    "AxisClassifier",
    "DatasetGazetteer",
    "Extractor",
    "Label",
    "Mention",
    "RuleSet",
    "Span",
    "TaxonomyClassifier",
    "bundled_gazetteer",
    "combine",
    "combine_axis",
    "confirm_label",
    "correct_label",
    "current_label_map",
    "current_labels",
    "extract_store",
    "find",
    "list_hints",
    "list_labels",
    "load_gazetteer",
    "resolve_value",
    "review_queue",
]
