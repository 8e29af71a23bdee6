"""Query strategies: which unscreened work to show next, given the ranker's scores.

- ``max`` (default): the work most likely to be relevant.
- ``uncertainty``: the work whose score is closest to the decision boundary (0).
- ``mixed``: ``max`` most of the time, with probability ``p_explore`` an ``uncertainty``
  (or ``random``) pick. Its randomness comes from one generator made once per run from
  ``random_state`` (unlike re-seeding inside the loop, every draw is a fresh number).
- ``random``: uniformly at random (the sampling phase of the hypergeometric stopping rule).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from fmreview.errors import InputError, build_by_name, unknown_name


class Query(BaseEstimator):  # type: ignore[misc]
    """Base class of query strategies (estimator-style parameters, one RNG per run).

    Parameters are keyword-only and stored unchanged, so sklearn's ``get_params`` /
    ``set_params`` / ``clone`` work.
    """

    name = "base"

    def __init__(self, *, random_state: int | None = None) -> None:
        self.random_state = random_state

    def to_meta(self) -> dict[str, Any]:
        """Component name and parameters (rebuild with :func:`get_query`)."""
        return {"name": self.name, "params": self.get_params(deep=False)}

    def reset(self) -> Query:
        """Start a run: make the one generator this run draws from."""
        self.rng_ = np.random.default_rng(self.random_state)
        return self

    def _rng(self) -> np.random.Generator:
        if not hasattr(self, "rng_"):
            self.reset()
        return self.rng_

    def order(self, scores: np.ndarray, candidates: np.ndarray, k: int = 1) -> np.ndarray:
        """The next ``k`` candidates (indices into ``scores``) to screen, best first."""
        raise NotImplementedError  # pragma: no cover


def _check(scores: np.ndarray, candidates: np.ndarray) -> None:
    if len(candidates) == 0:
        raise InputError("no unscreened works are left to query")


class MaxQuery(Query):
    name = "max"

    def order(self, scores: np.ndarray, candidates: np.ndarray, k: int = 1) -> np.ndarray:
        _check(scores, candidates)
        s = scores[candidates]
        k = min(k, len(candidates))
        if k == 1:
            return candidates[[int(np.argmax(s))]]
        top = np.argpartition(-s, k - 1)[:k]
        return candidates[top[np.argsort(-s[top], kind="stable")]]


class UncertaintyQuery(Query):
    name = "uncertainty"

    def order(self, scores: np.ndarray, candidates: np.ndarray, k: int = 1) -> np.ndarray:
        _check(scores, candidates)
        d = np.abs(scores[candidates])
        return candidates[np.argsort(d, kind="stable")[: min(k, len(candidates))]]


class RandomQuery(Query):
    name = "random"

    def order(self, scores: np.ndarray, candidates: np.ndarray, k: int = 1) -> np.ndarray:
        _check(scores, candidates)
        return self._rng().choice(candidates, size=min(k, len(candidates)), replace=False)


class MixedQuery(Query):
    name = "mixed"

    def __init__(
        self,
        *,
        p_explore: float = 0.05,
        explore: str = "uncertainty",
        random_state: int | None = None,
    ) -> None:
        self.p_explore = p_explore
        self.explore = explore
        self.random_state = random_state

    def order(self, scores: np.ndarray, candidates: np.ndarray, k: int = 1) -> np.ndarray:
        _check(scores, candidates)
        rng = self._rng()
        if self.explore not in ("uncertainty", "random"):
            raise unknown_name("exploration strategy", self.explore, ["uncertainty", "random"])
        out: list[int] = []
        left = np.asarray(candidates)
        for _ in range(min(k, len(candidates))):
            if rng.random() < self.p_explore:
                if self.explore == "random":
                    pick = int(rng.choice(left))
                else:
                    pick = int(left[np.argmin(np.abs(scores[left]))])
            else:
                pick = int(left[np.argmax(scores[left])])
            out.append(pick)
            left = left[left != pick]
        return np.asarray(out, dtype=np.int64)


QUERIES: dict[str, type[Query]] = {
    "max": MaxQuery,
    "uncertainty": UncertaintyQuery,
    "mixed": MixedQuery,
    "random": RandomQuery,
}


def get_query(name: str = "max", **params: Any) -> Query:
    """Build a query strategy by name; a wrong name lists the available ones."""
    return build_by_name("query strategy", QUERIES, name, params)
