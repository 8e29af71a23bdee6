"""Store-backed screening: the next work to screen, recording decisions, and status.

The state of screening is derived from the append-only ``decisions`` table, never stored
apart: a work's current title/abstract label for a reviewer is that reviewer's latest
decision on it (``undo`` returns it to unscreened). The ranker is refitted on every human
include/exclude so far (``maybe`` is not used for training) and the unscreened works are
ranked; works excluded by the protocol's automation rules are never shown.

When the protocol's stopping rule needs a random phase (``hypergeometric``), works are
drawn at random once the ranked phase is over, and those decisions carry
``phase: random`` so the rule can test them.

Every decision stores in its ``model`` column the full screening configuration
(:class:`ScreeningConfig`, rebuildable with :meth:`ScreeningConfig.from_meta`) and the
work's rank and score at that moment.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fmreview import __version__
from fmreview.errors import InputError, NotFoundError
from fmreview.screening.eligibility import AUTOMATION_STAGE
from fmreview.screening.features import FeatureConfig, TextColumns, cached_features
from fmreview.screening.models import Ranker, get_model, model_from_meta
from fmreview.screening.query import get_query
from fmreview.screening.stopping import StopCheck, StoppingRule, get_stopping_rule

LABELS = ("include", "exclude", "maybe", "undo")
TRAINING = {"include": 1, "exclude": 0}
SCREEN_STAGE = "title_abstract"


@dataclass
class ScreeningConfig:
    """Everything that decides what a screening session shows (``to_meta``/``from_meta``)."""

    model: dict[str, Any] = field(default_factory=lambda: {"name": "default", "params": {}})
    features: dict[str, Any] = field(default_factory=lambda: FeatureConfig().to_meta())
    query: dict[str, Any] = field(default_factory=lambda: {"name": "max", "params": {}})
    stopping: dict[str, Any] = field(
        default_factory=lambda: {
            "name": "hypergeometric",
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
        if st.rule in ("hypergeometric", "hypergeometric_ranked"):
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


# ----------------------------------------------------------------------------- session


def random_draw(candidates: Any, n_works: int, *, seed: int, history: int) -> int:
    """One of ``candidates`` (positions among the ``n_works`` works, in id order) drawn for
    the random phase of a stopping rule: a generator seeded from the protocol's seed and
    the number of decisions so far feeds the ``random`` query strategy, so the same store
    state gives the same draw (the terminal session and the web queue both draw here)."""
    rng = np.random.default_rng([int(seed), int(history)])
    query = get_query("random", random_state=int(rng.integers(2**31 - 1)))
    cand = np.asarray(sorted(int(c) for c in candidates), dtype=np.int64)
    return int(query.order(np.zeros(n_works), cand)[0])


class Session:
    """A screening session over a store (one reviewer, or all when ``reviewer`` is None)."""

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

    def next_work(self, reviewer: str | None = None) -> NextWork | None:
        """The next work ``reviewer`` should screen (None when none is left)."""
        state = load_state(self.store)
        done = state.screened_by(reviewer) | set(state.auto_excluded)
        cand = np.array(
            [i for i, w in enumerate(state.work_ids) if int(w) not in done], dtype=np.int64
        )
        if len(cand) == 0:
            return None
        rule = self.config.rule()
        labs, rnd = state.screening_sequence()
        n_total = len(state.work_ids) - len(state.auto_excluded)
        rng = np.random.default_rng([self.config.seed, len(state.history)])
        random_phase = rule.needs_random_phase and (
            bool(rnd.any()) or bool(rule.should_switch(labs, n_total))
        )
        rank: int | None = None
        score: float | None = None
        if random_phase:
            pick = random_draw(
                cand, len(state.work_ids), seed=self.config.seed, history=len(state.history)
            )
            phase = "random"
        else:
            ranked = self.ranking(state)
            if ranked is None:
                pick = int(rng.choice(cand))
                phase = "cold"
            else:
                scores = ranked[0]
                q = get_query(self.config.query["name"], **self.config.query.get("params", {}))
                q.random_state = int(rng.integers(2**31 - 1))
                pick = int(q.order(scores, cand, 1)[0])
                score = float(scores[pick])
                rank = int((scores[cand] > scores[pick]).sum()) + 1
                phase = "ranked"
        return NextWork(
            work_id=int(state.work_ids[pick]),
            rank=rank,
            score=score,
            phase=phase,
            remaining=len(cand),
            work=state.works[pick],
        )

    def status(self) -> dict[str, Any]:
        return status(self.store, config=self.config)


def record_decision(
    store: Any,
    work_id: int,
    reviewer: str,
    label: str,
    criterion: str | None = None,
    note: str = "",
    stage: str = SCREEN_STAGE,
    *,
    next_work: NextWork | None = None,
    config: ScreeningConfig | None = None,
    run_id: int | None = None,
) -> int:
    """Append one decision; returns its id.

    The decision carries the screening configuration and the work's rank and score at that
    moment (from ``next_work`` when given — what the reviewer was shown — else recomputed).
    A wrong label, an unknown criterion or an unknown work is refused with the way out.
    """
    import sqlalchemy as sa

    from fmreview.store import schema

    if label not in LABELS:
        raise InputError(f"decision label {label!r} is not one of {', '.join(LABELS)}")
    if not reviewer or not reviewer.strip():
        raise InputError("a decision needs a reviewer name (--reviewer NAME)")
    if criterion is not None:
        store.protocol.criterion(criterion)  # raises listing the protocol's criteria
    config = config or ScreeningConfig.from_protocol(store.protocol)
    with store.connect() as conn:
        exists = conn.execute(
            sa.select(schema.works.c.id).where(schema.works.c.id == work_id)
        ).first()
    if exists is None:
        raise NotFoundError(f"no work with id {work_id}; list works with: fmreview screen status")
    if next_work is None or next_work.work_id != work_id:
        next_work = _rank_of(store, work_id, config)
    state = load_state(store)
    n_training = len(state.training()[1])
    with store.begin() as conn:
        new_id = conn.execute(
            sa.insert(schema.decisions).values(
                work_id=work_id,
                stage=stage,
                reviewer=reviewer,
                label=label,
                criterion=criterion,
                note=note or "",
                created_at=store.clock(),
                model=next_work.model_state(config, n_training),
                run_id=run_id,
            )
        ).inserted_primary_key[0]
    return int(new_id)


def _rank_of(store: Any, work_id: int, config: ScreeningConfig) -> NextWork:
    sess = Session(store, config=config)
    state = load_state(store)
    ranked = sess.ranking(state)
    pos = int(np.flatnonzero(state.work_ids == work_id)[0])
    if ranked is None:
        return NextWork(work_id, None, None, "cold", 0, state.works[pos])
    scores = ranked[0]
    return NextWork(
        work_id,
        int((scores > scores[pos]).sum()) + 1,
        float(scores[pos]),
        "ranked",
        0,
        state.works[pos],
    )


def undo_last(store: Any, reviewer: str, *, config: ScreeningConfig | None = None) -> int | None:
    """Undo ``reviewer``'s latest standing decision by appending an ``undo`` decision.

    Returns the work id returned to the queue (None when there is nothing to undo).
    """
    state = load_state(store)
    mine = [d for d in state.history if d["reviewer"] == reviewer]
    standing = {
        (int(d["work_id"]))
        for (w, r), d in state.current.items()
        if r == reviewer and d["label"] != "undo"
    }
    for d in reversed(mine):
        w = int(d["work_id"])
        if d["label"] != "undo" and w in standing:
            record_decision(
                store,
                w,
                reviewer,
                "undo",
                note=f"undo decision {d['id']}",
                stage=str(d["stage"]),
                config=config,
                next_work=NextWork(w, None, None, "undo", 0, {}),
            )
            return w
    return None


def status(store: Any, *, config: ScreeningConfig | None = None) -> dict[str, Any]:
    """Decisions so far, the estimated recall with its interval, and the stopping verdict."""
    config = config or ScreeningConfig.from_protocol(store.protocol)
    state = load_state(store)
    labs, rnd = state.screening_sequence()
    n_works = len(state.work_ids)
    n_auto = len([w for w in state.auto_excluded if w in set(state.work_ids.tolist())])
    n_total = n_works - n_auto
    counts = {"include": 0, "exclude": 0, "maybe": 0}
    for w in {w for (w, _r) in state.current}:
        lab = state.label_of(w)
        if lab in counts:
            counts[lab] += 1
    rule = config.rule()
    check: StopCheck = (
        rule.check(labs, n_total, random_phase=rnd)
        if rule.needs_random_phase
        else rule.check(labs, n_total)
    )
    screened = int(len(labs))
    return {
        "works": n_works,
        "excluded_by_automation": n_auto,
        "to_screen": n_total,
        "screened": screened,
        "unscreened": max(0, n_total - screened),
        "decisions": len(state.history),
        "labels": counts,
        "reviewers": sorted({r for (_w, r) in state.current}),
        "stopping": {
            "rule": config.stopping["name"],
            "params": config.stopping.get("params", {}),
            "met": bool(check.stop and screened > 0),
            "phase": check.phase,
            "recall": check.recall,
            "recall_low": check.recall_low,
            "recall_high": check.recall_high,
            "p_value": check.p_value,
            "message": check.message,
        },
        "config": config.to_meta(),
    }


def save_config(store: Any, config: ScreeningConfig) -> None:
    """Store the configuration as an artifact (kind ``screening.config``)."""
    import sqlalchemy as sa

    from fmreview.store import schema

    with store.begin() as conn:
        conn.execute(
            sa.insert(schema.artifacts).values(
                kind="screening.config",
                key="current",
                created_at=store.clock(),
                content_type="application/json",
                data=None,
                meta=config.to_meta(),
            )
        )


def load_config(store: Any) -> ScreeningConfig:
    """The last saved configuration, else the protocol's."""
    import sqlalchemy as sa

    from fmreview.store import schema

    a = schema.artifacts
    with store.connect() as conn:
        row = conn.execute(
            sa.select(a.c.meta)
            .where(a.c.kind == "screening.config")
            .order_by(a.c.id.desc())
            .limit(1)
        ).first()
    return (
        ScreeningConfig.from_meta(row.meta)
        if row
        else ScreeningConfig.from_protocol(store.protocol)
    )
