"""Simulation: replay a labelled review through the active-learning loop and measure it.

``simulate(df, model=..., seed=...)`` draws the prior works by seed (only among records that
have a title or an abstract), then repeats: fit the ranker on the labels of everything
screened so far (the unscreened works are passed unlabelled, -1, so a ranker may use their
text but never their labels), score the rest, screen the top work (its label is revealed from the data). Once every
inclusion is found the remaining works are all exclusions, so the loop ends there and the
rest of the order is filled in — the recall curve is flat from that point whatever the
order. Stopping rules are then evaluated on the whole order.

Works with neither a title nor an abstract take no part in the ranking (their feature rows
are empty, so they would only teach the ranker its intercept and sit among the works it
ranks): they come last in the order and are counted apart (``n_no_text``,
``no_text_included``), as a reviewer would check them by hand.

Metrics (N works, n_x = works screened, priors included, when x% of inclusions are found):
WSS@95 = (N − n₉₅)/N − 0.05; WSS@100 = (N − n₁₀₀)/N; recall@10% = share of inclusions found
after screening ceil(0.1·N) works; ATD = mean share of works screened when each inclusion
(not a prior) is found.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fmreview.errors import InputError
from fmreview.screening.features import FeatureConfig, TextColumns, build_features
from fmreview.screening.models import UNLABELLED, Ranker, get_model
from fmreview.screening.query import Query, get_query
from fmreview.screening.stopping import StoppingRule, get_stopping_rule

#: Stopping rules a simulation evaluates when none are named.
DEFAULT_RULES = (
    "poisson_process",
    "negbin",
    "hypergeometric",
    "hypergeometric_ranked",
    "target",
    "qbcb",
    "knee",
    "consecutive",
)

#: Rules whose recall target follows ``simulate(recall_target=...)``.
_TARGETED = (
    "hypergeometric",
    "hypergeometric_ranked",
    "poisson_process",
    "negbin",
    "target",
    "qbcb",
)


# ----------------------------------------------------------------------------- metrics
def recall_curve(labels_in_order: Sequence[int] | np.ndarray) -> np.ndarray:
    """Cumulative share of inclusions found after each screened work."""
    lab = np.asarray(labels_in_order, dtype=np.int64)
    total = lab.sum()
    if total == 0:
        raise InputError("the dataset has no included records; nothing to find")
    return np.cumsum(lab) / total


def screened_to(labels_in_order: Sequence[int], recall: float) -> int:
    """Works screened (1-based count) when at least ``recall`` of the inclusions are found."""
    lab = np.asarray(labels_in_order, dtype=np.int64)
    need = math.ceil(recall * lab.sum() - 1e-9)
    return int(np.searchsorted(np.cumsum(lab), need) + 1)


def wss(labels_in_order: Sequence[int], recall: float) -> float:
    """Work saved over sampling at ``recall``: (N − n_recall)/N − (1 − recall)."""
    n = len(labels_in_order)
    return (n - screened_to(labels_in_order, recall)) / n - (1.0 - recall)


def recall_at(labels_in_order: Sequence[int], share: float) -> float:
    """Share of inclusions found after screening ceil(share·N) works."""
    lab = np.asarray(labels_in_order, dtype=np.int64)
    k = math.ceil(share * len(lab) - 1e-9)
    return float(lab[:k].sum() / lab.sum())


def average_time_to_discovery(labels_in_order: Sequence[int], n_prior: int = 0) -> float:
    """Mean share of works screened when each inclusion found after the priors was found."""
    lab = np.asarray(labels_in_order, dtype=np.int64)
    pos = np.flatnonzero(lab[n_prior:]) + n_prior + 1
    return float(pos.mean() / len(lab)) if len(pos) else float("nan")


# ----------------------------------------------------------------------------- results
@dataclass
class RuleOutcome:
    rule: str
    screened: int
    recall: float
    work_saved: float
    stopped: bool
    target: float | None = None
    target_met: bool | None = None


@dataclass
class SimulationResult:
    """What one simulation found (``to_dict`` for JSON)."""

    dataset: str
    n_records: int
    n_included: int
    seed: int
    config: dict[str, Any]
    prior_idx: list[int]
    order: np.ndarray
    labels: np.ndarray  # labels in screening order
    wss95: float
    wss100: float
    recall10: float
    screened95: int
    screened100: int
    atd: float
    n_fits: int
    n_no_text: int  # works with neither title nor abstract (screened last, by hand)
    no_text_included: int  # of which included
    wall_time: float  # seconds: feature extraction + the active-learning loop
    stopping_time: float  # seconds spent evaluating the stopping rules afterwards
    stopping: dict[str, RuleOutcome] = field(default_factory=dict)

    def to_dict(self, *, with_order: bool = False) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("order", "labels", "stopping")}
        d["stopping"] = {k: asdict(v) for k, v in self.stopping.items()}
        if with_order:
            d["order"] = self.order.tolist()
        return d


# ----------------------------------------------------------------------------- data
def columns_from_frame(df: pd.DataFrame) -> TextColumns:
    """Text columns from a data frame with ``title`` and/or ``abstract`` (and ``keywords``)."""
    if "title" not in df.columns and "abstract" not in df.columns:
        raise InputError(
            f"the data needs a 'title' or 'abstract' column; found {', '.join(map(str, df.columns))}"
        )
    n = len(df)

    def col(name: str) -> list[str]:
        if name not in df.columns:
            return [""] * n
        return ["" if pd.isna(v) else str(v) for v in df[name].tolist()]

    return TextColumns(title=col("title"), abstract=col("abstract"), keywords=col("keywords"))


def labels_from_frame(df: pd.DataFrame, column: str = "label_included") -> np.ndarray:
    if column not in df.columns:
        raise InputError(
            f"the data needs a {column!r} column with 0/1 labels; found {', '.join(map(str, df.columns))}"
        )
    y = pd.to_numeric(df[column], errors="coerce")
    bad = y.isna() | ~y.isin([0, 1])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{column!r} row {i + 1} holds {df[column].iloc[i]!r}; expected 0 or 1")
    return y.to_numpy().astype(np.int64)


def draw_priors(
    y: np.ndarray, has_text: np.ndarray, n_inc: int, n_exc: int, rng: np.random.Generator
) -> list[int]:
    """Prior works drawn with ``rng`` among records with text."""
    inc = np.flatnonzero((y == 1) & has_text)
    exc = np.flatnonzero((y == 0) & has_text)
    if len(inc) < n_inc or len(exc) < n_exc:
        raise InputError(
            f"cannot draw {n_inc} included and {n_exc} excluded priors from records with text "
            f"({len(inc)} included, {len(exc)} excluded available); lower --prior-included/--prior-excluded"
        )
    if n_inc < 1 or n_exc < 1:
        raise InputError("the ranker needs at least one prior inclusion and one prior exclusion")
    pi = rng.choice(inc, size=n_inc, replace=False)
    pe = rng.choice(exc, size=n_exc, replace=False)
    return [int(i) for i in np.concatenate([pi, pe])]


def rule_outcome(rule: StoppingRule, lab: np.ndarray, rng: np.random.Generator) -> RuleOutcome:
    """Where ``rule`` stops on the labels in screening order ``lab``, and what it found."""
    s = rule.simulate(lab, rng)
    target = getattr(rule, "recall", None)
    rec = s.found / int(lab.sum())
    return RuleOutcome(
        rule=rule.name,
        screened=s.screened,
        recall=rec,
        work_saved=1 - s.screened / len(lab),
        stopped=s.stopped,
        target=target,
        target_met=None if target is None else bool(rec >= target - 1e-12),
    )


# ----------------------------------------------------------------------------- loop
def refit_due(n_labelled: int, since_fit: int, last_relevant: bool, refit_share: float) -> bool:
    """Refit after every inclusion, and after ``max(1, share·labelled)`` exclusions."""
    if last_relevant:
        return True
    return since_fit >= max(1, int(refit_share * n_labelled))


def run_loop(
    X: Any,
    y: np.ndarray,
    prior_idx: list[int],
    model: Ranker,
    query: Query,
    *,
    refit_share: float = 0.0,
    stop_when_all_found: bool = True,
) -> tuple[np.ndarray, int]:
    """Screen by active learning; return the order of all works and the number of fits.

    The ranker sees the labels of the screened works only: it is fitted on ``X`` with
    ``y_seen`` = the label once a work is screened and -1 (unlabelled) before.
    """
    N = X.shape[0]
    labelled = np.zeros(N, dtype=bool)
    order: list[int] = list(prior_idx)
    labelled[prior_idx] = True
    y_seen = np.full(N, UNLABELLED, dtype=np.int64)
    y_seen[prior_idx] = y[prior_idx]
    total = int(y.sum())
    found = int(y[prior_idx].sum())
    query.reset()
    n_fits = 0
    since_fit = 10**9
    last_rel = True
    scores = np.zeros(N)
    while len(order) < N:
        if stop_when_all_found and found >= total:
            break
        if refit_due(len(order), since_fit, last_rel, refit_share):
            model.fit(X, y_seen)
            scores = model.score(X)
            n_fits += 1
            since_fit = 0
        cand = np.flatnonzero(~labelled)
        pick = int(query.order(scores, cand, 1)[0])
        labelled[pick] = True
        y_seen[pick] = y[pick]
        order.append(pick)
        since_fit += 1
        last_rel = bool(y[pick])
        found += int(y[pick])
    if len(order) < N:
        rest = np.flatnonzero(~labelled)
        rest = rest[np.argsort(-scores[rest], kind="stable")]
        order.extend(int(i) for i in rest)
    return np.asarray(order, dtype=np.int64), n_fits


def simulate(
    df: pd.DataFrame,
    *,
    model: str | Ranker = "default",
    model_params: dict[str, Any] | None = None,
    features: FeatureConfig | None = None,
    query: str = "max",
    query_params: dict[str, Any] | None = None,
    prior_included: int = 1,
    prior_excluded: int = 1,
    seed: int = 0,
    stopping: Sequence[str | StoppingRule] = DEFAULT_RULES,
    recall_target: float = 0.95,
    refit_share: float = 0.075,
    dataset: str = "",
    X: Any = None,
) -> SimulationResult:
    """Replay ``df`` (columns ``title``, ``abstract``, ``label_included``) by active learning.

    Parameters
    ----------
    model : ranker name (``default``, ``nb``, ``logistic``, ``svm``, ``ensemble``) or instance
    seed : draws the priors, seeds the ranker and the query strategy and the stopping rules'
        random phase — one generator per run
    stopping : stopping rules (names or instances) to evaluate on the screening order
    query, query_params : the query strategy's name (``max``, ``mixed``...) and parameters
    refit_share : 0 refits after every decision; s > 0 (default 0.075) refits after every
        inclusion and after ``max(1, s·(works screened))`` exclusions — 10-20x fewer refits
        on the benchmark sets; for the earlier default ranker WSS@95 stayed within 0.01 of
        refitting every time (see :mod:`fmreview.screening.models` for the measurements)
    X : a precomputed feature matrix for ``df`` (skips feature extraction; timed apart)
    """
    t0 = time.perf_counter()
    y = labels_from_frame(df)
    cols = columns_from_frame(df)
    if y.sum() == 0:
        raise InputError(
            "the dataset has no included records (label_included = 1); nothing to find"
        )
    rng = np.random.default_rng(seed)
    has_text = cols.has_text()
    priors = draw_priors(y, has_text, prior_included, prior_excluded, rng)
    fcfg = features or FeatureConfig()
    if X is None:
        X = build_features(cols, fcfg)
    sub_seed = int(rng.integers(2**31 - 1))
    ranker = model if isinstance(model, Ranker) else get_model(model, **(model_params or {}))
    ranker.random_state = sub_seed
    q = get_query(query, **{**(query_params or {}), "random_state": sub_seed + 1})
    # works with neither title nor abstract are held apart: the ranker neither trains on
    # their empty rows nor ranks them (they would sit at the intercept's score, among the
    # text it learns from); they are screened last, by hand, and reported separately
    text_idx = np.flatnonzero(has_text)
    no_text = np.flatnonzero(~has_text)
    if len(no_text):
        pos = np.full(len(y), -1, dtype=np.int64)
        pos[text_idx] = np.arange(len(text_idx))
        sub_order, n_fits = run_loop(
            X[text_idx],
            y[text_idx],
            [int(pos[i]) for i in priors],
            ranker,
            q,
            refit_share=refit_share,
        )
        order = np.concatenate([text_idx[sub_order], no_text])
    else:
        order, n_fits = run_loop(X, y, priors, ranker, q, refit_share=refit_share)
    wall = time.perf_counter() - t0  # the simulation proper: features + active learning
    lab = y[order]
    rules: list[StoppingRule] = [
        get_stopping_rule(r, recall=recall_target)
        if r in _TARGETED
        else (get_stopping_rule(r) if isinstance(r, str) else r)
        for r in stopping
    ]
    outcomes = {rule.name: rule_outcome(rule, lab, rng) for rule in rules}
    N = len(y)
    return SimulationResult(
        dataset=dataset,
        n_records=N,
        n_included=int(y.sum()),
        seed=seed,
        config={
            "model": ranker.to_meta(),
            "features": fcfg.to_meta(),
            "query": q.to_meta(),
            "prior_included": prior_included,
            "prior_excluded": prior_excluded,
            "refit_share": refit_share,
            "stopping": [r.to_meta() for r in rules],
        },
        prior_idx=priors,
        order=order,
        labels=lab,
        wss95=wss(lab, 0.95),
        wss100=wss(lab, 1.0),
        recall10=recall_at(lab, 0.10),
        screened95=screened_to(lab, 0.95),
        screened100=screened_to(lab, 1.0),
        atd=average_time_to_discovery(lab, n_prior=len(priors)),
        n_fits=n_fits,
        n_no_text=int(len(no_text)),
        no_text_included=int(y[no_text].sum()),
        wall_time=wall,
        stopping_time=time.perf_counter() - t0 - wall,
        stopping=outcomes,
    )


#: Column names accepted for each field, as ASReview and the SYNERGY datasets spell them
#: (compared case-insensitively, spaces and dashes read as underscores).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "label_included": (
        "label_included",
        "included",
        "final_included",
        "label",
        "included_label",
        "included_final",
        "included_flag",
        "include",
    ),
    "title": ("title", "primary_title"),
    "abstract": ("abstract", "abstract_note", "notes_abstract"),
    "keywords": ("keywords",),
}


def normalise_columns(df: pd.DataFrame, source: str = "the data") -> pd.DataFrame:
    """Rename ASReview/SYNERGY column spellings to ``title, abstract, label_included``.

    The first alias present wins (e.g. ``label_included`` over ``included``); other
    columns are kept unchanged.
    """
    key = {c: str(c).strip().lower().replace(" ", "_").replace("-", "_") for c in df.columns}
    by_key: dict[str, Any] = {}
    for c, k in key.items():
        by_key.setdefault(k, c)
    rename: dict[Any, str] = {}
    for field_name, aliases in COLUMN_ALIASES.items():
        if field_name in df.columns:
            continue
        for a in aliases:
            if a in by_key and by_key[a] not in rename:
                rename[by_key[a]] = field_name
                break
    return df.rename(columns=rename)


def read_dataset(path: str | Path) -> pd.DataFrame:
    """Read a labelled CSV/TSV/XLSX with a title and/or abstract and 0/1 inclusion labels.

    Columns may be spelt as ASReview and the SYNERGY datasets do (``included``,
    ``final_included``, ``primary_title``, ``notes_abstract``... see
    :data:`COLUMN_ALIASES`). Labels must be 0 or 1 (also ``true``/``false``); a bad one is
    reported with the file, its line and the value found.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    try:
        if p.suffix.lower() in (".xlsx", ".xls"):
            df = pd.read_excel(p)
        else:
            df = pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{p}: cannot read as a table ({exc})") from exc
    df = normalise_columns(df, str(p))
    if "title" not in df.columns and "abstract" not in df.columns:
        raise InputError(
            f"{p}: no title or abstract column; found {', '.join(map(str, df.columns))}; "
            "expected e.g. record_id,title,abstract,label_included"
        )
    if "label_included" not in df.columns:
        raise InputError(
            f"{p}: no label column; found {', '.join(map(str, df.columns))}; expected one of "
            + ", ".join(COLUMN_ALIASES["label_included"])
        )
    lab = df["label_included"]
    if lab.dtype == object or str(lab.dtype).startswith("str"):
        low = lab.astype("string").str.strip().str.lower()
        lab = low.map({"1": 1, "0": 0, "true": 1, "false": 0, "1.0": 1, "0.0": 0})
    num = pd.to_numeric(lab, errors="coerce")
    bad = num.isna().to_numpy() | ~np.isin(num.to_numpy(dtype=float, na_value=np.nan), (0, 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        line = f"line {i + 2}" if p.suffix.lower() in (".csv", ".tsv") else f"row {i + 1}"
        raise InputError(
            f"{p} {line}: label_included holds {df['label_included'].iloc[i]!r}; "
            "expected 0 (excluded) or 1 (included) for every record"
        )
    return df.assign(label_included=num.astype(np.int64))


def plot_recall(results: Sequence[SimulationResult], path: str | Path) -> Path:
    """Draw recall curves (one per result) with the random-screening diagonal to PNG/SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in results:
        curve = recall_curve(r.labels)
        x = np.arange(1, len(curve) + 1) / len(curve)
        ax.plot(
            x, curve, lw=1.2, label=f"{r.dataset or 'data'} seed {r.seed} (WSS@95 {r.wss95:.3f})"
        )
        for name, o in r.stopping.items():
            ax.plot(o.screened / r.n_records, o.recall, "o", ms=4)
            ax.annotate(name, (o.screened / r.n_records, o.recall), fontsize=6)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="random")
    ax.axhline(0.95, color="grey", lw=0.5)
    ax.set_xlabel("share of records screened")
    ax.set_ylabel("recall")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
