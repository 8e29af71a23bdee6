"""Per-axis classifiers: estimator contract, probabilities, learning from labels."""

from __future__ import annotations

import inspect

import pytest

from fmreview.errors import InputError
from fmreview.extract.classifier import AxisClassifier, TaxonomyClassifier, classifier_text

VL = [f"zorblat encoder number {i} with captions" for i in range(12)]
VO = [f"quuxify encoder number {i} with pixels" for i in range(12)]


def test_estimator_contract() -> None:
    sig = inspect.signature(AxisClassifier.__init__)
    assert all(p.kind is p.KEYWORD_ONLY for n, p in sig.parameters.items() if n != "self")
    clf = AxisClassifier(multi=False, C=2.0, min_train=5)
    assert clf.C == 2.0 and not hasattr(clf, "classes_")
    assert clf.fit(VL + VO, [["vl"]] * 12 + [["vo"]] * 12) is clf
    assert clf.classes_ == ["vl", "vo"]


def test_single_axis_probabilities_sum_to_one() -> None:
    clf = AxisClassifier(multi=False, min_train=5).fit(VL + VO, [["vl"]] * 12 + [["vo"]] * 12)
    (p,) = clf.predict_proba(["zorblat encoder number 99 with captions"])
    assert set(p) == {"vl", "vo"} and sum(p.values()) == pytest.approx(1.0)
    assert p["vl"] > 0.5
    assert clf.predict(["quuxify encoder number 42 with pixels"]) == [["vo"]]


def test_multi_axis_is_one_vs_rest() -> None:
    texts = [f"ct scan study {i}" for i in range(10)] + [f"mri scan study {i}" for i in range(10)]
    texts += [f"ct and mri scan study {i}" for i in range(5)]
    labels = [["ct"]] * 10 + [["mri"]] * 10 + [["ct", "mri"]] * 5
    clf = AxisClassifier(multi=True, min_train=5).fit(texts, labels)
    (p,) = clf.predict_proba(["ct and mri scan study 77"])
    assert p["ct"] > 0.5 and p["mri"] > 0.5
    assert clf.predict(["ct scan study 77"]) == [["ct"]]


def test_too_little_data_gives_no_model() -> None:
    clf = AxisClassifier(multi=False).fit(VL[:3] + VO[:3], [["vl"]] * 3 + [["vo"]] * 3)
    assert clf.predict_proba(["anything"]) == [{}]
    clf = AxisClassifier(multi=False, min_train=2).fit(VL, [["vl"]] * 12)
    assert clf.predict_proba(["anything"]) == [{"vl": 1.0}]


def test_unlabelled_texts_are_skipped_and_lengths_checked() -> None:
    clf = AxisClassifier(multi=False, min_train=5).fit(
        VL + VO + ["x"], [["vl"]] * 12 + [["vo"]] * 12 + [[]]
    )
    assert clf.n_train_ == 24
    with pytest.raises(InputError, match="one per text"):
        AxisClassifier().fit(["a"], [])


def test_same_seed_same_model() -> None:
    a = TaxonomyClassifier(axes={"t": False}, min_train=5, random_state=3).fit(
        VL + VO, [{"t": ["vl"]}] * 12 + [{"t": ["vo"]}] * 12
    )
    b = TaxonomyClassifier(axes={"t": False}, min_train=5, random_state=3).fit(
        VL + VO, [{"t": ["vl"]}] * 12 + [{"t": ["vo"]}] * 12
    )
    assert a.predict_proba(["zorblat"]) == b.predict_proba(["zorblat"])
    assert a.get_config()["component"] == "tfidf-logistic"


def test_taxonomy_classifier_skips_unlabelled_axes() -> None:
    clf = TaxonomyClassifier(axes={"t": False, "u": True}, min_train=5).fit(
        VL + VO, [{"t": ["vl"]}] * 12 + [{"t": ["vo"]}] * 12
    )
    assert list(clf.classifiers_) == ["t"]
    (p,) = clf.predict_proba(["quuxify pixels"])
    assert list(p) == ["t"]


def test_classifier_text_weights_the_title() -> None:
    assert classifier_text({"title": "T", "abstract": "A"}) == "T \n T \n A"
