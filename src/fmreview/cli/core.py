"""Core commands: init, import, export, runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from fmreview.cli.console import make_console
from fmreview.cli.options import (
    DirOption,
    JsonOption,
    NewDbOption,
    NewProtocolOption,
    QuietOption,
    open_store,
)

console = make_console()


def register(app: typer.Typer) -> None:
    _init(app)

    _import_(app)

    _export(app)

    _runs(app)


def _init(app: typer.Typer) -> None:
    """Register ``init`` on ``app``."""

    @app.command("init")
    def init(
        directory: Path = typer.Argument(..., help="The new review folder."),
        protocol: Path | None = NewProtocolOption,
        db: str | None = NewDbOption,
    ) -> None:
        """Create a review folder with its protocol and an empty store.

        Example: fmreview init my-review --protocol protocol.yaml
        """
        from fmreview.pipeline import check_new_folder
        from fmreview.store import Store

        check_new_folder(directory)
        store = Store.create(directory, protocol_path=protocol, db_url=db)
        with store.run(
            "init",
            {
                "dir": str(directory),
                "protocol": str(protocol) if protocol else None,
                "db": "postgresql" if db and db.startswith("postgres") else "sqlite",
            },
        ):
            pass
        console.print(
            f"Created review [bold]{store.protocol.name}[/] in {directory} ({store.dialect})"
        )


def _import_(app: typer.Typer) -> None:
    """Register ``import_`` on ``app``."""

    @app.command("import")
    def import_(
        files: list[Path] = typer.Argument(
            ..., help="Export files (RIS, BibTeX, MEDLINE, XML, CSV, XLSX, JSON …)."
        ),
        directory: Path = DirOption,
        source: str | None = typer.Option(
            None, "--source", "-s", help="Source name for PRISMA (default: file name)."
        ),
        kind: str = typer.Option(
            "database", "--kind", help="database | other (curated lists, citation searching) | file"
        ),
        format: str | None = typer.Option(
            None, "--format", "-f", help="Force a format instead of sniffing it."
        ),
        strict: bool = typer.Option(
            False, "--strict", help="Write nothing if any record is malformed."
        ),
        quiet: bool = QuietOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Import export files; the format is sniffed from the content.

        Bad records are quarantined with a report (or, with --strict, nothing is written).

        Example: fmreview import scopus.ris pubmed.nbib --dir my-review --source Scopus
        """
        from fmreview.importer import import_files
        from fmreview.progress import default_reporter

        store = open_store(directory)
        result = import_files(
            store,
            files,
            source=source,
            source_kind=kind,
            format=format,
            strict=strict,
            reporter=default_reporter(quiet),
        )
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "run": result.run_id,
                        **result.counts(),
                        "files": [f.as_dict() for f in result.files],
                        "report": str(result.report) if result.report else None,
                    },
                    indent=2,
                )
            )
            return
        # the file's name, folded rather than cut: a long folder path cut to "/work/sh…"
        # left every row unreadable (the messages below name the file the same way)
        table = Table("file", "format", "read", "added", "already there", "quarantined")
        table.columns[0].overflow = "fold"
        for f in result.files:
            table.add_row(
                escape(Path(f.file).name),
                f.format,
                str(f.read),
                str(f.added),
                str(f.already_present),
                str(f.quarantined),
            )
        console.print(table)
        for f in result.files:
            for e in f.errors[:5]:
                console.print(f"[yellow]quarantined:[/] {escape(e['message'])}", highlight=False)
            if f.warnings:
                kinds = ", ".join(f"{n} {k}" for k, n in f.warning_kinds().items())
                console.print(f"[yellow]warnings[/] in {escape(Path(f.file).name)}: {kinds}")
            for w in f.warnings[:5]:
                console.print(f"[yellow]warning:[/] {escape(w['message'])}", highlight=False)
        if result.report:
            console.print(f"Quarantine and warnings report: {result.report}")


def _export(app: typer.Typer) -> None:
    """Register ``export`` on ``app``."""

    @app.command("export")
    def export(
        out: Path = typer.Argument(
            ..., help="Output file; the format follows the extension unless --format is given."
        ),
        directory: Path = DirOption,
        format: str | None = typer.Option(
            None, "--format", "-f", help="ris | bibtex | csv | xlsx | jsonl | parquet"
        ),
        what: str = typer.Option("works", "--what", help="works | records | included | excluded"),
    ) -> None:
        """Export works (with decisions and labels) or the raw records.

        Example: fmreview export included.ris --dir my-review --what included
        """
        from fmreview.exporter import export_review

        store = open_store(directory)
        if what != "records":
            _require_works(store, directory)
        n = export_review(store, out, format=format, what=what)
        console.print(f"Wrote {n} {what} to {out}", highlight=False)


def _runs(app: typer.Typer) -> None:
    """Register ``runs`` on ``app``."""

    @app.command("runs")
    def runs(directory: Path = DirOption, as_json: bool = JsonOption) -> None:
        """List every command run on the review (what PRISMA and the methods come from).

        Example: fmreview runs --dir my-review
        """
        rows = open_store(directory).runs()
        if as_json:
            typer.echo(json.dumps(rows, indent=2, default=str))
            return
        # no vertical rules: at 80 columns the counts need the room (a count folded
        # mid-number read as two numbers)
        table = Table("id", "command", "status", "started", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("counts", overflow="fold", ratio=1)
        for r in rows:
            counts = ", ".join(
                f"{k}={v}"
                for k, v in (r["counts"] or {}).items()
                if not isinstance(v, list | dict) and v not in (0, None, "")
            )
            table.add_row(
                str(r["id"]), r["command"], r["status"], str(r["started_at"])[:16], counts
            )
        console.print(table)
        console.print("Counts of zero are not shown; --json lists everything.", style="dim")


def _require_works(store: Any, directory: Path) -> None:
    """Refuse to export works before there are any (it wrote an empty file, exit 0)."""
    import sqlalchemy as sa

    from fmreview.errors import InputError
    from fmreview.store import schema
    from fmreview.store.records import count_records

    with store.connect() as conn:
        works = conn.execute(sa.select(sa.func.count()).select_from(schema.works)).scalar_one()
    if works:
        return
    records = count_records(store)
    if records:
        raise InputError(
            f"no works to export yet: the {records} imported records become works with "
            f"`fmreview dedupe --dir {directory}`; run it first, or export the records as "
            "imported with --what records (nothing was written)"
        )
    raise InputError(
        f"the review in {directory} holds no records yet: import some with `fmreview import "
        "FILE --dir DIR` or search with `fmreview search` (nothing was written)"
    )
