"""Temporal trends of the review's taxonomy, with real statistics (issue 7).

A pure layer over two tidy tables (see :mod:`fmreview.analysis.frame`): ``works`` (one row
per included work) and ``labels`` (one row per work, axis and value). The integrator feeds
them from the store; :func:`analyze` runs everything and returns a JSON-ready
:class:`AnalysisResult`; :func:`explain` lists the works behind any cell.
"""

from __future__ import annotations

from .challenges import challenge_map
from .cooccurrence import cooccurrence, cooccurrence_tables
from .counts import counts, coverage, overall, totals
from .datasets import co_usage_network, dataset_tables, gazetteer_index
from .explain import CellQuery, explain, explain_frame, parse_query
from .findings import DEFAULT_FINDINGS, Finding, check_finding, findings
from .frame import AnalysisFrame, prepare
from .growth import MODEL_RULE, GrowthFit, SegmentedFit, fit_growth, fit_segmented, post_indicator
from .results import AnalysisResult, analyze, format_rich, format_text
from .sensitivity import flips, leave_one_source_out
from .settings import AnalysisSettings, Event, coerce_settings
from .trend_tests import (
    CochranArmitage,
    ContingencyTest,
    MannKendall,
    adjusted_residuals,
    bh_adjust,
    cochran_armitage,
    contingency_test,
    mann_kendall,
)
from .trends import growth_table, period_tests, segmented_table, trend_table

__all__ = [
    "DEFAULT_FINDINGS",
    "MODEL_RULE",
    "AnalysisFrame",
    "AnalysisResult",
    "AnalysisSettings",
    "CellQuery",
    "CochranArmitage",
    "ContingencyTest",
    "Event",
    "Finding",
    "GrowthFit",
    "MannKendall",
    "SegmentedFit",
    "adjusted_residuals",
    "analyze",
    "bh_adjust",
    "challenge_map",
    "check_finding",
    "co_usage_network",
    "coerce_settings",
    "cochran_armitage",
    "contingency_test",
    "cooccurrence",
    "cooccurrence_tables",
    "counts",
    "coverage",
    "dataset_tables",
    "explain",
    "explain_frame",
    "findings",
    "fit_growth",
    "flips",
    "fit_segmented",
    "format_rich",
    "format_text",
    "gazetteer_index",
    "growth_table",
    "leave_one_source_out",
    "mann_kendall",
    "overall",
    "parse_query",
    "period_tests",
    "post_indicator",
    "prepare",
    "segmented_table",
    "totals",
    "trend_table",
]
