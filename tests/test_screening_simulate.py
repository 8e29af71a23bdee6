"""The simulation loop: inputs, refit policy, stopping outcomes, plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fmreview.errors import InputError
from fmreview.screening.features import FeatureConfig, build_features
from fmreview.screening.simulate import (
    columns_from_frame,
    labels_from_frame,
    plot_recall,
    read_dataset,
    refit_due,
    simulate,
)
from fmreview.screening.synthetic import synthetic_frame


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return synthetic_frame(80, 8, seed=4)


def test_order_is_a_permutation_and_metrics_are_consistent(df) -> None:
    res = simulate(df, model="nb", seed=3)
    assert sorted(res.order.tolist()) == list(range(len(df)))
    assert res.order[:2].tolist() == res.prior_idx
    y = df["label_included"].to_numpy()
    assert res.labels.tolist() == y[res.order].tolist()
    assert res.screened95 <= res.screened100 <= len(df)
    assert res.wss95 == pytest.approx((len(df) - res.screened95) / len(df) - 0.05)
    assert res.wss100 == pytest.approx((len(df) - res.screened100) / len(df))
    # every inclusion was found by the time the loop stopped refitting
    assert res.labels[: res.screened100].sum() == y.sum()
    for o in res.stopping.values():
        assert 0 < o.screened <= len(df)
        assert o.work_saved == pytest.approx(1 - o.screened / len(df))
        assert o.recall == pytest.approx(res.labels[: o.screened].sum() / y.sum())
    assert res.wall_time > 0 and res.stopping_time >= 0
    d = res.to_dict(with_order=True)
    assert d["order"] == res.order.tolist() and d["config"]["model"]["name"] == "nb"


def test_refit_policy() -> None:
    assert refit_due(100, 1, True, 0.05)  # an inclusion always triggers a refit
    assert not refit_due(100, 4, False, 0.05)
    assert refit_due(100, 5, False, 0.05)
    assert refit_due(10, 1, False, 0.05)  # at least every decision when share * n < 1
    assert refit_due(100, 1, False, 0.0)


def test_refitting_every_decision_fits_more_often(df) -> None:
    X = build_features(columns_from_frame(df), FeatureConfig())
    # uncertainty sampling screens many exclusions in a row, where the policies differ
    kw = {"model": "nb", "seed": 1, "X": X, "stopping": (), "query": "uncertainty"}
    every = simulate(df, refit_share=0.0, **kw)
    some = simulate(df, refit_share=0.2, **kw)
    assert every.n_fits > some.n_fits


def test_queries_and_models_run(df) -> None:
    X = build_features(columns_from_frame(df), FeatureConfig())
    for model in ("svm", "logistic", "ensemble"):
        for query in ("max", "uncertainty", "mixed"):
            res = simulate(df, model=model, query=query, seed=2, X=X, stopping=("consecutive",))
            assert res.config["query"]["name"] == query
            assert -0.05 - 1e-9 <= res.wss95 <= 1
    # the query's parameters reach it; the run's seed stays its random state
    kw = {"model": "logistic", "seed": 2, "X": X, "stopping": ()}
    all_random = simulate(
        df, query="mixed", query_params={"p_explore": 1.0, "explore": "random"}, **kw
    )
    params = all_random.config["query"]["params"]
    assert (params["p_explore"], params["explore"]) == (1.0, "random")
    assert (
        params["random_state"]
        == simulate(df, query="mixed", **kw).config["query"]["params"]["random_state"]
    )
    assert all_random.order.tolist() != simulate(df, **kw).order.tolist()


def test_bad_inputs_are_named(tmp_path, df) -> None:
    with pytest.raises(InputError, match="label_included"):
        simulate(df.drop(columns=["label_included"]))
    bad = df.copy()
    bad.loc[3, "label_included"] = 7
    with pytest.raises(InputError, match="row 4"):
        labels_from_frame(bad)
    none = df.assign(label_included=0)
    with pytest.raises(InputError, match="no included"):
        simulate(none)
    with pytest.raises(InputError, match="prior"):
        simulate(df, prior_included=100)
    with pytest.raises(InputError, match="title"):
        columns_from_frame(pd.DataFrame({"x": [1]}))
    with pytest.raises(InputError, match="no such file"):
        read_dataset(tmp_path / "missing.csv")


def test_read_dataset_and_plot_svg(tmp_path, df) -> None:
    p = tmp_path / "d.tsv"
    df.to_csv(p, sep="\t", index=False)
    again = read_dataset(p)
    assert len(again) == len(df)
    res = simulate(again, model="nb", seed=0, dataset="d")
    out = plot_recall([res], tmp_path / "curve.svg")
    assert out.read_text().lstrip().startswith("<?xml")
    assert np.isfinite(res.atd)


def test_ranker_only_ever_sees_labels_of_screened_works(df) -> None:
    from fmreview.screening.models import Logistic

    seen: list[np.ndarray] = []

    class Spy(Logistic):
        def fit(self, X, y):  # type: ignore[no-untyped-def]
            seen.append(np.asarray(y).copy())
            return super().fit(X, y)

    X = build_features(columns_from_frame(df), FeatureConfig())
    res = simulate(df, model=Spy(), seed=2, X=X, stopping=(), refit_share=0.0)
    y = df["label_included"].to_numpy()
    # the ranker sees the works with text only (rows in their order)
    text_idx = np.flatnonzero(columns_from_frame(df).has_text())
    pos = {int(w): i for i, w in enumerate(text_idx)}
    assert len(seen) == res.n_fits
    for k, labels in enumerate(seen):
        assert len(labels) == len(text_idx)
        # at fit k the first (2 + k) works of the order are screened, nothing else
        screened = res.order[: 2 + k]
        rows = [pos[int(w)] for w in screened]
        assert (labels[rows] == y[screened]).all()
        rest = np.setdiff1d(np.arange(len(text_idx)), rows)
        assert (labels[rest] == -1).all()


def test_works_without_text_are_screened_last_and_reported(df) -> None:
    df = df.copy()
    df.loc[[3, 10], ["title", "abstract"]] = None
    df.loc[3, "label_included"] = 1
    has = columns_from_frame(df).has_text()
    res = simulate(df, model="logistic", seed=1, stopping=())
    assert res.n_no_text == int((~has).sum()) >= 2
    assert res.no_text_included == int(df.loc[~has, "label_included"].sum()) >= 1
    tail = res.order[-res.n_no_text :]
    assert set(tail.tolist()) == set(np.flatnonzero(~has).tolist())
    assert sorted(res.order.tolist()) == list(range(len(df)))


def test_read_dataset_takes_asreview_and_synergy_columns(tmp_path) -> None:
    p = tmp_path / "asr.csv"
    p.write_text(
        "record_id,Primary_Title,notes_abstract,included\n"
        "1,Deep learning for X-ray,We train a model,1\n"
        "2,Knee surgery outcomes,,0\n"
        "3,Another title,An abstract,False\n"
    )
    df = read_dataset(p)
    assert {"title", "abstract", "label_included"} <= set(df.columns)
    assert df["label_included"].tolist() == [1, 0, 0]
    # a frame with the standard column wins over an alias
    q = tmp_path / "both.csv"
    q.write_text("title,abstract,label_included,label\na,b,1,0\nc,d,0,1\n")
    assert read_dataset(q)["label_included"].tolist() == [1, 0]


def test_read_dataset_names_file_line_and_value_of_a_bad_label(tmp_path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("title,abstract,label_included\na,b,1\nc,d,maybe\n")
    with pytest.raises(InputError, match=r"bad\.csv line 3: label_included holds 'maybe'"):
        read_dataset(p)
    q = tmp_path / "nolabel.csv"
    q.write_text("title,abstract\na,b\n")
    with pytest.raises(InputError, match="no label column.*included"):
        read_dataset(q)
