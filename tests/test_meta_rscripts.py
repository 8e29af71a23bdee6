"""The case-script evaluator (validation/metafor): R written as a metafor user writes it,
run on fmreview.meta's public API and checked against metafor's pinned numbers.

The scripts here are written for these tests (the shared suite's make.R files are not
bundled); the numbers they are checked against are metafor 3.8-1's, pinned in
tests/data/metafor.  Tolerance: ``CLOSED`` (1e-10 relative) as in test_meta_agreement.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "validation" / "metafor"))
from rparse import RSyntaxError, deparse, parse  # noqa: E402
from run import evaluate_case, run_case_dir  # noqa: E402
from rvalues import Unsupported  # noqa: E402

DATA = Path(__file__).parent / "data" / "metafor"
CLOSED = 1e-10


def pinned(case: str) -> dict[str, Any]:
    d = json.loads((DATA / f"{case}.json").read_text())
    return {**d["values"], **d["texts"]}


def case_dir(tmp_path: Path, script: str, data: str = "bcg_rr_estimators") -> Path:
    d = tmp_path / "case"
    d.mkdir()
    shutil.copy(DATA / f"{data}_input.csv", d / "input.csv")
    (d / "make.R").write_text(script)
    (d / "expected.json").write_text("{}")
    return d


def close(got: float, exp: float) -> bool:
    return abs(got - exp) <= CLOSED * max(abs(exp), 1e-2)


def test_parser_follows_r_precedence_and_newlines() -> None:
    assert deparse(parse("-2^2")[0]) == "-2^2"
    assert parse("-2^2")[0][0] == "unop"
    assert parse("a <- b <- 1")[0][2][0] == "assign"
    (stmt,) = parse("f(x,\n  y = ~ factor(g) + z - 1)")
    assert deparse(stmt) == "f(x, y = ~ factor(g) + z - 1)"
    assert len(parse("x <- 1\ny <- 2; z <- 3")) == 3
    assert parse("d[, c('a', 'b')]")[0][2][0] == (None, None)
    with pytest.raises(RSyntaxError, match="line 2"):
        parse("x <- 1\ny <- )")


def test_a_users_script_reproduces_metafors_numbers(tmp_path: Path) -> None:
    script = """
tight <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
res <- rma(yi, vi, data = dat, method = "REML", control = tight)
res0 <- rma(yi, vi, data = dat)
pr <- predict(res0, transf = exp)
ci <- confint(res, control = list(tol = 1e-12, maxiter = 10000))
write_json(list(tau2 = res$tau2, beta = coef(res)[["intrcpt"]], I2 = res$I2,
                QE = res$QE, ll = res$fit.stats$REML[1], pred = pr$pred, pi.ub = pr$pi.ub,
                cr.ub = pr$cr.ub, se = pr$se, tau2_ub = ci$random[1, 3],
                w = I(weights(res))))
"""
    got = run_case_dir(case_dir(tmp_path, script))
    p = pinned("bcg_rr_estimators")
    assert close(got["tau2"], p["tight.REML.tau2"])
    assert close(got["beta"], p["tight.REML.beta.intrcpt"])
    assert close(got["I2"], p["tight.REML.I2"])
    assert close(got["QE"], p["tight.REML.QE"])
    assert close(got["ll"], p["tight.REML.fit.stats.REML.ll"])
    assert close(got["pred"], p["default.REML.predict_exp.pred[0]"])
    assert close(got["pi.ub"], p["default.REML.predict_exp.pi.ub[0]"])
    assert got["cr.ub"] == got["pi.ub"] and got["se"] is None
    assert close(got["tau2_ub"], p["tight.REML.confint_QP.random.values[0][2]"])
    assert all(close(g, p[f"tight.REML.weights_pct[{i}]"]) for i, g in enumerate(got["w"]))


def test_closures_lazy_arguments_and_capture_record_metafors_errors(tmp_path: Path) -> None:
    script = """
capture <- function(expr) stop("replaced by the evaluator's own capture")
d <- dat.edge
run <- function(method, ...) {
  x <- capture(rma(d$yi, d$vi, method = method, ...))
  if (!is.null(x$error)) return(list(error = x$error, warnings = I(x$warnings)))
  list(tau2 = x$value$tau2, warnings = I(x$warnings))
}
write_json(setNames(lapply(c("EE", "DL", "SJ"), run), c("EE", "DL", "SJ")))
"""
    d = case_dir(tmp_path, script, data="edge_vi_zero")
    got = run_case_dir(d)
    p = pinned("edge_vi_zero")
    assert got["EE"]["error"] == p["default.EE.error"]
    assert got["DL"]["error"] == p["default.DL.error"]
    assert got["EE"]["warnings"] == [p["default.EE.warnings[0]"]]
    assert "error" not in got["SJ"] and got["SJ"]["tau2"] > 0


def test_factor_moderators_get_r_names_and_subsets_follow_r(tmp_path: Path) -> None:
    script = """
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
m <- rma(yi, vi, mods = ~ factor(alloc) + ablat, data = dat, method = "DL")
s <- rma(yi, vi, data = dat, subset = alloc == "random", method = "DL")
e <- sapply(list(a = 1, b = 2), function(x) x * 2)
write_json(list(names = I(rownames(m$beta)), k = s$k, QMdf = m$QMdf, e = e))
"""
    got = run_case_dir(case_dir(tmp_path, script))
    assert got["names"] == ["intrcpt", "factor(alloc)random", "factor(alloc)systematic", "ablat"]
    assert got["k"] == 7 and got["QMdf"][0] == 3
    assert got["e"] == {"a": 2.0, "b": 4.0}


def test_publication_bias_calls_as_written_in_r(tmp_path: Path) -> None:
    script = """
