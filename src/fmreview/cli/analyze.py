"""``fmreview analyze``: trends, dataset use and co-occurrence of the included works."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fmreview.cli.console import make_console
from fmreview.cli.options import DirOption, JsonOption, QuietOption, open_store, repeated

console = make_console()


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze(
        directory: Path = DirOption,
        as_json: bool = JsonOption,
        explain: list[str] | None = repeated(
            "--explain",
            help="List the works behind a cell: AXIS=VALUE [YEAR] (repeat for more terms).",
        ),
        quiet: bool = QuietOption,
    ) -> None:
        """Counts, growth models, trend tests, dataset use and co-occurrence, stored for the report.

        Example: fmreview analyze --dir fm-review --explain task=segmentation --explain 2024
        """
        from fmreview.analysis import format_text
        from fmreview.analysis_store import analyze_store, explain_store
        from fmreview.progress import default_reporter

        store = open_store(directory)
        if explain:
            df = explain_store(store, list(explain))
            if as_json:
                typer.echo(df.to_json(orient="records", force_ascii=False))
            else:
                console.print(f"{len(df)} works for {' '.join(explain)}")
                console.print(
                    df.to_string(index=False, max_colwidth=90), highlight=False, markup=False
                )
            return
        stored = analyze_store(store, reporter=default_reporter(quiet))
        if as_json:
            typer.echo(json.dumps(stored.result.to_dict(), ensure_ascii=False, indent=1))
        else:
            console.print(
                format_text(stored.result, width=console.width), highlight=False, markup=False
            )
