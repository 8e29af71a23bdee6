"""Screening rankers under the estimator contract (STYLE.md 4).

Every ranker takes keyword-only parameters stored unchanged, learns in :meth:`fit` (which
returns ``self``), keeps learned state in ``trailing_underscore_`` attributes, and scores
works with :meth:`score` (higher = more likely relevant). Class imbalance is handled by
sample weights (:func:`balanced_weights`): with ``balance_ratio = r`` the included works
together weigh ``r`` times as much as the excluded ones.

Names (``get_model``): ``nb``, ``logistic`` (the default), ``svm``, ``ensemble`` (linear SVM
+ logistic regression, scores standardised and averaged).

The default was chosen by seed-averaged WSS@95 (seeds 1-5, one prior inclusion and one
prior exclusion) on the six SYNERGY sets of ``benchmarks/screening.py``, one setting for all
sets: word uni+bigram TF-IDF with the title counted twice, L2 logistic regression C=10 with
the included class weighted 4x the excluded class in total. Means over the six sets (refit
share 0.02): logistic 0.711 (0.717 with the doubled title), logistic C=30 0.716, SVM+logistic
ensemble 0.707, SVM C=0.5 0.709 (3 seeds), ASReview-like SVM C=0.11 0.691 (3 seeds, refit
share 0.05); character n-grams did not pay for their cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from fmreview.errors import InputError, unknown_name


def balanced_weights(y: np.ndarray, ratio: float | None) -> np.ndarray:
    """Sample weights giving the included class ``ratio`` times the excluded class's total.

    Weights are rescaled to average 1. ``ratio=None`` gives every sample weight 1.
    """
    y = np.asarray(y)
    n1 = int((y == 1).sum())
    n0 = int((y == 0).sum())
    if ratio is None or n1 == 0 or n0 == 0:
        return np.ones(len(y), dtype=np.float64)
    w = np.where(y == 1, 1.0, n1 / (ratio * n0))
    return w * (len(y) / w.sum())


def linear_score(X: Any, est: Any) -> np.ndarray:
    """``X @ coef + intercept`` in X's own dtype.

    Hand-written instead of ``est.decision_function`` because that validates (and for a
    float32 matrix copies to float64) the whole matrix on every call: 100k works cost
    seconds that way, ~30 ms this way.
    """
    w = np.asarray(est.coef_).ravel().astype(X.dtype, copy=False)
    b = float(np.ravel(est.intercept_)[0]) if np.ndim(est.intercept_) else float(est.intercept_)
    return np.asarray(X @ w, dtype=np.float64).ravel() + b


def fit_linear(est: Any, X: Any, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit a linear sklearn estimator; return its coefficients (in X's dtype) and intercept.

    (Fitting on the training rows' non-zero columns only was tried: the same solution, but
    slicing the columns cost more than it saved, 0.8 s against 0.4 s at 100k works.)
    """
    est.fit(X, y, sample_weight=w)
    return np.asarray(est.coef_).ravel().astype(X.dtype), float(np.ravel(est.intercept_)[0])


def _check_xy(X: Any, y: Any) -> np.ndarray:
    y = np.asarray(y).astype(int)
    if X.shape[0] != len(y):
        raise InputError(f"X has {X.shape[0]} rows but y has {len(y)} labels")
    classes = set(np.unique(y).tolist())
    if classes != {0, 1}:
        raise InputError(
            f"training labels must hold both 0 (excluded) and 1 (included); found {sorted(classes)}. "
            "Screen at least one included and one excluded work first"
        )
    return y


class Ranker:
    """Base class: parameter handling shared by the rankers (like sklearn's BaseEstimator)."""

    name = "base"
    _params: tuple[str, ...] = ()
    random_state: int | None = None

    def get_params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self._params}

    def to_meta(self) -> dict[str, Any]:
        """Component name and parameters (rebuild with :func:`model_from_meta`)."""
        return {"name": self.name, "params": self.get_params()}

    def fit(self, X: Any, y: Any) -> Ranker:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class NaiveBayes(Ranker):
    """Complement naive Bayes (Rennie et al. 2003), robust to class imbalance.

    Scores are the log-odds of inclusion.
    """

    name = "nb"
    _params = ("alpha", "balance_ratio", "random_state")

    def __init__(
        self,
        *,
        alpha: float = 0.5,
        balance_ratio: float | None = 1.0,
        random_state: int | None = None,
    ) -> None:
        self.alpha = alpha
        self.balance_ratio = balance_ratio
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> NaiveBayes:
        y = _check_xy(X, y)
        self.estimator_ = ComplementNB(alpha=self.alpha).fit(
            X, y, sample_weight=balanced_weights(y, self.balance_ratio)
        )
        return self

    def score(self, X: Any) -> np.ndarray:
        # ComplementNB's joint log-likelihood is X @ feature_log_prob_.T; the log-odds is
        # computed directly (as in linear_score) to avoid re-validating X on every call
        flp = self.estimator_.feature_log_prob_
        w = (flp[1] - flp[0]).astype(X.dtype, copy=False)
        return np.asarray(X @ w, dtype=np.float64).ravel()


