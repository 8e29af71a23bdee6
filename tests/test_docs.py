"""Docs are tested: every command has help with an example and a README entry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from fmreview.cli import build_app

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> list[tuple[str, Any]]:
    root = typer.main.get_command(build_app())
    out: list[tuple[str, Any]] = []

    def walk(prefix: str, cmd: Any) -> None:
        if hasattr(cmd, "commands"):  # typer may vendor its own click: duck-type groups
            for name, sub in cmd.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            out.append((prefix, cmd))

    walk("", root)
    return out


COMMANDS = _commands()


def test_there_are_commands() -> None:
    names = {n for n, _ in COMMANDS}
    assert {"init", "import", "export", "run", "runs"} <= names


@pytest.mark.parametrize("name,cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_help_has_an_example(name: str, cmd: Any) -> None:
    text = cmd.help or ""
    m = re.search(r"^\s*Example:\s*(fmreview .+)$", text, flags=re.M)
    assert m, f"`fmreview {name} --help` shows no 'Example: fmreview …' line"
    assert m.group(1).split()[1 : 1 + len(name.split())] == name.split(), m.group(1)


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"fmreview {name}" in README.read_text(encoding="utf-8"), (
        f"README.md never mentions `fmreview {name}`"
    )


def test_readme_has_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "pip install" in text and "fmreview run" in text
    assert "pytest" in text
