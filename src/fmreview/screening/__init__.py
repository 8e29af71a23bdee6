"""Screening: eligibility rules, active-learning ranking, stopping rules, simulation.

Public surface::

    features    FeatureConfig, build_features, cached_features, TextColumns
    models      get_model, model_from_meta, MODELS, DEFAULT_MODEL (nb, logistic, svm, ensemble)
    query       get_query (max, uncertainty, mixed, random)
    stopping    STOPPING_RULES, get_stopping_rule (hypergeometric, hypergeometric_ranked,
                consecutive, knee)
    eligibility apply_rules, rule_matches
    simulate    simulate, SimulationResult, wss, recall_at, plot_recall
    session     Session, ScreeningConfig, record_decision, undo_last, status
"""

from fmreview.screening.eligibility import apply_rules, rule_matches
from fmreview.screening.features import FeatureConfig, TextColumns, build_features, cached_features
from fmreview.screening.models import DEFAULT_MODEL, MODELS, get_model, model_from_meta
from fmreview.screening.query import QUERIES, get_query
from fmreview.screening.session import (
    ScreeningConfig,
    Session,
    record_decision,
    status,
    undo_last,
)
from fmreview.screening.simulate import SimulationResult, plot_recall, recall_at, simulate, wss
from fmreview.screening.stopping import STOPPING_RULES, get_stopping_rule

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "QUERIES",
    "STOPPING_RULES",
    "FeatureConfig",
    "ScreeningConfig",
    "Session",
    "SimulationResult",
    "TextColumns",
    "apply_rules",
    "build_features",
    "cached_features",
    "get_model",
    "get_query",
    "get_stopping_rule",
    "model_from_meta",
    "plot_recall",
    "recall_at",
    "record_decision",
    "rule_matches",
    "simulate",
    "status",
    "undo_last",
    "wss",
]
