"""``fmreview fulltext``: full text as evidence for datasets, modality and task."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fmreview.cli.console import make_console
from fmreview.cli.options import DirOption, JsonOption, QuietOption, open_store

console = make_console()


def register(app: typer.Typer) -> None:
    @app.command("fulltext")
    def fulltext_cmd(
        directory: Path = DirOption,
        online: bool = typer.Option(
            False,
            "--online",
            help="Download open-access PDFs (arXiv, OpenAlex, Unpaywall) into <dir>/pdfs first.",
        ),
        email: str | None = typer.Option(
            None, "--email", help="Your e-mail for OpenAlex's polite pool and Unpaywall."
        ),
        quiet: bool = QuietOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Label datasets, modality and task from the methods/experiments of full texts.

        Offline it reads the PDFs in <dir>/pdfs (name them <arXiv id>.pdf,
        <doi with / as _>.pdf or <work id>.pdf); --online first fetches open-access PDFs
        into that folder (kept there as the cache). Evidence cites page and sentence.

        Example: fmreview fulltext --dir fm-review --online --email me@example.org
        """
        from fmreview.extract.fulltext_store import fulltext_store
        from fmreview.progress import default_reporter

        store = open_store(directory)
        res = fulltext_store(
            store, online=online, email=email, reporter=default_reporter(quiet or as_json)
        )
        if as_json:
            typer.echo(json.dumps(res, indent=1, ensure_ascii=False, default=str))
            return
        fetch = res.get("fetch")
        if fetch:
            console.print(
                f"PDFs: {fetch['downloaded']} downloaded, {fetch['cached']} already there, "
                f"{fetch['not_found']} without an open-access copy, {fetch['failed']} failed",
                highlight=False,
            )
        console.print(
            f"{res['with_fulltext']} of {res['works']} works have full text; "
            f"{len(res['found'])} labels rest on it",
            highlight=False,
        )
        for r in res["found"][:50]:
            console.print(
                f"work {r['work_id']} {r['axis']}={r['value']} (p.{r['page']}): "
                f"{r['sentence'][:160]}",
                highlight=False,
                markup=False,
            )
