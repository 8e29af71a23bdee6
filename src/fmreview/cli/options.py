"""Options shared by the command modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

DirOption = typer.Option(
    Path("."), "--dir", "-d", help="The review folder (made by `fmreview init`).", show_default=True
)
QuietOption = typer.Option(False, "--quiet", "-q", help="No progress bars.")
JsonOption = typer.Option(False, "--json", help="Print the result as JSON.")

#: ``init`` and ``run`` (which makes the review when the folder is missing).
NewProtocolOption = typer.Option(
    None,
    "--protocol",
    "-p",
    help="Protocol YAML for a new review (default: the bundled FM-in-medical-imaging protocol).",
)
NewDbOption = typer.Option(
    None,
    "--db",
    help="Database URL for a new review (default: SQLite file in the folder), "
    "e.g. postgresql://user@host/db",
)

#: The account a ``users`` command acts on.
UserArgument = typer.Argument(..., help="User name.")


def repeated(*names: str, help: str) -> Any:
    """A repeatable option (``--source a --source b``) whose value is a list, or None
    when it is not given (so the command falls back to the protocol's choice)."""
    return typer.Option(None, *names, help=help)


#: The protocol's sources to search (``search``, ``update``).
SourceOption = repeated(
    "--source", "-s", help="Only this source (repeat for several); default: every enabled one."
)


def open_store(directory: Path):  # type: ignore[no-untyped-def]
    from fmreview.store import Store

    return Store.open(directory)
