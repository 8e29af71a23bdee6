"""The random phase of a statistical stopping rule, for the screening engine.

The ``hypergeometric`` stopping rule (Callaghan & Müller-Hansen 2020, *Statistical stopping
criteria for automated screening in systematic reviews*, Systematic Reviews 9:273) tests a
sample drawn **uniformly at random** from the works left when the ranked phase ends. The
screening engine (:class:`fmreview.screening.engine.ScreeningEngine`, under the terminal
session and the web app alike) starts drawing at
random when the protocol's rule ``needs_random_phase`` and either a random draw was already
recorded or ``rule.should_switch(labels, n_total)`` holds, where ``labels`` is
:meth:`~fmreview.screening.ranking.ScreeningState.screening_sequence` — each screened
work's current label (1 include or maybe, 0 exclude) in first-screened order — and
``n_total`` the active works less those the eligibility rules excluded.

:class:`ScreeningSequence` keeps that sequence up to date one decision at a time (the engine
feeds it every decision it folds in), so the engine can apply the same criterion on every
request without re-reading the decision history: a check costs a short backward scan. The
labels follow the session's definitions exactly (``tests/test_web_phase.py`` compares it
with ``screening_sequence`` on random histories):

- the decisions that count are those of stage ``title_abstract`` and ``resolution``;
- a work's current label is its latest standing decision by any reviewer, a resolution
  winning over votes (``undo`` withdraws that reviewer's decision);
- a work enters the sequence at its first decision that is not an ``undo``, flagged random
  when that decision's model state says ``phase: random``.

An admin may also start the random phase before the rule asks for it (a ``web random
phase`` run, :data:`START_COMMAND`); there is no way back, because the rule's test needs
one contiguous random sample after the ranked phase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmreview.screening.query import get_query

#: The ``runs.command`` of an admin starting the random phase from the web app.
START_COMMAND = "web random phase"
#: The ``runs.command`` of an admin lifting blinding for the whole review.
UNBLIND_COMMAND = "web unblind"
#: Decision stages that make up the screening sequence (as in the terminal session).
SEQUENCE_STAGES = ("title_abstract", "resolution")
RELEVANT = ("include", "maybe")


@dataclass(frozen=True, slots=True)
class FoldedDecision:
    """One decision as the screening engine folds it in: a row of the append-only decisions
    table, or a vote this process just wrote. The engine's tally and its
    :class:`ScreeningSequence` both take it; ``phase`` is the one the decision's model state
    records (``random`` for a random draw), ``note`` a resolution's stage."""

    id: int
    work_id: int
    stage: str
    reviewer: str
    label: str
    criterion: str | None = None
    note: str | None = ""
    phase: str | None = None


class ScreeningSequence:
    """Labels of the screened works in first-screened order, kept incrementally."""

    def __init__(self) -> None:
        self.history = 0  # decisions of SEQUENCE_STAGES folded in (undo included)
        self.random_works: set[int] = set()  # works whose first decision was a random draw
        self._order: list[int] = []  # works in first-screened order
        self._current: dict[int, dict[str, tuple[int, bool, str]]] = {}
        self._label: dict[int, int | None] = {}  # 1 relevant, 0 not, None all withdrawn
        self._relevant = 0  # works in the sequence whose label is 1
        self._version = 0
        self._cache: tuple[Any, ...] | None = None

    # ------------------------------------------------------------------ folding decisions
    def add(self, d: FoldedDecision) -> None:
        """Fold one decision in (decisions of other stages are ignored)."""
        if d.stage not in SEQUENCE_STAGES:
            return
        self.history += 1
        self._version += 1
        if d.work_id not in self._label and d.label != "undo":
            self._order.append(d.work_id)
            self._label[d.work_id] = None
            if d.phase == "random":
                self.random_works.add(d.work_id)
        mine = self._current.setdefault(d.work_id, {})
        held = mine.get(d.reviewer)
        if held is None or held[0] < d.id:
            mine[d.reviewer] = (d.id, d.stage == "resolution", d.label)
        if d.work_id in self._label:
            self._relabel(d.work_id)

    def _relabel(self, work_id: int) -> None:
        standing = [v for v in self._current.get(work_id, {}).values() if v[2] != "undo"]
        new: int | None = None
        if standing:
            _, _, label = max(standing, key=lambda v: (v[1], v[0]))
            new = 1 if label in RELEVANT else 0
        old = self._label[work_id]
        self._relevant += (new == 1) - (old == 1)
        self._label[work_id] = new

    # ------------------------------------------------------------------ reading
    def labels(self) -> list[int]:
        """The session's ``screening_sequence()`` labels (works with a standing label)."""
        return [lab for w in self._order if (lab := self._label[w]) is not None]

    def random_flags(self) -> list[bool]:
        """Whether each work of :meth:`labels` entered the sequence as a random draw."""
        return [w in self.random_works for w in self._order if self._label[w] is not None]

    def random_started(self) -> bool:
        """A work drawn at random holds a standing label (the session's ``rnd.any()``)."""
        return any(self._label.get(w) is not None for w in self.random_works)

    def _trailing_irrelevant(self, cap: int) -> int:
        """Irrelevant works since the last relevant one, counting at most ``cap``."""
        run = 0
        for w in reversed(self._order):
            lab = self._label[w]
            if lab is None:
                continue
            if lab == 1 or run >= cap:
                break
            run += 1
        return run

    def should_switch(self, rule: Any, n_total: int) -> bool:
        """``rule.should_switch`` on the current sequence.

        For rules with ``switch_run`` (the hypergeometric rule: a relevant work found and at
        least ``switch_run(n_total)`` irrelevant ones since the last) this scans back only as
        far as it must; other rules get the whole sequence.
        """
        switch_run: Callable[[int], int] | None = getattr(rule, "switch_run", None)
        if switch_run is None:
            return bool(rule.should_switch(self.labels(), n_total))
        if self._relevant == 0:
            return False
        need = int(switch_run(n_total))
        return self._trailing_irrelevant(need) >= need

    def random_phase(self, rule: Any, n_total: int, *, started_by_admin: bool = False) -> bool:
        """The terminal session's criterion for drawing at random now (see the module doc)."""
        if rule is None or not getattr(rule, "needs_random_phase", False):
            return False
        key = (self._version, n_total, id(rule), started_by_admin)
        if self._cache is not None and self._cache[0] == key:
            return bool(self._cache[1])
        due = started_by_admin or self.random_started() or self.should_switch(rule, n_total)
        self._cache = (key, due)
        return due


def random_draw(candidates: Any, n_works: int, *, seed: int, history: int) -> int:
    """One of ``candidates`` (positions among the ``n_works`` works, in id order) drawn for
    the random phase of a stopping rule: a generator seeded from the protocol's seed and
    the number of decisions so far feeds the ``random`` query strategy, so the same store
    state gives the same draw."""
    rng = np.random.default_rng([int(seed), int(history)])
    query = get_query("random", random_state=int(rng.integers(2**31 - 1)))
    cand = np.asarray(sorted(int(c) for c in candidates), dtype=np.int64)
    return int(query.order(np.zeros(n_works), cand)[0])
