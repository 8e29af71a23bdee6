"""What the commands print: 80 columns off a terminal, whatever the window or the clone path.

The main commands run on a small review through :func:`fmreview.cli.main` (output captured:
not a terminal) and no line may be wider than 80 columns.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from fmreview.cli import COMMAND_MODULES, build_command, main
from fmreview.cli.console import PIPE_WIDTH, make_console

TITLES = (
    "MedSAM: segment anything in medical images with a foundation model for CT and MRI",
    "A vision-language foundation model for chest X-ray report generation and retrieval",
    "CONCH: a visual-language foundation model for computational pathology classification",
    "Self-supervised pretraining of a vision transformer on fundus photographs for "
    "diabetic retinopathy grading with linear probing and parameter-efficient fine-tuning",
)
RIS = "".join(
    f"TY  - JOUR\nTI  - {t}\nPY  - 2024\nDO  - 10.1234/fm.{i}\nUR  - "
    f"https://example.org/a/very/long/link/to/the/paper/number/{i}/that/never/ends/here\n"
    "AU  - Doe, Jane\nER  - \n\n"
    for i, t in enumerate(TITLES)
)


@pytest.fixture(autouse=True)
def _no_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """Consoles as a pipe sees them: no COLUMNS from the caller's shell."""
    monkeypatch.delenv("COLUMNS", raising=False)
    for module in COMMAND_MODULES:
        console = getattr(module, "console", None)
        if console is not None:
            monkeypatch.setattr(console, "_width", None)


def _run(capsys: pytest.CaptureFixture[str], *argv: str, ok: bool = True) -> str:
    code = main(list(argv))
    out = capsys.readouterr()
    text = out.out + out.err
    assert (code == 0) == ok, f"fmreview {' '.join(argv)} -> {code}\n{text}"
    wide = [line for line in text.splitlines() if len(line) > PIPE_WIDTH]
    assert not wide, f"fmreview {' '.join(argv)} printed lines over 80 columns: {wide}"
    # a table rendered wider than the console and then wrapped keeps short lines but breaks
    # its rows: every row that opens with a border must close with one
    rows = [ln.rstrip() for ln in text.splitlines() if ln[:1] in "│┃┏┡└┌├╭╰"]
    broken = [ln for ln in rows if ln[-1:] not in "│┃┓┩┘┐┤╮╯"]
    assert not broken, f"fmreview {' '.join(argv)} printed broken table rows: {broken[:3]}"
    return text


def test_a_console_off_a_terminal_is_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert make_console().width == PIPE_WIDTH
    monkeypatch.setenv("COLUMNS", "100")
    assert make_console().width == 100  # an explicit width still wins


def test_main_commands_fit_80_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    review = tmp_path / "a-review-folder-with-a-rather-long-name-to-push-paths-past-the-edge"
    src = tmp_path / "studies.ris"
    src.write_text(RIS, encoding="utf-8")
    d = str(review)
    _run(capsys, "init", d)
    imported = _run(capsys, "import", str(src), "--dir", d, "--quiet")
    # the table names the file (tmp_path is long enough that a cut path hides it)
    assert "studies.ris" in imported
    _run(capsys, "export", str(tmp_path / "w.ris"), "--dir", d, ok=False)
    _run(capsys, "dedupe", "--dir", d, "--quiet")
    _run(capsys, "screen", "rules", "--dir", d)
    _run(capsys, "screen", "status", "--dir", d)
    _run(capsys, "extract", "--dir", d, "--quiet", "--method", "rule")
    one = _run(capsys, "find", "--dir", d, "--limit", "1")
    assert one.splitlines()[0] == "the first 1 study (--limit 1; --limit 0 shows all)"
    found = _run(capsys, "find", "--dir", d, "--limit", "0")
    # one block per study: a title is never folded to a word a line
    assert "MedSAM: segment anything in medical images" in found
    _run(capsys, "analyze", "--dir", d, "--quiet")
    _run(capsys, "prisma", "--dir", d)
    _run(capsys, "runs", "--dir", d)
    _run(capsys, "export", str(tmp_path / "w.ris"), "--dir", d)
    _run(capsys, "protocol", "show", "--dir", d)
    _run(capsys, "protocol", "check", str(review / "protocol.yaml"))
    _run(capsys, "runs", "--dir", str(tmp_path / "missing"), ok=False)


def _commands() -> list[list[str]]:
    out: list[list[str]] = []

    def walk(prefix: list[str], cmd: object) -> None:
        out.append(prefix)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk([*prefix, name], sub)

    walk([], build_command())
    return out


@pytest.mark.parametrize("argv", _commands(), ids=lambda a: " ".join(a) or "fmreview")
def test_help_fits_and_flags_show_no_type(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = _run(capsys, *argv, "--help")
    assert "<bool>" not in text
    if "--json" in text:
        line = next(ln for ln in text.splitlines() if "--json" in ln)
        assert "<" not in line  # a flag takes no value


def test_every_command_module_prints_through_an_80_column_console() -> None:
    from fmreview.cli.console import CliConsole

    for module in COMMAND_MODULES:
        console = getattr(module, "console", None)
        if module.__name__ == "fmreview.cli.meta":  # owned elsewhere; checked by width test
            continue
        assert console is None or isinstance(console, CliConsole), module.__name__
    assert importlib.import_module("fmreview.cli").err_console.__class__ is CliConsole
