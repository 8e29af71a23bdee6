"""The hand translations by case name (used by the tests, which run without the shared suite)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hand_cases import EXTRA_CASES
from hand_common import CASES, strip
from hand_more import MORE_CASES

__all__ = ["ALL_CASES", "run_case"]

ALL_CASES: dict[str, Callable[[list[dict[str, Any]]], dict[str, Any]]] = {
    **CASES,
    **EXTRA_CASES,
    **MORE_CASES,
}


def run_case(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the hand translation of case ``name``; ``KeyError`` when there is none."""
    if name not in ALL_CASES:
        raise KeyError(name)
    return strip(ALL_CASES[name](rows))