d <- dat.hackshaw1998
fe <- rma(yi, vi, data = d, method = "FE")
eg <- regtest(yi, vi, data = d, model = "lm")
tf <- trimfill(fe)
write_json(list(eg_p = eg$pval, eg_ddf = eg$ddf, k0 = tf$k0, tf_beta = tf$beta[1, 1],
                fsn = fsn(yi, vi, data = d)$fsnum, rk = ranktest(fe)$pval))
"""
    got = run_case_dir(case_dir(tmp_path, script, data="pubbias_hackshaw1998"))
    p = pinned("pubbias_hackshaw1998")
    assert close(got["eg_p"], p["regtest.lm_sei_classic_egger.pval"])
    assert got["eg_ddf"] == 35
    assert got["k0"] == p["trimfill.FE_L0.k0"]
    assert close(got["tf_beta"], p["trimfill.FE_L0.beta.intrcpt"])
    assert got["fsn"] == p["fsn.Rosenthal.fsnum"]
    assert close(got["rk"], p["ranktest.from_FE.pval"])


def test_unknown_constructs_are_reported_not_mistaken_for_metafor_errors(tmp_path: Path) -> None:
    d = case_dir(tmp_path, "x <- capture(selmodel(rma(yi, vi, data = dat.x)))\nwrite_json(x)\n")
    with pytest.raises(Unsupported, match=r"unsupported: selmodel\(\) is not implemented"):
        run_case_dir(d)
    (d / "make.R").write_text("write_json(rma(c(1, 2, 3), c(1, 1, 1), weights = 1))\n")
    assert evaluate_case(d)["status"] == "unsupported: rma(weights = ...)"
    (d / "make.R").write_text("x <- 1\n")
    assert "never calls write_json" in evaluate_case(d)["status"]


def test_error_texts_may_go_on_after_metafors_message(tmp_path: Path) -> None:
    from compare import compare

    exp = {"a": {"error": "Fisher scoring algorithm did not converge."}}
    ok = compare(exp, {"a": {"error": "Fisher scoring algorithm did not converge. (more)"}})
    assert [i["kind"] for i in ok] == ["text_ok"]
    bad = compare(exp, {"a": {"error": "something else"}})
    assert [i["kind"] for i in bad] == ["text"]


def test_every_shared_case_runs_from_its_make_r() -> None:
    """With the shared suite present: every case folder runs and agrees (named tolerances
    as in test_meta_agreement: bivariate rma.mv and rma.glmm optimisers stop early)."""
    from tests.conftest import bench_dir

    root = bench_dir("metafor")
    for d in sorted(p for p in root.glob("*/") if (p / "make.R").exists()):
        r = evaluate_case(d)
        assert r["status"] == "ok", (d.name, r["status"])
        assert not r["error_mismatch"] and not r["text_mismatch"] and not r["na_mismatch"], d.name
        assert r["missing"] == 0, (d.name, r["missing_at"][:3])
        worst = [w for w in r["worst"] if "bivariate" not in w["path"] and "GLMM" not in w["path"]]
        limit = 1e-8 if d.name == "bcg_metareg" else CLOSED
        assert not worst or worst[0]["rel"] <= limit, (d.name, worst[0])


def test_metafor_idioms_for_subgroups_counts_in_rma_and_anova(tmp_path: Path) -> None:
    script = """
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
res.r <- rma(yi, vi, data = dat, subset = alloc == "random", method = "DL")
res.s <- rma(yi, vi, data = dat, subset = alloc == "systematic", method = "DL")
comp <- data.frame(meta = c("random", "systematic"), estimate = c(coef(res.r), coef(res.s)),
                   stderror = c(res.r$se, res.s$se))
b <- rma(estimate, sei = stderror, mods = ~ meta, method = "FE", data = comp)
m <- rma(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg,
         mods = cbind(ablat, year), method = "DL")
a <- anova(m, btt = 2:3)
write_json(list(QM = b$QM, QE = b$QE, names = I(rownames(m$beta)), aQM = a$QM, mQM = m$QM))
"""
    got = run_case_dir(case_dir(tmp_path, script))
    assert got["names"] == ["intrcpt", "ablat", "year"]
    assert got["aQM"] == pytest.approx(got["mQM"], rel=1e-12)
    assert got["QE"] == pytest.approx(0.0, abs=1e-12) and got["QM"] > 0
    (tmp_path / "case" / "make.R").write_text(
        "write_json(rma(c(1, 2), c(1, 1), mods = ~ log(x), data = data.frame(x = c(1, 2))))\n"
    )
    assert evaluate_case(tmp_path / "case")["status"].startswith("unsupported: mods = ~ log(x)")


CONVERGED = 1e-7  # bundled cases with metafor's optimiser run to convergence (see their make.R)


@pytest.mark.parametrize(
    "name", sorted(p.parent.name for p in (ROOT / "validation/metafor/cases").glob("*/make.R"))
)
def test_bundled_converged_cases_agree_with_metafor(name: str) -> None:
    res = evaluate_case(ROOT / "validation/metafor/cases" / name)
    assert res["status"] == "ok", res["status"]
    assert res["compared"] >= 15 and res["missing"] == 0 and not res["na_mismatch"]
    assert res["max_rel"] <= CONVERGED, (res["max_rel_at"], res["max_rel"])
