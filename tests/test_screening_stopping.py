"""Metrics of a screening order and the stopping rules, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import hypergeom

from fmreview.errors import InputError, NotFoundError
from fmreview.screening.simulate import (
    average_time_to_discovery,
    recall_at,
    recall_curve,
    screened_to,
    wss,
)
from fmreview.screening.stopping import (
    STOPPING_RULES,
    ConsecutiveIrrelevant,
    Hypergeometric,
    HypergeometricRanked,
    Knee,
    get_stopping_rule,
    hypergeom_p,
    recall_interval,
    rule_from_meta,
)

# 10 works, 3 inclusions found at positions 1, 3 and 6
ORDER = [1, 0, 1, 0, 0, 1, 0, 0, 0, 0]


def test_metrics_on_a_tiny_ranking() -> None:
    # 95% of 3 inclusions needs all 3: found at work 6 -> WSS@95 = (10 - 6)/10 - 0.05
    assert screened_to(ORDER, 0.95) == 6
    assert wss(ORDER, 0.95) == pytest.approx(0.35)
    assert wss(ORDER, 1.0) == pytest.approx(0.40)
    # 2 of 3 found after 3 works: 66.7% recall needs 3 works
    assert screened_to(ORDER, 2 / 3) == 3
    # recall after 10% (1 work) = 1/3
    assert recall_at(ORDER, 0.10) == pytest.approx(1 / 3)
    assert recall_at(ORDER, 0.5) == pytest.approx(2 / 3)
    assert recall_at(ORDER, 0.6) == pytest.approx(1.0)
    # time to discovery of the non-prior inclusions (positions 3 and 6) over N = 10
    assert average_time_to_discovery(ORDER, n_prior=1) == pytest.approx(0.45)
    assert recall_curve(ORDER).tolist()[:3] == pytest.approx([1 / 3, 1 / 3, 2 / 3])


def test_wss_of_a_random_like_order_is_near_zero() -> None:
    order = [1 if i % 10 == 9 else 0 for i in range(1000)]  # inclusions spread evenly
    assert wss(order, 0.95) == pytest.approx(0.0, abs=0.01)


def test_recall_curve_needs_an_inclusion() -> None:
    with pytest.raises(InputError):
        recall_curve([0, 0, 0])


def test_hypergeometric_p_value_by_hand() -> None:
    # 5 relevant found, none in a random sample of 10 from an urn of 40, target 95%:
    # K = floor(5/0.95 - 5) + 1 = 1 relevant would have to remain; P(miss it) = 30/40
    assert hypergeom_p(5, 0, 10, 40, 0.95) == pytest.approx(0.75)
    # 20 found, 1 of them in a sample of 30 from 100, target 90%: K = floor(20/0.9 - 19) + 1 = 4
    k_tar = math.floor(20 / 0.9 - 19) + 1
    assert k_tar == 4
    c = math.comb
    by_hand = (c(96, 30) + 4 * c(96, 29)) / c(100, 30)
    assert hypergeom_p(20, 1, 30, 100, 0.90) == pytest.approx(by_hand, rel=1e-10)
    assert by_hand == pytest.approx(hypergeom.cdf(1, 100, 4, 30), rel=1e-10)
    # K larger than the urn: recall >= target is certain
    assert hypergeom_p(100, 0, 1, 2, 0.95) == 0.0


def test_hypergeometric_check_uses_the_random_phase_only() -> None:
    rule = Hypergeometric(recall=0.95, confidence=0.95)
    ranked = [1, 1, 0, 1, 0, 0]
    sample = [0] * 30
    labels = ranked + sample
    flags = [False] * len(ranked) + [True] * len(sample)
    chk = rule.check(labels, 100, random_phase=flags)
    # 3 relevant; urn = 100 - 6 = 94 works, sample 30, k = 0: K = floor(3/.95 - 3) + 1 = 1
    assert chk.p_value == pytest.approx(hypergeom.cdf(0, 94, 1, 30))
    assert chk.phase == "random" and not chk.stop
    assert chk.recall_low is not None and chk.recall_low <= chk.recall <= chk.recall_high
    # a sample covering nearly the whole urn stops
    big = ranked + [0] * 92
    assert rule.check(big, 100, random_phase=[False] * 6 + [True] * 92).stop
    with pytest.raises(InputError):
        rule.check(labels, 100, random_phase=[True] + [False] * (len(labels) - 1))


def test_hypergeometric_ranked_phase_reports_switch() -> None:
    rule = Hypergeometric(switch_after=5)
    chk = rule.check([1, 0, 0], 50)
    assert chk.phase == "ranked" and not chk.stop and not chk.detail["switch"]
    assert rule.check([1, 0, 0, 0, 0, 0, 0], 50).detail["switch"]
    assert rule.switch_run(1000) == 5
    assert Hypergeometric(switch_after=0.04).switch_run(1000) == 40
    assert Hypergeometric(switch_after=0.001).switch_run(1000) == 20


def test_recall_interval_agrees_with_the_test() -> None:
    # the lower bound clears the target exactly when the test rejects recall < target
    for r_total, k, n, urn in [
        (10, 0, 50, 200),
        (10, 0, 150, 200),
        (30, 1, 100, 300),
        (30, 0, 280, 300),
    ]:
        p = hypergeom_p(r_total, k, n, urn, 0.95)
        rec, low, high = recall_interval(r_total, k, n, urn, 0.95)
        assert low <= rec <= high <= 1.0
        assert (p < 0.05) == (low >= 0.95), (r_total, k, n, urn, p, low)


def test_hypergeometric_random_phase_keeps_its_guarantee() -> None:
    # 18 of 20 relevant found in the ranked phase (recall 0.90 < 0.95); 2 hide in an urn of 500.
    ranked = [1] * 18 + [0] * 40
    urn = [1, 1] + [0] * 498
    labels = np.array(ranked + urn)
    rule = Hypergeometric(recall=0.95, confidence=0.95, switch_after=40)
    bad = 0
    for s in range(300):
        out = rule.simulate(labels, np.random.default_rng(s))
        assert out.stopped
        if out.found / 20 < 0.95:
            bad += 1
    assert bad / 300 <= 0.05


def test_hypergeometric_simulate_without_switch_screens_everything() -> None:
    out = Hypergeometric(switch_after=50).simulate(
        np.array([1, 0, 1, 0, 0]), np.random.default_rng(0)
    )
    assert out.screened == 5 and not out.stopped


def test_hypergeometric_ranked_matches_buscarpy_definition() -> None:
    rng = np.random.default_rng(1)
    lab = (rng.random(80) < 0.2).astype(int)
    lab[-30:] = 0
    rule = HypergeometricRanked()
    # brute force over every tail length, as in buscarpy's calculate_h0
    N = 300
    r = lab.sum()
    rev = lab[::-1]
    ks = np.cumsum(rev)
    ns = np.arange(1, len(lab) + 1)
    Ks = np.floor(r / 0.95 - (r - ks) + 1)
    brute = hypergeom.cdf(ks, N - len(lab) + ns, Ks, ns).min()
    assert rule.p_value(lab, N) == pytest.approx(brute)


def test_hypergeometric_ranked_first_stop_is_the_point_by_point_scan() -> None:
    """first_stop skips runs and bisects; the stop must be where checking after every
    work would stop (different lengths, prevalences, targets, confidences, warm-ups)."""
    rng = np.random.default_rng(5)
    stopped = 0
    for _ in range(120):  # a brute-force scan each: 300 took 7.5 s of the suite's 5 min
        n = int(rng.integers(5, 400))
        p = rng.uniform(0.01, 0.5)
        lab = (rng.random(n) < np.linspace(3 * p, p / 10, n)).astype(np.int64)
        rule = HypergeometricRanked(
            recall=float(rng.choice([0.8, 0.95, 1.0])),
            confidence=float(rng.choice([0.9, 0.95, 0.99])),
            min_screened=int(rng.integers(1, 50)),
        )
        scan = next(
            (
                s
                for s in range(rule.min_screened, n + 1)
                if lab[s - 1] == 0 and rule.p_value(lab[:s], n) < 1 - rule.confidence
            ),
            None,
        )
        assert rule.first_stop(lab, n) == scan
        stopped += scan is not None
    assert 20 < stopped < 120  # both outcomes are exercised


def test_consecutive_irrelevant_on_a_constructed_curve() -> None:
    rule = ConsecutiveIrrelevant(n=3)
    labels = [1, 0, 0, 1, 0, 0, 0, 0]
    assert rule.first_stop(labels, 100) == 7
    assert not rule.check(labels[:6], 100).stop
    assert rule.check(labels[:7], 100).stop
    assert ConsecutiveIrrelevant(n=10).first_stop(labels, 100) is None
    out = rule.simulate(labels, np.random.default_rng(0))
    assert (out.screened, out.found, out.stopped) == (7, 2, True)


def test_knee_on_a_constructed_curve() -> None:
    # 50 inclusions in the first 100 works (every other one), then only exclusions
    labels = np.array([1, 0] * 50 + [0] * 900)
    rule = Knee()
    # after the knee at ~100 the slope ratio is 0.5 * (s - 100) / 1, needed 156 - 50 = 106
    stop = rule.first_stop(labels, len(labels))
    assert stop is not None and 305 <= stop <= 315
    assert not rule.check(labels[:250], len(labels)).stop
    assert rule.check(labels[:400], len(labels)).stop
    # a straight line (no knee) never stops
    line = np.array([1 if i % 5 == 0 else 0 for i in range(1000)])
    assert rule.first_stop(line, len(line)) is None


def test_registry_and_meta() -> None:
    assert {
        "hypergeometric",
        "hypergeometric_ranked",
        "consecutive",
        "knee",
        "poisson_process",
        "negbin",
        "target",
        "qbcb",
    } <= set(STOPPING_RULES)
    for name in ("poisson_process", "negbin", "target", "qbcb"):
        rule = get_stopping_rule(name)
        assert rule_from_meta(rule.to_meta()).get_params() == rule.get_params()
    with pytest.raises(NotFoundError) as exc:
        get_stopping_rule("elbow")
    assert "knee" in str(exc.value) and "hypergeometric" in str(exc.value)
    rule = get_stopping_rule("consecutive", n=7)
    assert rule_from_meta(rule.to_meta()).get_params() == {"n": 7}
    with pytest.raises(InputError):
        get_stopping_rule("knee", bogus=1)
    with pytest.raises(InputError):
        Hypergeometric(recall=1.5)


def test_labels_must_be_binary() -> None:
    with pytest.raises(InputError):
        ConsecutiveIrrelevant(n=2).check([0, 2], 10)


# ----------------------------------------------------------------------------- counting
def _decaying(n: int, a: float, b: float, seed: int) -> np.ndarray:
    """0/1 labels drawn with rate exp(a + b * rank / n) (a ranking whose yield falls)."""
    rng = np.random.default_rng(seed)
    x = np.arange(1, n + 1) / n
    return (rng.random(n) < np.minimum(np.exp(a + b * x), 1.0)).astype(np.int64)


def test_rate_fit_recovers_a_known_exponential_rate() -> None:
    from fmreview.screening.counting import fit_rate

    lab = _decaying(20_000, math.log(0.5), -8.0, seed=1)
    fit = fit_rate(lab[:10_000], 20_000)
    assert fit is not None
    # ranks are scaled by the works screened (10,000), so the slope per span is -8 / 2
    assert fit.b == pytest.approx(-4.0, abs=0.3)
    # expected relevant works among ranks 10,001..20,000 under the true rate
    x = np.arange(10_001, 20_001) / 20_000
    truth = float(np.exp(math.log(0.5) - 8.0 * x).sum())
    assert fit.remaining == pytest.approx(truth, rel=0.3)
    assert 0 < fit.remaining_se < fit.remaining
    assert fit_rate(np.zeros(50, dtype=int), 100) is None


def test_counting_rules_stop_early_on_a_steep_ranking_and_keep_recall() -> None:
    from fmreview.screening.counting import CountingProcess, NegativeBinomial

    n = 2_000
    met = []
    for seed in range(20):
        lab = _decaying(n, math.log(0.6), -60.0, seed=seed)
        for rule in (CountingProcess(), NegativeBinomial()):
            st = rule.simulate(lab, np.random.default_rng(seed))
            assert st.stopped and st.screened < n / 2
            if rule.name == "poisson_process":
                met.append(st.found >= 0.95 * lab.sum())
    assert np.mean(met) >= 0.95


def test_counting_rule_does_not_stop_on_a_random_order() -> None:
    from fmreview.screening.counting import CountingProcess

    rng = np.random.default_rng(3)
    lab = (rng.random(1_000) < 0.05).astype(np.int64)  # flat rate: no ranking at all
    st = CountingProcess().simulate(lab, rng)
    assert st.found >= 0.95 * lab.sum()
    assert st.screened > 900


def test_counting_rule_check_reports_bound_and_needs_a_relevant_work() -> None:
    from fmreview.screening.counting import CountingProcess

    rule = CountingProcess(min_screened=10)
    assert not rule.check(np.zeros(30, dtype=int), 100).stop
    lab = np.zeros(400, dtype=int)
    lab[[0, 1, 2, 4, 6, 9, 13, 20]] = 1
    chk = rule.check(lab, 1_000)
    assert chk.stop and chk.recall_low is not None and chk.recall_low >= 0.95
    assert chk.detail["remaining"] < 0.5
    assert not rule.check(lab[:15], 1_000).stop  # too early to be sure
    assert rule.check(lab, 400).stop and rule.check(lab, 400).recall == 1.0
    with pytest.raises(InputError, match="recall"):
        CountingProcess(recall=1.5)


# ----------------------------------------------------------------------------- targets
def test_target_method_needs_59_targets_for_95_95() -> None:
    from fmreview.screening.target import targets_needed

    assert targets_needed(0.95, 0.95) == 59  # 0.95**59 = 0.0485 <= 0.05 < 0.95**58
    assert 0.95**59 <= 0.05 < 0.95**58
    assert targets_needed(0.7, 0.95) == 9
    with pytest.raises(InputError):
        targets_needed(1.0, 0.95)


def test_qbcb_count_is_the_smallest_certifying_order_statistic() -> None:
    from scipy.stats import beta

    from fmreview.screening.target import qbcb_count

    assert qbcb_count(10, 0.95, 0.95) is None  # even all 10 do not certify 95%
    j = qbcb_count(200, 0.8, 0.95)
    assert j is not None
    assert beta.sf(0.8, j, 200 - j + 1) >= 0.95 > beta.sf(0.8, j - 1, 200 - j + 2)
    assert qbcb_count(59, 0.95, 0.95) == 59


def test_target_method_stops_after_meeting_every_target() -> None:
    from fmreview.screening.target import QuantileBinomial, TargetMethod

    lab = np.zeros(5_000, dtype=np.int64)
    lab[:400] = 1  # a perfect ranking of 400 relevant works
    st = TargetMethod(recall=0.9, confidence=0.9).simulate(lab, np.random.default_rng(0))
    assert st.stopped and st.found >= 0.9 * 400 and st.screened < 5_000
    # too few relevant works to ever certify: every work is screened
    few = np.zeros(300, dtype=np.int64)
    few[:10] = 1
    st = TargetMethod().simulate(few, np.random.default_rng(0))
    assert not st.stopped and st.screened == 300
    st = QuantileBinomial(sample_size=0.5).simulate(lab, np.random.default_rng(1))
    assert st.found >= 0.95 * 400


# ----------------------------------------------------------------------------- estimate
def test_recall_estimate_from_the_ranked_order() -> None:
    from fmreview.screening.stopping import recall_estimate

    lab = np.zeros(500, dtype=int)
    lab[[0, 1, 3, 5, 8, 12, 20, 40, 70, 150]] = 1
    early = recall_estimate(lab[:60], 1_000)
    assert early.method == "poisson_process" and early.found == 8
    assert early.relevant_low == 8 and early.relevant_high is not None
    assert early.relevant is not None and 8 <= early.relevant <= early.relevant_high
    assert early.recall_low is not None and early.recall is not None
    assert early.recall_low <= early.recall <= 1.0
    assert not early.stop and early.to_stop is not None and early.to_stop > 0
    assert early.unscreened == 940
    late = recall_estimate(lab, 1_000)
    assert late.stop and late.to_stop == 0
    assert late.recall_low is not None and late.recall_low >= 0.95
    none = recall_estimate(np.zeros(10, dtype=int), 100)
    assert none.relevant is None and none.to_target is None and not none.stop
    assert recall_estimate(lab, 500).recall == 1.0
    with pytest.raises(InputError, match="n_total"):
        recall_estimate(lab, 100)


def test_recall_estimate_from_a_random_sample_matches_the_interval() -> None:
    from fmreview.screening.stopping import recall_estimate

    lab = np.zeros(300, dtype=int)
    lab[:10] = 1
    lab[250] = 1
    rp = np.r_[np.zeros(200, bool), np.ones(100, bool)]
    est = recall_estimate(lab, 1_000, random_phase=rp)
    rec, low, high = recall_interval(11, 1, 100, 800, 0.95)
    assert est.method == "hypergeometric"
    assert (est.recall, est.recall_low, est.recall_high) == (rec, low, high)
    assert est.relevant == pytest.approx(10 + 800 / 100)
    assert est.to_target is None


def test_store_recall_estimate_follows_the_screening_history(store) -> None:
    from fmreview.screening.recall import store_recall_estimate
    from fmreview.screening.session import Session, record_decision
    from tests.test_screening_session import _config, _fill

    truth = _fill(store, 40, 6)
    cfg = _config(name="poisson_process", params={"recall": 0.9, "confidence": 0.8})
    est = store_recall_estimate(store, config=cfg)
    assert est.screened == 0 and est.unscreened == 40 and est.relevant is None
    sess = Session(store, config=cfg)
    for _ in range(12):
        nxt = sess.next_work("alice")
        assert nxt is not None
        lab = "include" if truth[nxt.work_id] else "exclude"
        record_decision(store, "alice", work_id=nxt.work_id, label=lab, next_work=nxt, config=cfg)
    est = store_recall_estimate(store, config=cfg)
    found = sum(truth[int(d)] for d in _screened(store))
    assert est.screened == 12 and est.unscreened == 28 and est.found == found
    assert (est.target, est.confidence) == (0.9, 0.8)
    if found:
        assert est.relevant is not None and est.relevant >= found
        assert est.to_target is not None and 0 <= est.to_target <= 28


def _screened(store) -> list[int]:
    import sqlalchemy as sa

    from fmreview.store import schema

    with store.connect() as conn:
        return [int(w) for (w,) in conn.execute(sa.select(schema.decisions.c.work_id)).all()]


def test_sample_first_rules_stop_a_live_session_only_when_all_is_screened() -> None:
    from fmreview.screening.target import QuantileBinomial, TargetMethod

    lab = np.zeros(50, dtype=int)
    lab[:5] = 1
    t, q = TargetMethod(), QuantileBinomial(sample_size=0.2)
    assert not t.check(lab, 100).stop and t.check(lab, 50).stop
    assert "needs 59 relevant works drawn at random" in t.check(lab, 100).message
    assert not q.check(lab, 100).stop and q.check(lab, 50).stop
    assert q.check(lab, 100).message == "needs a random sample of 20 works first"
    with pytest.raises(InputError, match="negbin rule: recall"):
        get_stopping_rule("negbin", confidence=1.0, recall=2.0)
