"""The effects table: CSV in, metafor-grade pooling out, through the store and the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fmreview.cli import main
from fmreview.effects import effect_rows, import_effects, latest_meta_results, meta_store
from fmreview.errors import InputError, NotFoundError
from fmreview.store import Store

DATA = Path(__file__).parent / "data" / "metafor"


def _bcg_csv(tmp_path: Path) -> Path:
    golden_in = DATA / "bcg_rr_estimators_input.csv"
    out = tmp_path / "bcg.csv"
    with golden_in.open() as fh, out.open("w", newline="") as oh:
        w = csv.writer(oh)
        w.writerow(["study", "ai", "bi", "ci", "di", "ablat", "subgroup"])
        for r in csv.DictReader(fh):
            w.writerow(
                [
                    f"trial {r['trial']}",
                    r["tpos"],
                    r["tneg"],
                    r["cpos"],
                    r["cneg"],
                    r["ablat"],
                    r["alloc"],
                ]
            )
    return out


def _golden(key: str) -> float:
    return json.loads((DATA / "bcg_rr_estimators.json").read_text())["values"][key]


def test_import_and_pool_matches_metafor(store: Store, tmp_path: Path) -> None:
    n = import_effects(store, _bcg_csv(tmp_path), outcome="tb", measure="RR")
    assert n == 13
    rows = effect_rows(store, "tb")
    assert (
        rows[0]["study"] == "trial 1"
        and rows[0]["ablat"] == "44"
        and rows[0]["subgroup"] == "random"
    )
    res = meta_store(store, outcome="tb", preset="metafor")
    model = res["model"]
    assert model["tau2"] == pytest.approx(_golden("default.REML.tau2"), rel=1e-10)
    assert model["coefficients"]["intrcpt"]["estimate"] == pytest.approx(
        _golden("default.REML.beta.intrcpt"), rel=1e-10
    )
    assert latest_meta_results(store)["tb"]["k"] == 13


def test_bad_number_names_file_line_and_column(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("study,outcome,yi,vi\nA,auc,0.1,0.01\nB,auc,zero,0.02\n")
    with pytest.raises(
        InputError, match=r"bad.csv line 3: column 'yi' holds 'zero', expected a number"
    ):
        import_effects(store, bad)
    with pytest.raises(NotFoundError, match="no effects for outcome"):
        effect_rows(store, "auc")  # nothing was written


def test_missing_study_and_outcome_are_clear(store: Store, tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text("study,yi,vi\n,0.1,0.01\n")
    with pytest.raises(InputError, match="line 2: column 'study'"):
        import_effects(store, f, outcome="x")
    f.write_text("study,yi,vi\nA,0.1,0.01\n")
    with pytest.raises(InputError, match="no outcome"):
        import_effects(store, f)


def test_cli_meta_from_the_store(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "r"
    Store.create(folder).close()
    assert (
        main(
            [
                "effects",
                "import",
                str(_bcg_csv(tmp_path)),
                "--dir",
                str(folder),
                "--outcome",
                "tb",
                "--measure",
                "RR",
            ]
        )
        == 0
    )
    assert (
        main(["meta", "--dir", str(folder), "--outcome", "tb", "--preset", "metafor", "--json"])
        == 0
    )
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{") :])
    assert result["model"]["tau2"] == pytest.approx(_golden("default.REML.tau2"), rel=1e-10)
    assert main(["meta", "--dir", str(folder)]) == 2  # neither --csv nor --outcome
