"""The active-learning side of screening: the configuration, the state derived from the
decision history, and the ranker that orders the works.

The state of screening is derived from the append-only ``decisions`` table, never stored
apart: a work's current title/abstract label for a reviewer is that reviewer's latest
decision on it (``undo`` returns it to unscreened). The ranker is refitted on every human
include/exclude so far (``maybe`` is not used for training).

Every decision stores in its ``model`` column the full screening configuration
(:class:`ScreeningConfig`, rebuildable with :meth:`ScreeningConfig.from_meta`) and the
work's rank and score at that moment. The screening engine (:mod:`fmreview.screening.engine`)
and the terminal session (:mod:`fmreview.screening.session`) both rank through
:class:`ActiveRanker`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fmreview import __version__
from fmreview.screening.eligibility import AUTOMATION_STAGE
from fmreview.screening.features import FeatureConfig, TextColumns, cached_features
from fmreview.screening.models import Ranker, get_model, model_from_meta
from fmreview.screening.stopping import STOPPING_RULES, StoppingRule, get_stopping_rule

LABELS = ("include", "exclude", "maybe", "undo")
TRAINING = {"include": 1, "exclude": 0}
SCREEN_STAGE = "title_abstract"


def _targeted(rule: str) -> bool:
    """Whether the rule promises a recall (takes the protocol's ``recall`` and ``confidence``)."""
    cls = STOPPING_RULES.get(rule)
    return cls is not None and {"recall", "confidence"} <= set(cls._get_param_names())


@dataclass
class ScreeningConfig:
    """Everything that decides what a screening session shows (``to_meta``/``from_meta``)."""

    model: dict[str, Any] = field(default_factory=lambda: {"name": "default", "params": {}})
    features: dict[str, Any] = field(default_factory=lambda: FeatureConfig().to_meta())
    query: dict[str, Any] = field(default_factory=lambda: {"name": "max", "params": {}})
    stopping: dict[str, Any] = field(
        default_factory=lambda: {
            "name": "poisson_process",
            "params": {"recall": 0.95, "confidence": 0.95},
        }
    )
    seed: int = 0
    version: str = __version__

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> ScreeningConfig:
        known = {
            k: meta[k]
            for k in ("model", "features", "query", "stopping", "seed", "version")
            if k in meta
        }
        return cls(**known)

    @classmethod
    def from_protocol(cls, protocol: Any) -> ScreeningConfig:
        s = protocol.screening
        st = s.stopping
        params = dict(st.params)
        if _targeted(st.rule):
            params.setdefault("recall", st.recall)
            params.setdefault("confidence", st.confidence)
        mparams = dict(s.params)
        seed = int(mparams.pop("seed", 0))
        fparams = mparams.pop("features", None)
        return cls(
            model={"name": s.model, "params": mparams},
            features=FeatureConfig.from_meta(fparams).to_meta()
            if fparams
            else FeatureConfig().to_meta(),
            stopping={"name": st.rule, "params": params},
            seed=seed,
        )

    def ranker(self) -> Ranker:
        return model_from_meta(self.model) if self.model.get("name") else get_model()

    def rule(self) -> StoppingRule:
        return get_stopping_rule(self.stopping["name"], **self.stopping.get("params", {}))

    def feature_config(self) -> FeatureConfig:
        return FeatureConfig.from_meta(self.features)


@dataclass
class NextWork:
    """The work to show next, with the ranking it came from."""

    work_id: int
    rank: int | None
    score: float | None
    phase: str  # ranked | random | cold (no ranker yet: both labels needed)
    remaining: int
    work: dict[str, Any]

    def model_state(self, config: ScreeningConfig, n_training: int) -> dict[str, Any]:
        return {
            "config": config.to_meta(),
            "rank": self.rank,
            "score": self.score,
            "phase": self.phase,
            "training": n_training,
        }


# ----------------------------------------------------------------------------- state
@dataclass
class ScreeningState:
    """Everything derived from the store at one moment."""

    work_ids: np.ndarray
    works: list[dict[str, Any]]
    auto_excluded: dict[int, str]  # work id -> criterion
    current: dict[tuple[int, str], dict[str, Any]]  # (work, reviewer) -> latest decision
    history: list[dict[str, Any]]  # human title/abstract decisions, oldest first

    def labels(self) -> dict[int, str]:
        """Every decided work's current label (latest by any reviewer; resolution wins)."""
        cached = getattr(self, "_labels", None)
        if cached is not None:
            return cached
        best: dict[int, dict[str, Any]] = {}
        for (w, _r), d in self.current.items():
            if d["label"] == "undo":
                continue
            b = best.get(w)
            if b is None or (d["stage"] == "resolution", d["id"]) > (
                b["stage"] == "resolution",
                b["id"],
            ):
                best[w] = d
        out = {w: str(d["label"]) for w, d in best.items()}
        self._labels = out
        return out

    def label_of(self, work_id: int) -> str | None:
        """The work's current label (None: not decided, or every decision undone)."""
        return self.labels().get(work_id)

    def screened_by(self, reviewer: str | None) -> set[int]:
        return {
            w
            for (w, r), d in self.current.items()
            if d["label"] != "undo" and (reviewer is None or r == reviewer)
        }

    def training(self) -> tuple[np.ndarray, np.ndarray]:
        """Row positions and 0/1 labels of the works a ranker learns from."""
        pos = {int(w): i for i, w in enumerate(self.work_ids)}
        labels = {w: lab for w, lab in self.labels().items() if lab in TRAINING}
        rows = np.array([pos[w] for w in labels if w in pos], dtype=np.int64)
        y = np.array([TRAINING[labels[w]] for w in labels if w in pos], dtype=np.int64)
        return rows, y

    def screening_sequence(self) -> tuple[np.ndarray, np.ndarray]:
        """Labels (1 include or maybe, 0 exclude) in first-screened order, and random flags.

        ``maybe`` counts as relevant: a recall estimate must not be flattered by doubt.
        """
        seen: dict[int, bool] = {}
        for d in self.history:
            w = int(d["work_id"])
            if w not in seen and d["label"] != "undo":
                seen[w] = bool((d.get("model") or {}).get("phase") == "random")
        labs, rnd = [], []
        for w, r in seen.items():
            lab = self.label_of(w)
            if lab is None:
                continue
            labs.append(1 if lab in ("include", "maybe") else 0)
            rnd.append(r)
        rnd_arr = np.asarray(rnd, dtype=bool)
        # the random phase starts at the first random draw; later ranked picks (none in
        # normal use) are counted into it so the test stays on one contiguous sample
        if rnd_arr.any():
            rnd_arr[int(np.argmax(rnd_arr)) :] = True
        return np.asarray(labs, dtype=np.int64), rnd_arr


def load_state(store: Any) -> ScreeningState:
    import sqlalchemy as sa

    from fmreview.store import schema
    from fmreview.store.works import active_works

    d = schema.decisions
    with store.connect() as conn:
        works = [
            dict(r._mapping) for r in conn.execute(active_works(conn).order_by(schema.works.c.id))
        ]
        rows = [dict(r._mapping) for r in conn.execute(sa.select(d).order_by(d.c.id))]
    auto: dict[int, str] = {}
    current: dict[tuple[int, str], dict[str, Any]] = {}
    history: list[dict[str, Any]] = []
    for r in rows:
        if r["stage"] == AUTOMATION_STAGE:
            if r["label"] == "exclude":
                auto[int(r["work_id"])] = str(r["criterion"] or "")
            continue
        if r["stage"] not in (SCREEN_STAGE, "resolution"):
            continue
        current[(int(r["work_id"]), str(r["reviewer"]))] = r
        history.append(r)
    return ScreeningState(
        work_ids=np.array([int(w["id"]) for w in works], dtype=np.int64),
        works=works,
        auto_excluded=auto,
        current=current,
        history=history,
    )


def _columns(works: list[dict[str, Any]]) -> TextColumns:
    kw = ["; ".join(w.get("keywords") or []) for w in works]
    return TextColumns(
        title=[w.get("title") or "" for w in works],
        abstract=[w.get("abstract") or "" for w in works],
        keywords=kw,
    )


class ActiveRanker:
    """Fits the protocol's ranker on the store's labels and scores every active work
    (the feature matrix is cached while the works stay the same)."""

    def __init__(self, store: Any, *, config: ScreeningConfig | None = None) -> None:
        self.store = store
        self.config = config or ScreeningConfig.from_protocol(store.protocol)
        self._X: Any = None
        self._X_ids: np.ndarray | None = None

    def features(self, state: ScreeningState) -> Any:
        if (
            self._X is None
            or self._X_ids is None
            or not np.array_equal(self._X_ids, state.work_ids)
        ):
            self._X = cached_features(
                self.store, _columns(state.works), self.config.feature_config()
            )
            self._X_ids = state.work_ids.copy()
        return self._X

    def ranking(self, state: ScreeningState | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Scores of every work (in ``state.work_ids`` order) and the fit time; None before
        both an inclusion and an exclusion have been recorded."""
        state = state or load_state(self.store)
        rows, y = state.training()
        if len(set(y.tolist())) < 2:
            return None
        X = self.features(state)
        t = time.perf_counter()
        ranker = self.config.ranker()
        ranker.random_state = self.config.seed
        # the whole matrix, unscreened works labelled -1: rankers draw their presumed
        # exclusions from those, exactly as in a simulation
        y_seen = np.full(X.shape[0], -1, dtype=np.int64)
        y_seen[rows] = y
        ranker.fit(X, y_seen)
        scores = ranker.score(X)
        return scores, np.array([time.perf_counter() - t])
