"""Search commands: ``search`` (and ``search urls``), ``enrich``, ``update``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from fmreview.cli.console import make_console
from fmreview.cli.options import (
    DirOption,
    JsonOption,
    QuietOption,
    SourceOption,
    open_store,
    repeated,
)

console = make_console()


def _search_table(counts: dict[str, dict[str, Any]]) -> Group:
    """Per source: status and counts in a table, then one line per note (80 columns)."""
    table = Table("source", "status", "hits", "fetched", "added", "known")
    notes: list[Text] = []
    for name, c in counts.items():
        note = c.get("error") or ("resumed" if c.get("resumed") else "")
        if c.get("warnings") and not c.get("error"):
            note = (note + "; " if note else "") + f"{len(c['warnings'])} warning(s)"
        table.add_row(
            name,
            str(c.get("status", "")),
            "" if c.get("total_hits") is None else str(c["total_hits"]),
            str(c.get("fetched", 0)),
            str(c.get("added", 0)),
            str(c.get("already_present", 0)),
        )
        if note:
            notes.append(Text(f"{name}: {note}", style="red" if c.get("error") else "dim"))
    caption = Text("hits: the source's total; known: already in the review", style="dim")
    return Group(table, caption, *notes)


def register(app: typer.Typer) -> None:
    """Add ``search``, ``search urls``, ``enrich`` and ``update`` to ``app``."""
    # The group's help is the callback's docstring.
    search_app = typer.Typer(no_args_is_help=False, invoke_without_command=True)

    _search(search_app)

    _urls(search_app)

    app.add_typer(search_app, name="search")

    _enrich_cmd(app)

    _update_cmd(app)


def _search(search_app: typer.Typer) -> None:
    """Register ``search`` on ``search_app``."""

    @search_app.callback(invoke_without_command=True)
    def search(
        ctx: typer.Context,
        directory: Path = DirOption,
        source: list[str] | None = SourceOption,
        since: str | None = typer.Option(
            None, "--since", help="Only records from this date on (YYYY-MM-DD)."
        ),
        max: int | None = typer.Option(None, "--max", min=1, help="At most N records per source."),
        no_cache: bool = typer.Option(
            False, "--no-cache", help="Do not read or write the response cache."
        ),
        quiet: bool = QuietOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Run the protocol's searches and import the results as records.

        Each source's query, first URL, retrieval time and total hit count are recorded (the
        PRISMA identification numbers). An interrupted search resumes from its last page
        when run again; a failed source does not lose what the others returned.

        Example: fmreview search --dir my-review --source openalex --source pubmed --since 2024-01-01
        """
        if ctx.invoked_subcommand is not None:
            return
        from fmreview.errors import SourceError
        from fmreview.progress import default_reporter
        from fmreview.search import run_search

        store = open_store(directory)
        try:
            counts = run_search(
                store,
                sources=source or None,
                since=since,
                max=max,
                cache=False if no_cache else None,
                reporter=default_reporter(quiet),
            )
        except SourceError as exc:
            partial = getattr(exc, "counts", None)
            if partial and as_json:
                typer.echo(json.dumps(partial, indent=2, default=str))
            elif partial:
                console.print(_search_table(partial))
            raise
        if as_json:
            typer.echo(json.dumps(counts, indent=2, default=str))
            return
        console.print(_search_table(counts))


