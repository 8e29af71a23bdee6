"""meta_analyze, presets, subgroups, plots and the ``fmreview meta`` command."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import fmreview.meta as meta
from fmreview.errors import InputError, NotFoundError
from fmreview.meta import PRESETS, RMA, meta_analyze, read_effects_csv, subgroup_analysis
from fmreview.meta.plots import forest_plot, funnel_plot

DATA = Path(__file__).parent / "data" / "metafor"


def bcg_rows() -> list[dict]:
    with (DATA / "bcg_rr_estimators_input.csv").open() as fh:
        return [
            {
                "study": f"trial {r['trial']}",
                "ai": r["tpos"],
                "bi": r["tneg"],
                "ci": r["cpos"],
                "di": r["cneg"],
                "alloc": r["alloc"],
                "ablat": r["ablat"],
            }
            for r in csv.DictReader(fh)
        ]


def test_public_surface() -> None:
    for name in meta.__all__:
        assert hasattr(meta, name), name
    assert {"meta_analyze", "RMA", "escalc", "forest_plot"} <= set(meta.__all__)


def test_presets() -> None:
    assert (PRESETS["default"].method, PRESETS["default"].test) == ("REML", "adhoc")
    assert (PRESETS["metafor"].method, PRESETS["metafor"].test) == ("REML", "z")
    assert (PRESETS["revman5"].method, PRESETS["revman5"].prediction_interval) == ("DL", False)
    with pytest.raises(NotFoundError, match="revman5"):
        meta_analyze(bcg_rows(), measure="RR", preset="revman6")


def test_meta_analyze_default_preset_is_json_and_matches_rma() -> None:
    res = meta_analyze(bcg_rows(), measure="RR")
    json.dumps(res, allow_nan=False)
    assert res["k"] == 13 and res["method"] == "REML" and res["test"] == "adhoc"
    m = RMA(method="REML", test="adhoc").fit(*meta.escalc("RR", **_cols(bcg_rows())))
    assert res["pooled"]["pred"] == pytest.approx(m.beta_[0])
    assert res["pooled"]["backtransformed"]["pred"] == pytest.approx(math.exp(m.beta_[0]))
    assert "pi_lb" in res["pooled"] and res["heterogeneity"]["ci_type"] == "QP"
    assert res["mantel_haenszel"]["measure"] == "RR"
    assert res["bias"]["egger"]["predictor"] == "sei"
    assert sum(s["weight_pct"] for s in res["studies"]) == pytest.approx(100)


def _cols(rows: list[dict]) -> dict:
    return {k: [float(r[k]) for r in rows] for k in ("ai", "bi", "ci", "di")}


def test_revman5_has_no_prediction_interval() -> None:
    res = meta_analyze(bcg_rows(), measure="OR", preset="revman5")
    assert res["method"] == "DL" and res["test"] == "z"
    assert "pi_lb" not in res["pooled"] and "ci" not in res["heterogeneity"]


def test_subgroups_and_moderators() -> None:
    res = meta_analyze(bcg_rows(), measure="RR", by="alloc", preset="metafor")
    sg = res["subgroups"]
    assert set(sg["groups"]) == {"alternate", "random", "systematic"}
    assert sg["between"]["df"] == 2 and 0 <= sg["between"]["pval"] <= 1
    assert sg["moderator"]["QMdf"][0] == 2
    reg = meta_analyze(bcg_rows(), measure="RR", mods=["ablat", "alloc"], preset="metafor")
    assert list(reg["model"]["coefficients"]) == [
        "intrcpt",
        "ablat",
        "allocrandom",
        "allocsystematic",
    ]
    assert "pooled" not in reg and "bias" not in reg


def test_subgroup_between_test_by_hand() -> None:
    y = [0.1, 0.2, 0.15, 0.8, 0.9, 0.7]
    v = [0.01, 0.02, 0.015, 0.01, 0.02, 0.015]
    sg = subgroup_analysis(y, v, ["a", "a", "a", "b", "b", "b"], method="EE")
    a, b = sg["groups"]["a"], sg["groups"]["b"]
    wa, wb = 1 / a.se_[0] ** 2, 1 / b.se_[0] ** 2
    mean = (wa * a.beta_[0] + wb * b.beta_[0]) / (wa + wb)
    q = wa * (a.beta_[0] - mean) ** 2 + wb * (b.beta_[0] - mean) ** 2
    assert sg["between"]["Q"] == pytest.approx(q)
    assert sg["moderator"]["QM"] == pytest.approx(q)  # with EE weights the two tests coincide
    with pytest.raises(InputError, match="two subgroups"):
        subgroup_analysis(y, v, ["a"] * 6)


def test_precomputed_effects_and_proportions() -> None:
    rows = [
        {"study": f"s{i}", "yi": y, "vi": v}
        for i, (y, v) in enumerate([(0.1, 0.02), (0.3, 0.03), (0.25, 0.01)])
    ]
    res = meta_analyze(rows, measure="GEN", method="DL")
    assert res["k"] == 3 and res["backtransform"] is None
    props = [{"xi": x, "ni": n} for x, n in [(0, 20), (5, 20), (20, 20), (7, 30)]]
    res = meta_analyze(props, measure="PFT", preset="metafor")
    assert 0 <= res["pooled"]["backtransformed"]["pred"] <= 1
    res = meta_analyze(props, measure="PLO", preset="metafor")
    assert res["backtransform"] == "ilogit"


def test_input_errors_name_the_problem() -> None:
    with pytest.raises(InputError, match="no effect rows"):
        meta_analyze([], measure="OR")
    with pytest.raises(InputError, match="no effect data"):
        meta_analyze([{"study": "x"}], measure="OR")
    with pytest.raises(InputError, match="row 1: column 'ai'"):
        meta_analyze([{"ai": "many", "bi": 1, "ci": 1, "di": 1}], measure="OR")


def test_k1_and_missing_values_are_reported() -> None:
    res = meta_analyze([{"yi": 0.5, "vi": 0.1}], measure="GEN")
    assert res["k"] == 1 and "note" in res["bias"] and "ci_error" in res["heterogeneity"]
    res = meta_analyze(
        [{"yi": 0.5, "vi": 0.1}, {"yi": None, "vi": 0.2}, {"yi": 0.3, "vi": 0.05}], measure="GEN"
    )
    assert any("NAs omitted" in w for w in res["warnings"])
    assert [s["used"] for s in res["studies"]] == [True, False, True]


def test_plots_write_svg_and_png(tmp_path: Path) -> None:
    res = meta_analyze(bcg_rows(), measure="RR", by="alloc")
    svg = forest_plot(res, tmp_path / "f.svg", title="BCG")
    assert svg.read_text().lstrip().startswith("<?xml") and "trial 1" in svg.read_text()
    png = funnel_plot(meta_analyze(bcg_rows(), measure="RR"), tmp_path / "fun.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match=".svg, .png"):
        forest_plot(res, tmp_path / "f.gif")


def _app() -> typer.Typer:
    from fmreview.cli.meta import register

    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps typer from collapsing the group
        """Nothing."""

    return app


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "effects.csv"
    rows = bcg_rows()
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_cli_text_json_and_plots(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    r = CliRunner().invoke(_app(), ["meta", "--csv", str(path), "--measure", "RR", "--by", "alloc"])
    assert r.exit_code == 0, r.output
    assert "Random-Effects Model (k = 13; tau^2 estimator: REML)" in r.output
    assert "Test for subgroup differences" in r.output
    r = CliRunner().invoke(
        _app(),
        [
            "meta",
            "--csv",
            str(path),
            "--measure",
            "OR",
            "--preset",
            "revman5",
            "--json",
            "--forest",
            str(tmp_path / "f.png"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["method"] == "DL" and (tmp_path / "f.png").exists()
    r = CliRunner().invoke(
        _app(), ["meta", "--csv", str(path), "--measure", "RR", "--mods", "ablat"]
    )
    assert r.exit_code == 0 and "ablat" in r.output


def test_cli_help_has_an_example() -> None:
    r = CliRunner().invoke(_app(), ["meta", "--help"])
    assert "Example: fmreview meta --csv" in r.output


def test_read_effects_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_effects_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="header"):
        read_effects_csv(tmp_path / "empty.csv")
    (tmp_path / "h.csv").write_text("study,yi,vi\n")
    with pytest.raises(InputError, match="no data rows"):
        read_effects_csv(tmp_path / "h.csv")
    (tmp_path / "ok.csv").write_text("study,yi,vi\na,0.1,NA\n")
    assert read_effects_csv(tmp_path / "ok.csv") == [{"study": "a", "yi": "0.1", "vi": None}]


def _kearon_rows() -> list[dict]:
    with (DATA / "kearon1998_diagnostic_input.csv").open() as fh:
        return [
            {
                "tp": int(r["tp"]),
                "fn": int(r["np"]) - int(r["tp"]),
                "tn": int(r["tn"]),
                "fp": int(r["nn"]) - int(r["tn"]),
            }
            for r in csv.DictReader(fh)
        ]


def test_diagnostic_accuracy_measures_and_bivariate_summary() -> None:
    rows = _kearon_rows()
    sens = meta_analyze(rows, measure="SENS", preset="metafor")
    spec = meta_analyze(rows, measure="SPEC", preset="metafor")
    dor = meta_analyze(rows, measure="DOR", preset="metafor")
    assert sens["backtransform"] == "ilogit" and dor["backtransform"] == "exp"
    ys, vs = meta.diagnostic_effects(*([r[c] for r in rows] for c in ("tp", "fn", "tn", "fp")))[
        "SENS"
    ]
    assert sens["pooled"]["pred"] == pytest.approx(RMA(method="REML").fit(ys, vs).beta_[0])
    biv = sens["bivariate"]
    assert biv["sensitivity"]["est"] == pytest.approx(
        sens["pooled"]["backtransformed"]["pred"], abs=0.02
    )
    assert biv["specificity"]["est"] == pytest.approx(
        spec["pooled"]["backtransformed"]["pred"], abs=0.02
    )
    assert len(biv["sroc"]["fpr"]) == 51
    json.dumps(sens, allow_nan=False)
    with pytest.raises(InputError, match="tp, fn, tn, fp"):
        meta_analyze([{"tp": 1}], measure="SENS")


def test_auc_with_hanley_mcneil_variances() -> None:
    rows = [
        {"auc": 0.8, "n1i": 50, "n2i": 100},
        {"auc": 0.85, "n1i": 80, "n2i": 120},
        {"auc": 0.75, "n1i": 40, "n2i": 60},
    ]
    res = meta_analyze(rows, measure="AUC", preset="metafor")
    _, v = meta.auc_hanley_mcneil([0.8, 0.85, 0.75], [50, 80, 40], [100, 120, 60])
    assert [s["vi"] for s in res["studies"]] == pytest.approx(list(v))
    assert 0.75 < res["pooled"]["pred"] < 0.85
    given = meta_analyze([{"auc": 0.8, "sei": 0.05}, {"auc": 0.7, "sei": 0.04}], measure="AUC")
    assert given["studies"][0]["vi"] == pytest.approx(0.0025)
    with pytest.raises(InputError, match="n1i"):
        meta_analyze([{"auc": 0.8}], measure="AUC")


def test_forest_plot_shows_raw_data_columns(tmp_path: Path) -> None:
    svg = forest_plot(meta_analyze(bcg_rows(), measure="OR"), tmp_path / "or.svg").read_text()
    assert "Group 1 events/N" in svg and "4/123" in svg
    cont = [
        {"study": "a", "m1i": 10, "sd1i": 2, "n1i": 20, "m2i": 9, "sd2i": 2.5, "n2i": 22},
        {"study": "b", "m1i": 11, "sd1i": 3, "n1i": 30, "m2i": 9.5, "sd2i": 2.0, "n2i": 28},
        {"study": "c", "m1i": 12, "sd1i": 2, "n1i": 25, "m2i": 11, "sd2i": 3.0, "n2i": 25},
    ]
    svg = forest_plot(meta_analyze(cont, measure="SMD"), tmp_path / "smd.svg").read_text()
    assert "mean (SD) N" in svg
    res = meta_analyze([{"yi": 0.1, "vi": 0.01}, {"yi": 0.3, "vi": 0.02}], measure="GEN", mods=None)
    assert "events/N" not in forest_plot(res, tmp_path / "gen.svg").read_text()
    reg = meta_analyze(bcg_rows(), measure="RR", mods=["ablat"])
    assert (
        forest_plot(reg, tmp_path / "reg.png").exists()
        and funnel_plot(reg, tmp_path / "fr.svg").exists()
    )
    assert (
        res["config"]["component"] == "fmreview.meta.meta_analyze"
        and res["config"]["method"] == "REML"
    )


def test_cli_formula_moderators_bias_selection_and_80_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path)
    r = CliRunner().invoke(
        _app(),
        ["meta", "--csv", str(path), "--measure", "RR", "--preset", "metafor",
         "--mods", "~ factor(alloc) + ablat"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "Mixed-Effects Model (k = 13; tau^2 estimator: REML)" in r.output
    assert "factor(alloc)random" in r.output and "Test of Moderators:" in r.output
    assert "QM(df = 3)" in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80
    r = CliRunner().invoke(
        _app(),
        ["meta", "--csv", str(path), "--measure", "RR", "--bias", "egger,trimfill", "--json"],
    )
    bias = json.loads(r.output)["bias"]
    assert set(bias) == {"egger", "trimfill"}
    r = CliRunner().invoke(
        _app(), ["meta", "--csv", str(path), "--measure", "RR", "--bias", "eggr"]
    )
    assert r.exit_code != 0 and "eggr" in str(r.exception or r.output)


def test_cli_prints_warnings_of_inner_fits(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("study,yi,vi,g\n1,0.1,0.01,a\n2,0.3,0.02,a\n3,0.5,0.03,a\n4,0.2,0.02,b\n")
    r = CliRunner().invoke(
        _app(),
        ["meta", "--csv", str(path), "--measure", "GEN", "--by", "g", "--test", "knha",
         "--bias", "none"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (
        "Warnings:" in r.output and 'subgroup b: Setting argument test="z" since k=1.' in r.output
    )
    assert max(len(line) for line in r.output.splitlines()) <= 80
