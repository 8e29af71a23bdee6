"""The review's recall estimate: :func:`~fmreview.screening.stopping.recall_estimate` over
the screening history in the store (``screen status`` and the web dashboard).

Apart from :mod:`fmreview.screening.stopping` (pure statistics, no store) so that the
session can use the stopping rules without an import circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fmreview.screening.session import ScreeningConfig, load_state, status
from fmreview.screening.stopping import RecallEstimate, recall_estimate

if TYPE_CHECKING:
    from fmreview.store import Store


def store_recall_estimate(store: Store, *, config: Any = None) -> RecallEstimate:
    """:func:`recall_estimate` for a review's store: the call ``screen status`` and the web
    dashboard make.

    Reads the screening history (``maybe`` counts as relevant) and the number of works to
    screen from :func:`fmreview.screening.session.status`; the recall target and confidence
    are the configured stopping rule's (0.95 / 0.95 when it has none, e.g. ``knee``).
    """
    config = config or ScreeningConfig.from_protocol(store.protocol)
    params = config.stopping.get("params", {}) or {}
    st = status(store, config=config)
    labs, rnd = load_state(store).screening_sequence()
    return recall_estimate(
        labs,
        int(st["to_screen"]),
        random_phase=rnd if rnd.any() else None,
        target=float(params.get("recall", 0.95)),
        confidence=float(params.get("confidence", 0.95)),
    )
