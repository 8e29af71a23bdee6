"""Agreement statistics, checked against hand computation and sklearn."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.metrics import cohen_kappa_score

from fmreview.agreement import agreement, cohen_pair, multi_rater, votes_frame
from fmreview.record import Record
from fmreview.store import add_records, schema
from fmreview.store.works import works_from_records


def test_cohen_pair_matches_hand_computation_and_sklearn() -> None:
    # 2x2 table: both include 20, a-include/b-exclude 5, a-exclude/b-include 10, both exclude 15
    a = ["include"] * 25 + ["exclude"] * 25
    b = ["include"] * 20 + ["exclude"] * 5 + ["include"] * 10 + ["exclude"] * 15
    res = cohen_pair(pd.Series(a, name="A"), pd.Series(b, name="B"))
    po = (20 + 15) / 50
    pe = (25 / 50) * (30 / 50) + (25 / 50) * (20 / 50)
    assert res.kappa == pytest.approx((po - pe) / (1 - pe), abs=1e-12)
    assert res.kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert res.observed == pytest.approx(po)
    assert res.ci_low < res.kappa < res.ci_high
    assert res.n_both == 50


def test_cohen_pair_uses_only_works_both_screened() -> None:
    a = pd.Series(["include", "exclude", None, "include"], name="A")
    b = pd.Series(["include", "exclude", "exclude", None], name="B")
    res = cohen_pair(a, b)
    assert res.n_both == 2
    assert res.kappa == pytest.approx(1.0)


def test_cohen_pair_degenerate_cases_say_why() -> None:
    same = pd.Series(["exclude"] * 5, name="A")
    res = cohen_pair(same, same.rename("B"))
    assert res.kappa is None and "one category" in res.note
    none = cohen_pair(
        pd.Series([None, "include"], name="A"), pd.Series(["include", None], name="B")
    )
    assert none.kappa is None and none.n_both == 0


def test_multi_rater_on_two_raters_without_missing_matches_cohen_style_formulas() -> None:
    rng = np.random.default_rng(3)
    a = rng.choice(["include", "exclude"], 60)
    b = np.where(rng.random(60) < 0.8, a, rng.choice(["include", "exclude"], 60))
    frame = pd.DataFrame({"A": a, "B": b})
    coefs = {c.name: c for c in multi_rater(frame, n_boot=200)}
    po = float(np.mean(a == b))
    pi = (np.mean(a == "include") + np.mean(b == "include")) / 2
    # Gwet's AC1 for two categories: pe = 2*pi*(1-pi)
    ac1 = (po - 2 * pi * (1 - pi)) / (1 - 2 * pi * (1 - pi))
    assert coefs["Gwet's AC1"].value == pytest.approx(ac1, abs=1e-12)
    # Fleiss' kappa (Scott's pi for two raters): pe = pi^2 + (1-pi)^2
    fk = (po - (pi**2 + (1 - pi) ** 2)) / (1 - (pi**2 + (1 - pi) ** 2))
    assert coefs["Fleiss' kappa"].value == pytest.approx(fk, abs=1e-12)
    for c in coefs.values():
        assert c.ci_low is not None and c.ci_low <= c.value <= c.ci_high


def test_multi_rater_matches_irrcac_with_missing_votes() -> None:
    # Values printed by irrCAC 0.4.4 (Gwet's R package port; rounded to 5 digits) on this data.
    frame = pd.DataFrame(
        {
            "r1": ["inc", "exc", "exc", "inc", "exc", "exc", None],
            "r2": ["inc", "exc", "inc", "inc", "exc", "exc", "exc"],
            "r3": [None, "exc", "inc", "inc", "exc", None, "exc"],
        }
    ).replace({"inc": "include", "exc": "exclude"})
    coefs = {c.name: c.value for c in multi_rater(frame, n_boot=20)}
    assert coefs["Fleiss' kappa"] == pytest.approx(0.79808, abs=5e-6)
    assert coefs["Krippendorff's alpha"] == pytest.approx(0.77922, abs=5e-6)
    two = {c.name: c.value for c in multi_rater(frame[["r1", "r2"]], n_boot=20)}
    assert two["Gwet's AC1"] == pytest.approx(0.69182, abs=5e-6)


def test_fleiss_matches_statsmodels_without_missing_votes() -> None:
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    rng = np.random.default_rng(7)
    base = rng.choice(["include", "exclude"], 40)
    frame = pd.DataFrame(
        {
            r: np.where(rng.random(40) < 0.75, base, rng.choice(["include", "exclude"], 40))
            for r in "ABC"
        }
    )
    table, _ = aggregate_raters(frame.to_numpy())
    coefs = {c.name: c.value for c in multi_rater(frame, n_boot=20)}
    assert coefs["Fleiss' kappa"] == pytest.approx(fleiss_kappa(table), abs=1e-12)


def test_krippendorff_matches_the_krippendorff_package() -> None:
    import krippendorff

    rng = np.random.default_rng(11)
    base = rng.choice(["include", "exclude"], 50)
    frame = pd.DataFrame(
        {
            r: np.where(rng.random(50) < 0.7, base, rng.choice(["include", "exclude"], 50))
            for r in "ABCD"
        }
    ).astype(object)
    frame = frame.mask(rng.random(frame.shape) < 0.3)  # partial overlap
    codes = (
        frame.apply(lambda col: col.map({"exclude": 0.0, "include": 1.0})).to_numpy(dtype=float).T
    )
    expected = krippendorff.alpha(reliability_data=codes, level_of_measurement="nominal")
    coefs = {c.name: c.value for c in multi_rater(frame, n_boot=20)}
    assert coefs["Krippendorff's alpha"] == pytest.approx(expected, abs=1e-12)


def test_multi_rater_allows_partial_overlap() -> None:
    frame = pd.DataFrame(
        {
            "A": ["include", "exclude", "exclude", None, "include", "exclude"],
            "B": ["include", "exclude", None, "exclude", "include", "include"],
            "C": [None, "exclude", "exclude", "exclude", None, "exclude"],
        }
    )
    coefs = multi_rater(frame)
    assert {c.name for c in coefs} == {"Gwet's AC1", "Fleiss' kappa", "Krippendorff's alpha"}
    assert all(c.n_works == 6 and c.value is not None and -1 <= c.value <= 1 for c in coefs)


def test_agreement_from_the_store(minimal_store) -> None:  # type: ignore[no-untyped-def]
    s = minimal_store
    with s.run("import", {}) as run:
        add_records(
            s,
            [Record(title=f"t{i}", raw={"i": i}) for i in range(6)],
            source="a",
            source_kind="file",
            run_id=run.id,
        )
        works_from_records(s, run.id)
    votes = [
        (1, "ann", "include"),
        (1, "bob", "include"),
        (2, "ann", "exclude"),
        (2, "bob", "exclude"),
        (3, "ann", "include"),
        (3, "bob", "exclude"),
        (4, "ann", "maybe"),
        (4, "bob", "include"),
        (5, "ann", "exclude"),
        (3, "bob", "include"),
    ]  # bob changes his mind on 3: latest counts
    with s.begin() as conn:
        for wid, who, lab in votes:
            conn.execute(
                sa.insert(schema.decisions).values(
                    work_id=wid,
                    stage="title_abstract",
                    reviewer=who,
                    label=lab,
                    note="",
                    created_at=s.clock(),
                )
            )
    frame = votes_frame(s)
    assert frame.loc[3, "bob"] == "include" and frame.loc[4, "ann"] == "include"
    rep = agreement(s)
    (pair,) = rep.pairs
    assert pair.n_both == 4 and pair.observed == 1.0
    assert rep.as_dict()["overlap"].startswith("Cohen's kappa per pair")
    assert math.isclose(pair.kappa, 1.0)


def test_undo_withdraws_a_vote_in_status_and_agreement(minimal_store) -> None:  # type: ignore[no-untyped-def]
    from fmreview.status import work_statuses

    s = minimal_store
    with s.run("import", {}) as run:
        add_records(
            s, [Record(title="t", raw={"i": 1})], source="a", source_kind="file", run_id=run.id
        )
        works_from_records(s, run.id)
    with s.begin() as conn:
        for lab in ("include", "undo"):
            conn.execute(
                sa.insert(schema.decisions).values(
                    work_id=1,
                    stage="title_abstract",
                    reviewer="ann",
                    label=lab,
                    note="",
                    created_at=s.clock(),
                )
            )
    assert work_statuses(s)[1].status == "awaiting_screening"
    assert votes_frame(s).empty
