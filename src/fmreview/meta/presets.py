"""Named analysis settings ("presets") for pooling.

* ``default`` - what methodologists expect since the Cochrane Handbook / RevMan 2025:
  REML tau^2, Hartung-Knapp-Sidik-Jonkman test with the ad hoc safeguard
  (variance factor never below 1), Q-profile CI for tau^2 and a prediction interval.
* ``metafor`` - metafor's defaults: REML, z-test, Q-profile CI, prediction interval.
* ``revman5`` - RevMan 5: DerSimonian-Laird, Wald (z) CI, no prediction interval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fmreview.errors import unknown_name

__all__ = ["PRESETS", "Preset", "get_preset"]


@dataclass(frozen=True)
class Preset:
    """Estimator, test and interval choices of a named analysis style."""

    name: str
    method: str
    test: str
    tau2_ci: str | None
    prediction_interval: bool
    description: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "default": Preset(
        "default",
        "REML",
        "adhoc",
        "QP",
        True,
        "REML tau^2, Hartung-Knapp with ad hoc safeguard, Q-profile CI, prediction interval",
    ),
    "metafor": Preset("metafor", "REML", "z", "QP", True, "metafor defaults: REML tau^2, z-test"),
    "revman5": Preset(
        "revman5", "DL", "z", None, False, "RevMan 5: DerSimonian-Laird tau^2, Wald CI"
    ),
}


def get_preset(name: str) -> Preset:
    """Return the preset called ``name``."""
    if name not in PRESETS:
        raise unknown_name("meta-analysis preset", name, list(PRESETS))
    return PRESETS[name]
