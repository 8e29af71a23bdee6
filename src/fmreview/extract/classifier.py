"""Supervised classifiers per taxonomy axis: TF-IDF features and logistic regression.

Trained on labelled works (the curated lists' labels plus every human confirmation and
correction). A single-valued axis is one multinomial logistic regression; a multi-valued
axis is one-vs-rest (one binary model per value with enough examples). Confidence is the
model's predicted probability: logistic regression minimises log-loss, so its
probabilities are calibrated in the sense that matters here (ranking labels for review);
``class_weight='balanced'`` trades a little calibration for recall on rare values
(vision-only studies are ~13% of the list labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from fmreview.errors import InputError


def _features(ngram_range: tuple[int, int], char: bool) -> FeatureUnion:
    parts: list[tuple[str, Any]] = [
        (
            "word",
            TfidfVectorizer(
                ngram_range=ngram_range,
                sublinear_tf=True,
                min_df=1,
                token_pattern=r"(?u)\b\w[\w-]*\b",
            ),
        )
    ]
    if char:
        parts.append(
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2
                ),
            )
        )
    return FeatureUnion(parts)


@dataclass(eq=False, kw_only=True)
class _Params:
    """The parameters every classifier here shares (keyword-only, stored unchanged: the
    estimator contract; a dataclass so the two classes declare them once)."""

    C: float = 4.0
    min_examples: int = 3
    min_train: int = 20
    ngram_range: tuple[int, int] = (1, 2)
    char: bool = True
    random_state: int | None = 0

    def shared_params(self) -> dict[str, Any]:
        """The shared parameters by name (``C``, ..., ``random_state``)."""
        return {f.name: getattr(self, f.name) for f in fields(_Params)}


@dataclass(eq=False, kw_only=True)
class AxisClassifier(_Params):
    """One axis's classifier (estimator contract: keyword-only params, ``fit`` returns self).

    Parameters
    ----------
    multi : bool
        Multi-valued axis (one-vs-rest) or single-valued (multinomial).
    C : float
        Inverse regularisation strength of the logistic regressions.
    min_examples : int
        A value needs at least this many positive examples to get a model.
    min_train : int
        An axis needs at least this many labelled texts to get a model (works without a
        label on a multi-valued axis are not negatives: the lists simply do not say).
    ngram_range : tuple of int
        Word n-grams of the TF-IDF features.
    char : bool
        Add character 3-5-grams (robust to model names like MedSAM, CXR-CLIP).
    random_state : int or None
        Seed of the solver (one generator per fit).
    """

    multi: bool = False

    def _lr(self, rng: np.random.Generator, *, balanced: bool) -> LogisticRegression:
        # liblinear: fast on small sparse problems, single-threaded (no BLAS oversubscription)
        return LogisticRegression(
            C=self.C,
            class_weight="balanced" if balanced else None,
            solver="liblinear",
            max_iter=2000,
            random_state=int(rng.integers(2**31 - 1)),
        )

    def fit(self, texts: Sequence[str], labels: Sequence[Sequence[str]]) -> AxisClassifier:
        """Fit on texts and their value sets (one set per text; empty sets are skipped)."""
        if len(texts) != len(labels):
            raise InputError(f"{len(texts)} texts but {len(labels)} label sets; give one per text")
        keep = [i for i, lab in enumerate(labels) if lab]
        docs = [texts[i] for i in keep]
        enough = len(docs) >= max(self.min_train, 2)
        self.vectorizer_ = _features(self.ngram_range, self.char).fit(docs) if enough else None
        X = self.vectorizer_.transform(docs) if self.vectorizer_ is not None else None
        return self.fit_features(X, [labels[i] for i in keep])

    def fit_features(self, X: Any, labels: Sequence[Sequence[str]]) -> AxisClassifier:
        """Fit on a feature matrix (rows with empty label sets are skipped)."""
        rng = np.random.default_rng(self.random_state)
        if not hasattr(self, "vectorizer_"):
            self.vectorizer_ = None
        keep = [i for i, lab in enumerate(labels) if lab]
        sets = [list(labels[i]) for i in keep]
        counts: dict[str, int] = {}
        for s in sets:
            for v in set(s):
                counts[v] = counts.get(v, 0) + 1
        self.classes_ = sorted(v for v, n in counts.items() if n >= self.min_examples)
        self.n_train_ = len(sets)
        self.models_: dict[str, LogisticRegression] = {}
        self.single_: LogisticRegression | None = None
        self.constant_: str | None = None
        self.fitted_ = bool(len(sets) >= self.min_train and self.classes_)
        if not self.fitted_:
            return self
        X = X[keep]
        if self.multi:
            for v in self.classes_:
                y = np.array([v in s for s in sets], dtype=int)
                if 0 < y.sum() < len(y):
                    self.models_[v] = self._lr(rng, balanced=True).fit(X, y)
        else:
            first = [s[0] for s in sets]
            rows = [i for i, v in enumerate(first) if v in self.classes_]
            ys = [first[i] for i in rows]
            if len(set(ys)) == 1:
                self.constant_ = ys[0]
            elif rows:
                self.single_ = self._lr(rng, balanced=True).fit(X[rows], ys)
        return self

    def predict_proba(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Per text, each value's probability (single-valued: they sum to 1)."""
        if self.vectorizer_ is None or not self.fitted_:
            return [{} for _ in texts]
        return self.proba_features(self.vectorizer_.transform(list(texts)))

    def proba_features(self, X: Any) -> list[dict[str, float]]:
        """:meth:`predict_proba` on a feature matrix."""
        n = X.shape[0]
        if not self.fitted_:
            return [{} for _ in range(n)]
        if self.constant_ is not None:
            return [{self.constant_: 1.0} for _ in range(n)]
        out: list[dict[str, float]] = [{} for _ in range(n)]
        if self.multi:
            for v, m in self.models_.items():
                p = m.predict_proba(X)[:, 1]
                for i, pi in enumerate(p):
                    out[i][v] = float(pi)
        elif self.single_ is not None:
            P = self.single_.predict_proba(X)
            for i in range(n):
                out[i] = {str(c): float(P[i, j]) for j, c in enumerate(self.single_.classes_)}
        return out

    def _coef(self, value: str) -> np.ndarray | None:
        if self.multi:
            m = self.models_.get(value)
            return None if m is None else np.asarray(m.coef_[0])
        if self.single_ is None:
            return None
        classes = [str(c) for c in self.single_.classes_]
        if value not in classes:
            return None
        j = classes.index(value)
        if len(classes) == 2:  # binary LR keeps one row, for classes_[1]
            return np.asarray(self.single_.coef_[0]) * (1.0 if j == 1 else -1.0)
        return np.asarray(self.single_.coef_[j])

    def contributions(self, x: Any, value: str) -> list[tuple[int, float]]:
        """Features of one row ``x`` (1 x n) pushing towards ``value``, largest first."""
        coef = self._coef(value)
        if coef is None or not self.fitted_:
            return []
        row = x.tocsr()
        contrib = row.data * coef[row.indices]
        order = np.argsort(-contrib)
        return [(int(row.indices[j]), float(contrib[j])) for j in order if contrib[j] > 0]

    def predict(self, texts: Sequence[str], threshold: float = 0.5) -> list[list[str]]:
        """Single-valued: the most probable value; multi-valued: values with p >= threshold."""
        res: list[list[str]] = []
        for probs in self.predict_proba(texts):
            if not probs:
                res.append([])
            elif self.multi:
                res.append(sorted(v for v, p in probs.items() if p >= threshold))
            else:
                res.append([max(probs, key=lambda k: probs[k])])
        return res


