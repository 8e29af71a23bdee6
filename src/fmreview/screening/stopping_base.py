"""What every stopping rule shares: its answer (:class:`StopCheck`), a simulated stop
(:class:`SimStop`) and the base class :class:`StoppingRule`.

Its own module so the rules in :mod:`fmreview.screening.stopping`,
:mod:`fmreview.screening.counting` and :mod:`fmreview.screening.target` all build on it and
the registry in ``stopping`` can import the others without an import circle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from fmreview.errors import InputError


@dataclass
class StopCheck:
    """A stopping rule's answer at one moment."""

    rule: str
    stop: bool
    recall: float | None = None  # point estimate of recall so far
    recall_low: float | None = None  # lower confidence bound
    recall_high: float | None = None  # upper confidence bound
    p_value: float | None = None
    phase: str = "ranked"  # ranked | random
    message: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SimStop:
    """Where a rule stopped in a simulation: works screened and relevant found by then."""

    screened: int
    found: int
    stopped: bool  # False: the rule never fired and every work was screened


def _labels(labels: Any) -> np.ndarray:
    a = np.asarray(labels, dtype=np.int64)
    if a.ndim != 1 or (a.size and not np.isin(a, (0, 1)).all()):
        raise InputError("labels must be a 1-D sequence of 0 (excluded) and 1 (included)")
    return a


def check_target(rule: str, recall: float, confidence: float) -> None:
    """Refuse a recall target outside (0, 1] or a confidence outside (0, 1)."""
    if not 0 < recall <= 1 or not 0 < confidence < 1:
        raise InputError(
            f"{rule} rule: recall {recall} must be in (0, 1] and confidence {confidence} in (0, 1)"
        )


class StoppingRule(BaseEstimator):  # type: ignore[misc]
    """Base class; parameters are keyword-only and stored unchanged (sklearn's estimator
    contract, so ``get_params`` / ``set_params`` / ``clone`` come from ``BaseEstimator``)."""

    name = "base"
    #: True when the rule needs a random-sampling phase (the session then queries randomly).
    needs_random_phase = False

    def _keep_target(self, recall: float, confidence: float) -> None:
        """Store the recall target and its confidence unchanged, refusing values outside
        their ranges (:func:`check_target`)."""
        self.recall = recall
        self.confidence = confidence
        check_target(self.name, recall, confidence)

    def to_meta(self) -> dict[str, Any]:
        """Component name and parameters (rebuild with :func:`rule_from_meta`)."""
        return {"name": self.name, "params": self.get_params(deep=False)}

    def check(
        self, labels: Any, n_total: int, *, random_phase: Any = None
    ) -> StopCheck:  # pragma: no cover - abstract
        raise NotImplementedError

    def should_switch(self, labels: Any, n_total: int) -> bool:
        """Whether the ranked phase is over (only rules with a random phase say yes)."""
        return False

    def first_stop(self, labels: Any, n_total: int) -> int | None:
        """Number screened when the rule first fires on this order (None: never)."""
        lab = _labels(labels)
        for i in range(1, len(lab) + 1):
            if self.check(lab[:i], n_total).stop:
                return i
        return None

    def simulate(self, ranked_labels: Any, rng: np.random.Generator) -> SimStop:
        """Where the rule stops on a full ranked order of all works' labels."""
        lab = _labels(ranked_labels)
        stop = self.first_stop(lab, len(lab))
        n = len(lab) if stop is None else stop
        return SimStop(screened=n, found=int(lab[:n].sum()), stopped=stop is not None)