def _urls(search_app: typer.Typer) -> None:
    """Register ``urls`` on ``search_app``."""

    @search_app.command("urls")
    def urls(
        directory: Path | None = typer.Option(
            None, "--dir", "-d", help="A review folder whose protocol to describe."
        ),
        protocol: Path | None = typer.Option(
            None,
            "--protocol",
            "-p",
            help="A protocol YAML (default: the bundled flagship protocol).",
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Print the exact first URL each source receives for the protocol's queries.

        API keys are never printed.

        Example: fmreview search urls --protocol protocol.yaml
        """
        from fmreview.search import describe_requests

        proto = _protocol(directory, protocol)
        found = describe_requests(proto)
        if as_json:
            typer.echo(json.dumps(found, indent=2))
            return
        for name, url in found.items():
            typer.echo(f"{name}\t{url}")


def _enrich_cmd(app: typer.Typer) -> None:
    """Register ``enrich_cmd`` on ``app``."""

    @app.command("enrich")
    def enrich_cmd(
        directory: Path = DirOption,
        source: list[str] | None = repeated(
            "--source",
            "-s",
            help="Look up in these sources only: arxiv, pubmed, openalex, crossref.",
        ),
        limit: int | None = typer.Option(None, "--limit", min=1, help="Look at most N records."),
        quiet: bool = QuietOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Fetch missing abstracts for records that have a DOI, PMID or arXiv id.

        Answers are stored as new records (never edits) that say which source filled which
        field; dedupe links them to the records they complete.

        Example: fmreview enrich --dir my-review --source pubmed --source openalex
        """
        from fmreview.progress import default_reporter
        from fmreview.search import enrich

        counts = enrich(
            open_store(directory),
            sources=source or None,
            limit=limit,
            reporter=default_reporter(quiet),
        )
        if as_json:
            typer.echo(json.dumps(counts, indent=2, default=str))
            return
        table = Table("source", "identifiers asked", "records filled", "error")
        for name in counts["looked_up"]:
            table.add_row(
                name,
                str(counts["looked_up"][name]),
                str(counts["filled"].get(name, 0)),
                counts["errors"].get(name, ""),
            )
        console.print(table)
        console.print(
            f"{counts['candidates']} record(s) lacked an abstract; {counts['new_records']} enrichment record(s) "
            f"added; {counts['still_missing']} still without one"
        )


def _update_cmd(app: typer.Typer) -> None:
    """Register ``update_cmd`` on ``app``."""

    @app.command("update")
    def update_cmd(
        directory: Path = DirOption,
        source: list[str] | None = SourceOption,
        wait: float = typer.Option(
            0.0, "--wait", min=0, help="Seconds to wait for a running update's lock."
        ),
        note: str = typer.Option("", "--note", help="A note stored with the new review version."),
        quiet: bool = QuietOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Bring a living review up to date: search since the last retrieval, re-run the stages.

        Searches each source again from its last successful retrieval (minus the protocol's
        overlap_days), imports, runs dedupe/screening/extraction/report and records a new
        review version. Safe for cron: one update at a time (a lock), non-zero exit with a
        one-line reason when something failed.

        Example: fmreview update --dir my-review
        """
        from fmreview.errors import SourceError
        from fmreview.progress import default_reporter
        from fmreview.update import update

        try:
            out = update(
                open_store(directory),
                sources=source or None,
                reporter=default_reporter(quiet),
                lock_timeout=wait,
                note=note,
            )
        except SourceError as exc:
            partial = getattr(exc, "result", None)
            if partial is not None and not as_json:
                _print_update(partial, directory)
            raise
        if as_json:
            typer.echo(json.dumps(out.as_dict(), indent=2))
            return
        _print_update(out, directory)


def _print_update(out: Any, directory: Path) -> None:
    """The searches, the stages and where the new works went (80 columns)."""
    console.print(_search_table(out.search))
    for name, counts in out.stages.items():
        shown = ", ".join(f"{k}={v}" for k, v in counts.items() if not isinstance(v, dict | list))
        console.print(f"{name}: {shown}", highlight=False)
    console.print(
        f"Version {out.version} recorded: {out.new_records} new record(s), "
        f"{out.new_works} new work(s).",
        highlight=False,
    )
    if out.mode == "rules" and out.included_by_rules:
        console.print(
            f"[bold yellow]{out.included_by_rules} new work(s) included by rules[/] "
            "(screening.mode: rules): no person screened them. Set screening.mode: human "
            "in protocol.yaml to screen new works with `fmreview screen`.",
            highlight=False,
        )
    elif out.to_screen:
        console.print(
            f"{out.to_screen} new work(s) wait for screening, ranked by the screening "
            "model: "
            f"fmreview screen --dir {directory} --reviewer NAME",
            highlight=False,
        )


def _protocol(directory: Path | None, protocol: Path | None) -> Any:
    from fmreview.store.store import PROTOCOL_FILE, _flagship, _load_protocol

    if protocol is not None:
        return _load_protocol(protocol)
    if directory is not None:
        return _load_protocol(directory / PROTOCOL_FILE)
    return _flagship()
