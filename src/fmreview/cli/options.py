"""Options shared by the command modules."""

from __future__ import annotations

from pathlib import Path

import typer

DirOption = typer.Option(
    Path("."), "--dir", "-d", help="The review folder (made by `fmreview init`).", show_default=True
)
QuietOption = typer.Option(False, "--quiet", "-q", help="No progress bars.")
JsonOption = typer.Option(False, "--json", help="Print the result as JSON.")


def open_store(directory: Path):  # type: ignore[no-untyped-def]
    from fmreview.store import Store

    return Store.open(directory)
