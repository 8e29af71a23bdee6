"""``fmreview protocol check | new | show``."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from fmreview.cli.protocol import register
from fmreview.protocol import flagship_path, load_protocol

runner = CliRunner()


def app() -> typer.Typer:
    a = typer.Typer()

    @a.callback()
    def _root() -> None:
        """Test root."""

    register(a)
    return a


def _words(text: str) -> str:
    """The output with its line breaks and padding gone: wrapping is not under test here."""
    return " ".join(text.split())


def test_check_the_flagship(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # a relative path: the message must not depend on where the clone (or tmp) lives
    (tmp_path / "protocol.yaml").write_bytes(flagship_path().read_bytes())
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app(), ["protocol", "check", "protocol.yaml"])
    assert res.exit_code == 0, res.output
    p = load_protocol(flagship_path())
    n_sources = len(p.sources)
    assert (n_sources, len(p.taxonomy)) == (5, 9)  # the flagship's shape, by hand
    assert _words(res.output) == (
        "ok: protocol.yaml is a valid protocol 'fm-medical-imaging' "
        f"({n_sources} sources, {len(p.eligibility)} criteria, 9 taxonomy axes)"
    )
    assert max(len(line) for line in res.output.splitlines()) <= 80


def test_check_reports_every_error_with_line_and_key(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    text = flagship_path().read_text(encoding="utf-8")
    lines = text.splitlines()
    i = next(n for n, ln in enumerate(lines) if ln.strip().startswith("- '\\bMAE\\b'"))
    lines[i] = lines[i].replace("'\\bMAE\\b'", "'(MAE'")
    bad = tmp_path / "bad.yaml"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # a short relative path, wherever tmp lives
    res = runner.invoke(app(), ["protocol", "check", "bad.yaml"])
    assert res.exit_code != 0
    assert "does not validate: 1 error(s)" in str(res.exception)
    out = _words(res.output)
    start = max(n for n in range(i) if lines[n].strip() == "patterns:")
    k = i - start - 1  # the item's index in that value's pattern list
    assert (
        f"bad.yaml line {i + 1}: taxonomy[0].values[1].patterns[{k}]: pattern '(MAE' is not a valid"
        in out
    )


def test_new_writes_a_template_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    res = runner.invoke(app(), ["protocol", "new", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("# A review protocol for fmreview.")
    res = runner.invoke(app(), ["protocol", "new", str(out)])
    assert res.exit_code != 0
    assert "exists" in str(res.exception)
    res = runner.invoke(app(), ["protocol", "new", "-"])
    assert res.output.startswith("# A review protocol")


def test_show_summarises_a_protocol(tmp_path: Path) -> None:
    res = runner.invoke(app(), ["protocol", "show", "--dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "Foundation models in medical image analysis" in res.output
    assert "E-TEXT-ONLY" in res.output and "fm_type" in res.output
    res = runner.invoke(app(), ["protocol", "show", str(flagship_path()), "--yaml"])
    assert res.output == flagship_path().read_text(encoding="utf-8")
    assert load_protocol(flagship_path()).name in res.output
