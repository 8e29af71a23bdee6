"""``fmreview report`` and ``fmreview prisma``: the review as a publication."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from fmreview.cli.console import make_console
from fmreview.cli.options import DirOption, JsonOption, QuietOption, open_store

console = make_console()


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        directory: Path = DirOption,
        out: Path | None = typer.Option(
            None, "--out", "-o", help="Output folder (default: DIR/report)."
        ),
        open_: bool = typer.Option(False, "--open", help="Open the report in the default browser."),
        quiet: bool = QuietOption,
    ) -> None:
        """Write the report: PRISMA diagram, figures, tables, exports and a self-contained HTML page.

        Everything goes to DIR/report/ (index.html, prisma.svg/png/pdf, figures/, tables/,
        exports/). The page works offline; open index.html in any browser.

        Example: fmreview report --dir fm-review --open
        """
        from fmreview.progress import default_reporter
        from fmreview.report.build import build_report

        store = open_store(directory)
        try:
            result = build_report(store, reporter=default_reporter(quiet), out_dir=out)
        finally:
            store.close()
        from fmreview.report.html import plural

        path = Path(result["report_path"]).resolve()
        console.print(
            f"{plural(result['studies_included'], 'study', 'studies')} included of "
            f"{plural(result['records_identified'], 'record')} identified"
        )
        if not result.get("invariants_ok", True):
            console.print(
                "[bold red]warning:[/] some PRISMA boxes do not add up; see the checks in the report"
            )
        console.print(f"Report: {path}", highlight=False)
        if open_:
            import webbrowser

            webbrowser.open(path.as_uri())

    @app.command("prisma")
    def prisma(directory: Path = DirOption, as_json: bool = JsonOption) -> None:
        """Print the PRISMA 2020 flow counts computed from the store.

        Example: fmreview prisma --dir fm-review --json
        """
        from fmreview.report.prisma import prisma_counts

        store = open_store(directory)
        try:
            c = prisma_counts(store)
        finally:
            store.close()
        if as_json:
            data = c.as_dict()
            data["invariants"] = [
                {
                    "name": i.name,
                    "left": i.left,
                    "right": i.right,
                    "ok": i.ok,
                    "arrows": list(i.arrows),
                }
                for i in c.invariants()
            ]
            typer.echo(json.dumps(data, indent=2, default=str))
            return
        table = Table("box", "n", title="PRISMA 2020 flow")
        for key, n in c.flat().items():
            table.add_row(key, str(n))
        console.print(table)
        bad = [i for i in c.invariants() if not i.ok]
        if bad:
            for i in bad:
                console.print(f"[bold red]does not add up:[/] {i.name}: {i.left} != {i.right}")
        else:
            console.print(f"All {len(c.invariants())} checks add up.")
