"""The report build: files written, untrusted text escaped, exports and tables, the CLI."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pandas as pd
import pytest
import rispy
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from fmreview.analysis_store import analyze_store
from fmreview.report.build import build_report
from fmreview.report.exports import extraction_table, revman_tables
from fmreview.report.html import http_url, script_json, study_links
from fmreview.report.prisma import prisma_counts
from fmreview.report.tables import taxonomy_table, write_table
from fmreview.store import Store, schema
from tests.test_report_prisma import (
    AUTO_EX,
    AUTO_IN,
    FT_IN,
    TA_EX_REVIEW,
    TA_IN,
    W,
    _now,
    make_review,
    memory_store,
    review_a,
)


@pytest.fixture
def store() -> Iterator[Store]:
    """Human screening with two reviewers per work, whatever the flagship protocol says."""
    s = memory_store()
    yield s
    s.close()


EVIL_SCRIPT = "<script>alert(1)</script> Segmenting CT"
EVIL_IMG = "<img src=x onerror=alert(1)> CLIP X-ray"
EVIL_CLOSE = "</script><script>alert(2)</script>"


def evil_works() -> list[W]:
    inc = AUTO_IN + TA_IN + FT_IN
    return review_a() + [
        W(
            EVIL_SCRIPT,
            url="javascript:alert(1)",
            decisions=inc,
            labels={"task": ["segmentation"], "modality": ["CT"]},
        ),
        W(
            EVIL_IMG,
            url="https://example.org/paper?a=1&b=2",
            doi="10.1000/xyz",
            decisions=inc,
            labels={
                "task": ["classification"],
                "fm_type": ["vision_language"],
                "modality": ["X-ray"],
            },
        ),
        W(
            EVIL_CLOSE,
            url="data:text/html,<script>alert(3)</script>",
            decisions=inc,
            labels={"task": ["<b>bold</b>"]},
        ),
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict, Path]]:
    """One report of a review with hostile titles, shared by the read-only tests below."""
    store = memory_store()
    make_review(store, evil_works(), searches={"openalex": 1200})
    out = tmp_path_factory.mktemp("built") / "report"
    result = build_report(store, out_dir=out)
    yield store, result, out
    store.close()


def test_empty_review_builds(store: Store, tmp_path: Path) -> None:
    res = build_report(store, out_dir=tmp_path / "r")
    html = Path(res["report_path"]).read_text(encoding="utf-8")
    assert res["studies_included"] == 0 and res["invariants_ok"]
    assert "not analysed yet" in html.lower() or "Not analysed yet" in html
    assert "No study is included yet." in html
    for key in ("prisma_svg_path", "prisma_png_path", "prisma_pdf_path"):
        assert Path(res[key]).exists()
    lxml.html.fromstring(html)


def test_memory_store_needs_out_dir(store: Store) -> None:
    from fmreview.errors import InputError

    with pytest.raises(InputError, match="--out"):
        build_report(store)


def test_files_written(built: tuple[Store, dict, Path]) -> None:
    store, res, out = built
    assert Path(res["report_path"]) == out / "index.html"
    for name in (
        "prisma.svg",
        "prisma.png",
        "prisma.pdf",
        "prisma.json",
        "tables/taxonomy.csv",
        "tables/taxonomy.xlsx",
        "tables/taxonomy.tex",
        "exports/included.ris",
        "exports/included.bib",
        "exports/included.csv",
        "exports/excluded.ris",
        "exports/extraction.csv",
        "exports/extraction.xlsx",
        "exports/revman_study_information.csv",
        "exports/revman_study_data.csv",
    ):
        assert (out / name).exists(), name
    data = json.loads((out / "prisma.json").read_text())
    assert (
        data["studies_included"] == prisma_counts(store).studies_included == res["studies_included"]
    )
    # the run is recorded, with a version for the living-review arm
    runs = store.runs("report")
    assert (
        runs
        and runs[-1]["status"] == "ok"
        and runs[-1]["counts"]["studies_included"] == res["studies_included"]
    )
    with store.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(schema.versions)).scalar_one() == 1
        )


def _doc(out: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring((out / "index.html").read_text(encoding="utf-8"))


def test_untrusted_titles_render_as_text(built: tuple[Store, dict, Path]) -> None:
    _, _, out = built
    doc = _doc(out)
    scripts = doc.xpath("//script")
    assert len(scripts) == 2  # the atlas script (a file) and its data (JSON), nothing from a title
    assert [s.get("src") for s in scripts] == ["report.js", None]
    assert scripts[1].get("type") == "application/json"
    for img in doc.xpath("//img"):  # figures are PNG files next to the page
        src = img.get("src", "")
        assert src.startswith("figures/") and src.endswith(".png")
        assert (out / src).read_bytes()[:4] == b"\x89PNG"
    assert not doc.xpath("//*[@onerror]") and not doc.xpath("//b[text()='bold']")
    text = doc.text_content()
    assert EVIL_SCRIPT in text and EVIL_IMG in text and EVIL_CLOSE in text
    atlas_titles = [
        td.text_content() for td in doc.xpath("//table[@id='atlas-table']//td[@class='title']")
    ]
    assert any(EVIL_SCRIPT in t for t in atlas_titles)
    # the JSON island parses and holds the titles verbatim
    data = json.loads(scripts[1].text)
    assert {EVIL_SCRIPT, EVIL_IMG, EVIL_CLOSE} <= {s["title"] for s in data["studies"]}
    raw = (out / "index.html").read_text(encoding="utf-8")
    island = raw.split('id="atlas-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in island and ">" not in island


def test_only_http_links(built: tuple[Store, dict, Path]) -> None:
    _, _, out = built
    doc = _doc(out)
    hrefs = [a.get("href") for a in doc.xpath("//a[@href]")]
    assert not [h for h in hrefs if h.lower().startswith(("javascript:", "data:", "vbscript:"))]
    assert "https://example.org/paper?a=1&b=2" in hrefs
    assert "https://doi.org/10.1000/xyz" in hrefs
    links_text = doc.xpath("//table[@id='atlas-table']//td[4]//span/text()")
    assert "javascript:alert(1)" in links_text  # shown, not linked


def test_prisma_numbers_on_page(built: tuple[Store, dict, Path]) -> None:
    store, _, out = built
    flat = prisma_counts(store).flat()
    doc = _doc(out)
    shown = {e.get("data-key"): int(e.text) for e in doc.xpath("//svg//tspan[@data-key]")}
    assert shown and all(flat[k] == v for k, v in shown.items())
    cards = {e.get("data-key"): e.text for e in doc.xpath("//span[@class='n'][@data-key]")}
    assert int(cards["studies_included"]) == flat["studies_included"]
    assert int(cards["records_identified"]) == flat["records_identified"]


def test_checks_panel_names_the_arrows(built: tuple[Store, dict, Path]) -> None:
    store, _, out = built
    doc = _doc(out)
    rows = doc.xpath("//section[@id='prisma']//details//tbody/tr")
    inv = prisma_counts(store).invariants()
    assert len(rows) == len(inv)
    arrows = " ".join(r.xpath("./td[2]")[0].text_content() for r in rows)
    for a in ("screened → sought", "assessed → included", "sought → not_retrieved"):
        assert a in arrows
    assert all(r.xpath("./td[5]")[0].text_content() == "yes" for r in rows)


def test_html_works_offline_under_a_strict_csp(built: tuple[Store, dict, Path]) -> None:
    """Styles and the script are local files next to the page (file:// works, no CDN); no
    inline script, <style> or style attribute, so a CSP without 'unsafe-inline' allows it."""
    _, _, out = built
    doc = _doc(out)
    local = [e.get("href") for e in doc.xpath("//link[@rel='stylesheet']")] + [
        e.get("src") for e in doc.xpath("//script[@src]")
    ]
    assert sorted(local) == ["report.css", "report.js"]
    for name in local:
        assert (out / name).stat().st_size > 100, name
    for script in doc.xpath("//script[not(@src)]"):
        assert script.get("type") == "application/json"  # data, never executed
    assert not doc.xpath("//style") and not doc.xpath("//*[@style]")
    assert not doc.xpath("//*[@*[starts-with(name(), 'on')]]")  # no inline handlers
    raw = (out / "index.html").read_text(encoding="utf-8")
    assert "cdn" not in raw.lower().replace("cdna", "")
    css = (out / "report.css").read_text(encoding="utf-8")
    assert "@media print" in css and "@media (max-width" in css and ".w100 {" in css
    for img in doc.xpath("//img"):
        assert img.get("alt")
    assert doc.xpath("//svg/title") and doc.xpath("//svg/desc")


def test_exports_carry_decisions_and_labels(built: tuple[Store, dict, Path]) -> None:
    store, res, out = built
    with open(out / "exports" / "included.ris", encoding="utf-8") as fh:
        entries = rispy.load(fh)
    assert len(entries) == res["studies_included"]
    notes = [n for e in entries for n in e.get("notes", [])]
    assert any("status: included" in n for n in notes)
    assert any("labels" in n and "segmentation" in n for n in notes)
    rows = list(csv.DictReader(open(out / "exports" / "excluded.csv", encoding="utf-8")))
    c = prisma_counts(store)
    assert (
        len(rows)
        == c.excluded_automation
        + c.excluded_screening
        + c.excluded_full_text
        + c.reports_not_retrieved
    )
    assert {r["status"] for r in rows} == {
        "excluded_automation",
        "excluded_title_abstract",
        "excluded_full_text",
    }
    assert "E-REVIEW" in {r["criterion"] for r in rows}
    bib = (out / "exports" / "included.bib").read_text(encoding="utf-8")
    assert bib.count("@") >= res["studies_included"]


def test_extraction_table(store: Store) -> None:
    ids = make_review(
        store, [W("a", decisions=AUTO_IN + TA_IN + FT_IN, labels={"task": ["segmentation"]})]
    )
    with store.begin() as conn:
        old = conn.execute(sa.select(schema.labels.c.id)).scalar_one()
        conn.execute(
            sa.insert(schema.labels).values(
                work_id=ids[0],
                axis="task",
                value="detection",
                method="human",
                status="corrected",
                reviewer="alice",
                supersedes=old,
                evidence=[{"field": "title", "start": 0, "end": 1, "text": "a"}],
                created_at=_now(),
            )
        )
    df = extraction_table(store, [ids[0]])
    assert (
        list(df["value"]) == ["detection"]
        and df.iloc[0]["method"] == "human"
        and df.iloc[0]["evidence"] == "a"
    )


def test_extraction_csv_years_are_whole_numbers(store: Store, tmp_path: Path) -> None:
    """A missing year must not turn every year into 2018.0; below-threshold rows stay out."""
    ids = make_review(
        store,
        [
            W("dated", year=2018, decisions=AUTO_IN + TA_IN + FT_IN, labels={"task": ["vqa"]}),
            W("undated", decisions=AUTO_IN + TA_IN + FT_IN, labels={"task": ["vqa"]}),
        ],
    )
    with store.begin() as conn:
        conn.execute(sa.update(schema.works).where(schema.works.c.id == ids[1]).values(year=None))
        conn.execute(
            sa.insert(schema.labels).values(
                work_id=ids[0],
                axis="modality",
                value="ct",
                method="model",
                status="auto",
                confidence=0.01,  # far below any threshold: a candidate, not a label
                evidence=[],
                created_at=_now(),
            )
        )
    from fmreview.report.exports import export_all

    paths = export_all(store, tmp_path)
    with open(paths["extraction_csv"], encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["title"]: r["year"] for r in rows} == {"dated": "2018", "undated": ""}
    # the below-threshold candidate is not a label (constraints may add an implied fm_type)
    assert not any(r["axis"] == "modality" for r in rows)
    assert sum(r["axis"] == "task" for r in rows) == 2


def test_revman_tables(store: Store) -> None:
    ids = make_review(store, [W("Trial one", decisions=AUTO_IN), W("Trial two", decisions=AUTO_IN)])
    with store.begin() as conn:
        conn.execute(
            sa.insert(schema.effects).values(
                work_id=ids[0],
                study="Doe 2023",
                outcome="accuracy",
                measure="OR",
                ai=10,
                bi=5,
                ci=4,
                di=11,
                created_at=_now(),
            )
        )
        conn.execute(
            sa.insert(schema.effects).values(
                work_id=ids[1],
                study="Roe 2024",
                outcome="dice",
                measure="MD",
                yi=0.1,
                vi=0.04,
                created_at=_now(),
            )
        )
    info, data = revman_tables(store)
    assert list(info["Study ID"]) == ["Doe 2023", "Roe 2024"]
    row = data.iloc[0]
    assert (
        row["Experimental events"] == 10
        and row["Experimental total"] == 15
        and row["Control total"] == 15
    )
    assert data.iloc[1]["SE"] == pytest.approx(0.2)


def test_taxonomy_table_counts() -> None:
    labels = {1: {"task": ["seg", "cls"]}, 2: {"task": ["seg"]}, 3: {}}
    df = taxonomy_table(labels, [1, 2, 3], ["task", "modality"])
    got = {(r.value): (r.n_works, round(r.share, 3)) for r in df.itertuples()}
    assert got == {"seg": (2, 0.667), "cls": (1, 0.333), "(not labelled)": (1, 0.333)}


def test_write_table(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"value": ["a_b & c", "50%"], "n": [1, 2], "axes": [["task", "modality"], None]}
    )
    paths = write_table(df, tmp_path, "t", caption="A table")
    assert pd.read_csv(paths["csv"]).shape == (2, 3)
    assert pd.read_excel(paths["xlsx"]).iloc[0]["axes"] == '["task", "modality"]'
    tex = paths["tex"].read_text()
    assert r"a\_b \& c" in tex and r"50\%" in tex and "A table" in tex


def test_link_helpers() -> None:
    assert http_url("javascript:alert(1)") is None
    assert http_url("JAVASCRIPT:alert(1)") is None
    assert http_url("https://x.org/a") == "https://x.org/a"
    assert http_url('https://x.org/a" onmouseover="x') is None
    assert http_url("//x.org") is None
    # the same URL rules as the web app's links: no control characters, no inner space
    assert http_url("https://x.org/a\x00b") is None
    assert http_url("https://x.org/a\u2028b") is None
    assert http_url("https://x.org/a<b") is None
    assert http_url("https://x.org/" + "a" * 2001) is None
    assert http_url("  https://x.org/a  ") == "https://x.org/a"
    links = study_links("10.1/a", "2101.00001", "ftp://x")
    assert (
        links[0]["href"] == "https://doi.org/10.1/a"
        and links[1]["href"] == "https://arxiv.org/abs/2101.00001"
    )
    assert links[2] == {"label": "ftp://x", "href": None}
    assert str(script_json({"t": "</script>&"})) == '{"t":"\\u003c/script\\u003e\\u0026"}'


def test_with_analysis_draws_figures(store: Store, tmp_path: Path) -> None:
    works = []
    for i in range(30):
        year = 2020 + i % 5
        works.append(
            W(
                f"Study {i}",
                year=year,
                decisions=AUTO_IN + TA_IN + FT_IN,
                labels={
                    "fm_type": ["vision_language" if i % 3 else "vision_only"],
                    "task": ["segmentation" if i % 2 else "classification"],
                    "modality": ["CT" if i % 4 else "MRI"],
                    "datasets": ["BraTS" if i % 2 else "CheXpert"],
                },
            )
        )
    make_review(store, works)
    analyze_store(store)
    res = build_report(store, out_dir=tmp_path / "r")
    out = tmp_path / "r"
    assert res["figures"] >= 3
    for name in (
        "figures/trend_fm_type.svg",
        "figures/trend_fm_type.png",
        "figures/trend_fm_type.pdf",
        "figures/datasets.svg",
        "tables/growth.csv",
        "tables/trend_tests.xlsx",
        "tables/findings.tex",
    ):
        assert (out / name).exists(), name
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Not analysed yet" not in html and "Mann" in html


def test_cli_prisma_and_report(tmp_path: Path) -> None:
    import yaml

    from fmreview.cli.report import register
    from fmreview.store.store import _flagship_path

    proto = yaml.safe_load(_flagship_path().read_text(encoding="utf-8"))
    proto.setdefault("screening", {})["mode"] = "human"  # pinned: the counts below assume it
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(proto), encoding="utf-8")
    folder = tmp_path / "review"
    file_store = Store.create(folder, protocol_path=tmp_path / "p.yaml")
    make_review(
        file_store,
        [
            W("One", decisions=AUTO_IN + TA_IN + FT_IN),
            W("Two", decisions=AUTO_EX),
            W("Three", decisions=AUTO_IN + TA_EX_REVIEW),
            W("Four", decisions=AUTO_IN),
        ],
    )
    file_store.close()
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    r = runner.invoke(app, ["prisma", "--dir", str(folder), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["studies_included"] == 1 and data["excluded_automation"] == 1
    assert data["awaiting_screening"] == 1 and data["screening_mode"] == "human"
    assert all(i["ok"] for i in data["invariants"])
    r = runner.invoke(app, ["prisma", "--dir", str(folder)])
    assert r.exit_code == 0 and "checks add up" in r.output
    r = runner.invoke(app, ["report", "--dir", str(folder), "--quiet"])
    assert r.exit_code == 0, r.output
    assert (folder / "report" / "index.html").exists()
    assert "1 study included of 4 records identified" in r.output


def test_meta_analysis_figures_when_effects_exist(store: Store, tmp_path: Path) -> None:
    ids = make_review(store, [W(f"Trial {i}", decisions=AUTO_IN + TA_IN + FT_IN) for i in range(4)])
    counts = [(10, 5, 4, 11), (20, 10, 12, 18), (7, 8, 3, 12), (15, 15, 9, 21)]
    with store.begin() as conn:
        for i, (a, b, c, d) in enumerate(counts):
            conn.execute(
                sa.insert(schema.effects).values(
                    work_id=ids[i],
                    study=f"Trial {i}",
                    outcome="sensitivity",
                    measure="OR",
                    ai=a,
                    bi=b,
                    ci=c,
                    di=d,
                    created_at=_now(),
                )
            )
    build_report(store, out_dir=tmp_path / "r")
    out = tmp_path / "r"
    doc = _doc(out)
    assert doc.xpath("//section[@id='meta']//img[starts-with(@alt, 'Forest plot')]")
    assert doc.xpath("//section[@id='meta']//img[starts-with(@alt, 'Funnel plot')]")
    for kind in ("forest", "funnel"):
        assert (out / "figures" / f"{kind}_sensitivity_OR.pdf").exists()
        (img,) = doc.xpath(f"//section[@id='meta']//img[@src='figures/{kind}_sensitivity_OR.png']")
        assert (out / img.get("src")).read_bytes()[:4] == b"\x89PNG"
    from fmreview.meta.analysis import meta_analyze

    rows = [
        {"study": f"Trial {i}", "ai": a, "bi": b, "ci": c, "di": d}
        for i, (a, b, c, d) in enumerate(counts)
    ]
    pooled = meta_analyze(rows, measure="OR")["pooled"]["backtransformed"]["pred"]
    caption = doc.xpath("//section[@id='meta']//figcaption")[0].text_content()
    assert f"pooled {pooled:.3g}" in caption
    data = list(csv.DictReader(open(out / "exports" / "revman_study_data.csv", encoding="utf-8")))
    assert [r["Study ID"] for r in data] == [f"Trial {i}" for i in range(4)]


def test_second_version_shows_changes(store: Store, tmp_path: Path) -> None:
    make_review(store, [W("First study", decisions=AUTO_IN + TA_IN + FT_IN)])
    build_report(store, out_dir=tmp_path / "v1")
    assert "first version of the review" in (tmp_path / "v1" / "index.html").read_text(
        encoding="utf-8"
    )
    make_review(
        store,
        [W("Second <i>study</i>", decisions=AUTO_IN + TA_IN + FT_IN), W("Junk", decisions=AUTO_EX)],
    )
    res = build_report(store, out_dir=tmp_path / "v2")
    assert res["version_recorded"]
    doc = _doc(tmp_path / "v2")
    changes = doc.xpath("//section[@id='changes']")[0]
    assert changes.xpath(".//span[@data-key='previous.new_studies']")[0].text == "1"
    assert changes.xpath(".//span[@data-key='previous.new_records']")[0].text == "2"
    assert "Second <i>study</i>" in changes.text_content() and not changes.xpath(".//i")
    assert doc.xpath("//svg//tspan[@data-key='previous.studies_included']")[0].text == "1"
