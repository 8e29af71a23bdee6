"""``fmreview run``: the main job."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from fmreview.cli.console import make_console
from fmreview.cli.options import JsonOption, NewDbOption, NewProtocolOption, QuietOption

console = make_console()


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        directory: Path = typer.Argument(
            Path("fm-review"), help="The review folder (made if missing)."
        ),
        protocol: Path | None = NewProtocolOption,
        db: str | None = NewDbOption,
        quiet: bool = QuietOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Run the whole pipeline offline on the protocol's bundled snapshot.

        Imports the snapshot, deduplicates, screens by the eligibility rules, classifies
        every work, analyses trends and writes the report. Safe to re-run.

        Example: fmreview run ./fm-review
        """
        from fmreview.pipeline import run_review
        from fmreview.progress import default_reporter

        summary = run_review(
            directory, protocol_path=protocol, db_url=db, reporter=default_reporter(quiet)
        )
        if as_json:
            typer.echo(json.dumps(summary.as_dict(), indent=2, default=str))
            return
        verb = "Created" if summary.created else "Updated"
        console.print(f"{verb} review in [bold]{summary.folder.resolve()}[/]")
        if summary.imported:
            console.print(
                f"Snapshot: {summary.imported.get('added', 0)} records added, "
                f"{summary.imported.get('already_present', 0)} already present"
            )
        table = Table("stage", "seconds")
        table.add_column("result", overflow="fold", ratio=1)
        for st in summary.stages:
            shown = ", ".join(f"{k}={v}" for k, v in st.scalar_counts().items())
            table.add_row(st.name, f"{st.seconds:.1f}", shown)
        console.print(table)
        console.print("Wrote:")
        for name, path in summary.outputs.items():
            console.print(f"  {name}: {path}", highlight=False)
        if summary.report is not None:
            console.print(
                f"Open {summary.report} in a browser to read the report.", highlight=False
            )
        console.print(
            f"Other commands take --dir {directory}, e.g. fmreview runs --dir {directory}",
            highlight=False,
        )