@dataclass(eq=False, kw_only=True)
class TaxonomyClassifier(_Params):
    """One :class:`AxisClassifier` per axis.

    Parameters
    ----------
    axes : dict
        Axis name to ``multi`` (bool).
    C, min_examples, min_train, ngram_range, char, random_state
        Passed to every :class:`AxisClassifier`.
    """

    axes: dict[str, bool]

    def fit(
        self, texts: Sequence[str], labels: Sequence[Mapping[str, Sequence[str]]]
    ) -> TaxonomyClassifier:
        """Fit on texts and, per text, a mapping axis -> values (missing axis = unlabelled)."""
        rng = np.random.default_rng(self.random_state)
        self.classifiers_: dict[str, AxisClassifier] = {}
        rows = [i for i, lab in enumerate(labels) if any(lab.get(a) for a in self.axes)]
        enough = len(rows) >= max(self.min_train, 2)
        self.vectorizer_ = (
            _features(self.ngram_range, self.char).fit([texts[i] for i in rows]) if enough else None
        )
        if self.vectorizer_ is None:
            return self
        X = self.vectorizer_.transform([texts[i] for i in rows])
        for axis, multi in self.axes.items():
            ys = [list(labels[i].get(axis, [])) for i in rows]
            if not any(ys):
                continue
            params = {**self.shared_params(), "random_state": int(rng.integers(2**31 - 1))}
            clf = AxisClassifier(multi=multi, **params)
            self.classifiers_[axis] = clf.fit_features(X, ys)
        return self

    def predict_proba(self, texts: Sequence[str]) -> list[dict[str, dict[str, float]]]:
        """Per text: axis -> value -> probability."""
        out: list[dict[str, dict[str, float]]] = [{} for _ in texts]
        if self.vectorizer_ is None or not texts:
            return out
        return self.proba_features(self.vectorizer_.transform(list(texts)))

    def transform(self, texts: Sequence[str]) -> Any:
        """The feature matrix of ``texts`` (None before a successful fit)."""
        return None if self.vectorizer_ is None else self.vectorizer_.transform(list(texts))

    def proba_features(self, X: Any) -> list[dict[str, dict[str, float]]]:
        """:meth:`predict_proba` on a feature matrix from :meth:`transform`."""
        out: list[dict[str, dict[str, float]]] = [{} for _ in range(X.shape[0])]
        for axis, clf in self.classifiers_.items():
            for i, probs in enumerate(clf.proba_features(X)):
                if probs:
                    out[i][axis] = probs
        return out

    def evidence_terms(self, text: str | Any, axis: str, value: str, k: int = 3) -> list[str]:
        """The words (1-2-grams) of a text that push most towards ``axis = value``.

        ``text`` is a string or its feature row (1 x n, from :meth:`transform`). Used as a
        model label's evidence (highlighted like a rule's match).
        """
        clf = self.classifiers_.get(axis)
        if clf is None or self.vectorizer_ is None:
            return []
        if not hasattr(self, "feature_names_"):
            self.feature_names_ = self.vectorizer_.get_feature_names_out()
        x = self.vectorizer_.transform([text]) if isinstance(text, str) else text
        out: list[str] = []
        for i, _w in clf.contributions(x, value):
            name = str(self.feature_names_[i])
            if name.startswith("word__"):
                term = name[len("word__") :]
                if not any(term in t or t in term for t in out):
                    out.append(term)
            if len(out) >= k:
                break
        return out

    def get_config(self) -> dict[str, Any]:
        """The configuration that rebuilds this classifier (stored with the labels it made)."""
        params = self.shared_params()
        return {"component": "tfidf-logistic", **params, "ngram_range": list(self.ngram_range)}


def classifier_text(texts: dict[str, str]) -> str:
    """The text a classifier sees: title (twice, it is the densest field) and abstract."""
    title = texts.get("title", "")
    return " \n ".join(
        t for t in (title, title, texts.get("keywords", ""), texts.get("abstract", "")) if t
    )
