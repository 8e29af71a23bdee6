"""The combination policy: human > list > llm > rule > model, with thresholds."""

from __future__ import annotations

from fmreview.extract.combine import (
    DEFAULT_THRESHOLDS,
    ORDER,
    combine,
    combine_axis,
    thresholds_for,
)
from fmreview.extract.label import Label


def L(value: str, method: str, conf: float, status: str = "auto", axis: str = "a") -> Label:  # noqa: N802
    return Label(axis, value, method, conf, status=status)


def values(labs: list[Label]) -> list[str]:
    return [lab.value for lab in labs]


def test_order_is_documented() -> None:
    assert ORDER == ("human", "list", "llm", "rule", "model")
    assert DEFAULT_THRESHOLDS["list"] == 0.0 and thresholds_for(0.7)["model"] == 0.7


def test_higher_method_wins_even_when_less_confident() -> None:
    cands = [L("x", "model", 0.99), L("y", "rule", 0.6), L("z", "list", 0.7)]
    assert values(combine_axis(cands, multi=False)) == ["z"]
    assert values(combine_axis(cands[:2], multi=False)) == ["y"]


def test_below_threshold_falls_through() -> None:
    cands = [L("x", "model", 0.8), L("y", "rule", 0.4)]
    assert values(combine_axis(cands, multi=False)) == ["x"]
    assert values(combine_axis(cands, multi=True)) == ["x"]


def test_nothing_passes_the_axis_stays_unlabelled() -> None:
    # abstain rather than guess: no fallback to the best low-confidence candidate
    cands = [L("x", "model", 0.3), L("y", "rule", 0.45)]
    assert combine_axis(cands, multi=False) == []
    assert combine_axis(cands, multi=True) == []


def test_multi_axis_keeps_all_values_of_the_deciding_method() -> None:
    cands = [
        L("ct", "rule", 0.85),
        L("mri", "rule", 0.7),
        L("xray", "rule", 0.3),
        L("pet", "model", 0.9),
    ]
    assert values(combine_axis(cands, multi=True)) == ["ct", "mri"]


def test_human_correction_overrides_everything() -> None:
    cands = [
        L("x", "list", 0.9),
        L("y", "human", 1.0, "corrected"),
        L("z", "human", 1.0, "corrected"),
    ]
    assert values(combine_axis(cands, multi=True)) == ["y", "z"]


def test_confirmation_single_and_multi() -> None:
    cands = [L("x", "rule", 0.9), L("y", "human", 1.0, "confirmed")]
    assert values(combine_axis(cands, multi=False)) == ["y"]
    cands = [L("x", "rule", 0.9), L("y", "rule", 0.8), L("y", "human", 1.0, "confirmed")]
    got = combine_axis(cands, multi=True)
    assert values(got) == ["y", "x"] and got[0].method == "human"


def test_combine_groups_by_axis() -> None:
    cands = [
        L("x", "rule", 0.9, axis="a"),
        L("p", "model", 0.6, axis="b"),
        L("q", "model", 0.1, axis="b"),
    ]
    got = combine(cands, {"a": False, "b": True}, thresholds=thresholds_for(0.5))
    assert {k: values(v) for k, v in got.items()} == {"a": ["x"], "b": ["p"]}


def test_extractor_combines_rules_model_and_extra_candidates() -> None:
    from fmreview.extract.extractor import Extractor
    from fmreview.protocol import flagship_path, load_protocol

    proto = load_protocol(flagship_path())
    vl = [{"title": f"zorblat encoder number {i}"} for i in range(12)]
    vo = [{"title": f"quuxify encoder number {i}"} for i in range(12)]
    ex = Extractor(proto, classifier_params={"min_train": 5, "char": False}).fit(
        vl + vo, [{"fm_type": ["vision_language"]}] * 12 + [{"fm_type": ["vision_only"]}] * 12
    )
    texts = [{"title": "zorblat encoder number 77"}, {"title": "CLIP for quuxify encoder"}]
    res = ex.extract(texts, extra=[[], [L("vision_only", "list", 0.9, axis="fm_type")]])
    assert [(lab.value, lab.method) for lab in res[0]["fm_type"]] == [("vision_language", "model")]
    span = res[0]["fm_type"][0].evidence[0]  # the words that weighed most, as spans
    assert span.field == "title" and span.text == "zorblat"
    assert texts[0]["title"][span.start : span.end] == "zorblat"
    assert [(lab.value, lab.method) for lab in res[1]["fm_type"]] == [("vision_only", "list")]
    rule_only = (
        Extractor(proto, methods=["rule"])
        .fit([], [])
        .extract([{"title": "CLIP for quuxify encoder"}])
    )
    assert [(lab.value, lab.method) for lab in rule_only[0]["fm_type"]] == [
        ("vision_language", "rule")
    ]