class Logistic(Ranker):
    """L2 logistic regression.

    ``solver="liblinear"`` with ``dual=True`` (default) is the fastest on small training
    sets with many features (fewer rows than columns); with ``solver="lbfgs"`` and ``warm_start`` a refit starts from the last solution.
    """

    name = "logistic"
    _params = ("C", "balance_ratio", "solver", "dual", "warm_start", "max_iter", "random_state")

    def __init__(
        self,
        *,
        C: float = 10.0,
        balance_ratio: float | None = 4.0,
        solver: str = "liblinear",
        dual: bool = True,
        warm_start: bool = True,
        max_iter: int = 200,
        random_state: int | None = None,
    ) -> None:
        self.C = C
        self.balance_ratio = balance_ratio
        self.solver = solver
        self.dual = dual
        self.warm_start = warm_start
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> Logistic:
        y = _check_xy(X, y)
        est = getattr(self, "estimator_", None)
        # liblinear cannot warm-start; lbfgs can (and then starts from the last solution)
        warm = self.warm_start and self.solver != "liblinear"
        if est is None or not warm or est.coef_.shape[1] != X.shape[1]:
            rng = np.random.default_rng(self.random_state)
            est = LogisticRegression(
                C=self.C,
                solver=self.solver,
                dual=self.dual and self.solver == "liblinear",
                max_iter=self.max_iter if self.solver != "liblinear" else max(self.max_iter, 1000),
                warm_start=warm,
                tol=1e-3,
                random_state=int(rng.integers(2**31 - 1)),
            )
        sw = balanced_weights(y, self.balance_ratio)
        self.coef_, self.intercept_ = fit_linear(est, X, y, sw)
        self.estimator_ = est
        self.n_iter_ = int(np.max(est.n_iter_))
        return self

    def score(self, X: Any) -> np.ndarray:
        return linear_score(X, self)


class SVM(Ranker):
    """Linear support vector machine (liblinear, squared hinge loss)."""

    name = "svm"
    _params = ("C", "balance_ratio", "random_state")

    def __init__(
        self, *, C: float = 0.2, balance_ratio: float | None = 9.8, random_state: int | None = None
    ) -> None:
        self.C = C
        self.balance_ratio = balance_ratio
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> SVM:
        y = _check_xy(X, y)
        rng = np.random.default_rng(self.random_state)
        self.estimator_ = LinearSVC(
            C=self.C, loss="squared_hinge", dual=True, random_state=int(rng.integers(2**31 - 1))
        )
        self.coef_, self.intercept_ = fit_linear(
            self.estimator_, X, y, balanced_weights(y, self.balance_ratio)
        )
        return self

    def score(self, X: Any) -> np.ndarray:
        return linear_score(X, self)


class Ensemble(Ranker):
    """Average of member rankers' standardised scores.

    Each member's scores over the works being ranked are centred and scaled by their
    standard deviation before a weighted mean, so members on different scales (SVM margins,
    log-odds) count as the ``weights`` say.
    """

    name = "ensemble"
    _params = ("members", "weights", "random_state")

    def __init__(
        self,
        *,
        members: tuple[str, ...] = ("svm", "logistic"),
        weights: tuple[float, ...] | None = None,
        member_params: dict[str, dict[str, Any]] | None = None,
        random_state: int | None = None,
    ) -> None:
        self.members = members
        self.weights = weights
        self.member_params = member_params
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        d = super().get_params()
        d["member_params"] = self.member_params
        return d

    def fit(self, X: Any, y: Any) -> Ensemble:
        y = _check_xy(X, y)
        rng = np.random.default_rng(self.random_state)
        old = {m.name: m for m in getattr(self, "estimators_", [])}
        ests = []
        for name in self.members:
            params = dict((self.member_params or {}).get(name, {}))
            est = old.get(name)
            if est is None:
                est = get_model(name, **params)
            est.random_state = int(rng.integers(2**31 - 1))
            ests.append(est.fit(X, y))
        self.estimators_ = ests
        return self

    def score(self, X: Any) -> np.ndarray:
        w = self.weights or (1.0,) * len(self.estimators_)
        total = np.zeros(X.shape[0], dtype=np.float64)
        for wi, est in zip(w, self.estimators_, strict=True):
            s = est.score(X)
            sd = s.std()
            total += wi * (s - s.mean()) / (sd if sd > 0 else 1.0)
        return total / float(sum(w))


MODELS: dict[str, type[Ranker]] = {
    "nb": NaiveBayes,
    "logistic": Logistic,
    "svm": SVM,
    "ensemble": Ensemble,
}

#: The default ranker's name; tuned on the SYNERGY benchmark sets (see benchmarks/screening.py).
DEFAULT_MODEL = "logistic"


def get_model(name: str = "default", **params: Any) -> Ranker:
    """Build a ranker by name (``default`` = :data:`DEFAULT_MODEL`).

    Raises :class:`~fmreview.errors.NotFoundError` listing the available names.
    """
    if name == "default":
        name = DEFAULT_MODEL
    if name not in MODELS:
        raise unknown_name("screening model", name, [*MODELS, "default"])
    try:
        return MODELS[name](**params)
    except TypeError as exc:
        raise InputError(f"screening model {name!r}: {exc}") from exc


def model_from_meta(meta: dict[str, Any]) -> Ranker:
    """Rebuild a ranker from :meth:`Ranker.to_meta` output."""
    params = dict(meta.get("params", {}))
    for k in ("members", "weights"):
        if isinstance(params.get(k), list):
            params[k] = tuple(params[k])
    return get_model(meta["name"], **params)


def is_sparse(X: Any) -> bool:
    return sp.issparse(X)
