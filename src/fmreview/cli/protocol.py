"""``fmreview protocol``: check a protocol file, write a template, show a protocol."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from fmreview.cli.console import make_console
from fmreview.cli.options import DirOption

console = make_console()


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Review protocols: check, write a template, show.\n\nExample: fmreview protocol check protocol.yaml",
        no_args_is_help=True,
    )

    @group.command("check")
    def check(path: Path = typer.Argument(..., help="The protocol YAML file.")) -> None:
        """Validate a protocol; errors name the line and the key.

        Example: fmreview protocol check protocol.yaml
        """
        from fmreview.protocol import check_protocol, load_protocol, protocol_errors

        errors = protocol_errors(path)
        if errors:
            from fmreview.errors import ProtocolError

            for e in errors:
                console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
            raise ProtocolError(f"{path} does not validate: {len(errors)} error(s), listed above")
        protocol = load_protocol(path)
        for w in check_protocol(path):
            console.print(f"[yellow]warning:[/] {escape(str(w))}", highlight=False)
        console.print(
            f"ok: {path} is a valid protocol '{protocol.name}' ({len(protocol.sources)} sources, "
            f"{len(protocol.eligibility)} criteria, {len(protocol.taxonomy)} taxonomy axes)",
            highlight=False,
        )

    @group.command("new")
    def new(
        out: Path = typer.Argument(
            Path("protocol.yaml"), help="Where to write the template ('-' = print it)."
        ),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    ) -> None:
        """Write a commented protocol template for another field.

        Example: fmreview protocol new my-review.yaml
        """
        from fmreview.errors import InputError
        from fmreview.protocol import template_text

        text = template_text()
        if str(out) == "-":
            typer.echo(text, nl=False)
            return
        if out.exists() and not force:
            raise InputError(f"{out} exists; choose another name or pass --force to overwrite it")
        out.write_text(text, encoding="utf-8")
        console.print(
            f"wrote {out}; fill in the <...> parts, then: fmreview protocol check {out}",
            highlight=False,
        )

    @group.command("show")
    def show(
        path: Path | None = typer.Argument(
            None, help="A protocol file (default: the review's, else the flagship)."
        ),
        directory: Path = DirOption,
        as_yaml: bool = typer.Option(False, "--yaml", help="Print the file itself."),
    ) -> None:
        """Summarise a protocol: question, sources, criteria and taxonomy.

        Example: fmreview protocol show --dir fm-review
        """
        from fmreview.protocol import flagship_path, load_protocol

        if path is None:
            path = directory / "protocol.yaml"
            if not path.exists():
                path = flagship_path()
        if as_yaml:
            typer.echo(path.read_text(encoding="utf-8"), nl=False)
            return
        p = load_protocol(path)
        console.print(f"[bold]{p.title}[/] ({p.name}) — {path}", highlight=False)
        console.print(p.question, highlight=False)
        start = p.date_range.start.isoformat() if p.date_range.start else "any"
        end = p.date_range.end.isoformat() if p.date_range.end else "now"
        console.print(f"dates: {start} to {end}; languages: {', '.join(p.languages) or 'any'}")
        console.print(
            f"sources: {', '.join(n for n, s in p.sources.items() if s.enabled) or 'none'}"
        )
        if p.snapshot:
            console.print(f"snapshot: {p.snapshot}")
        # grids indent a wrapped description or value list under its own column (80 columns)
        crit = Table.grid(padding=(0, 1))
        for _ in range(3):
            crit.add_column(no_wrap=True)
        crit.add_column(overflow="fold")
        for c in p.eligibility:
            rule = " (rule)" if c.rule else ""
            crit.add_row(f"  {c.id}", c.action, c.stage, f"{c.description.strip()}{rule}")
        console.print("[bold]eligibility[/]")
        console.print(crit, highlight=False)
        axes = Table.grid(padding=(0, 1))
        axes.add_column(no_wrap=True)
        axes.add_column(no_wrap=True)
        axes.add_column(overflow="fold")
        for a in p.taxonomy:
            kind = "multi" if a.multi else "single"
            vals = "gazetteer" if a.from_gazetteer else ", ".join(v.name for v in a.values)
            axes.add_row(f"  {a.name}", kind, vals)
        console.print("[bold]taxonomy[/]")
        console.print(axes, highlight=False)
        if p.analyses.events:
            console.print(
                "[bold]events[/]: " + "; ".join(f"{e.name} {e.date}" for e in p.analyses.events)
            )

    app.add_typer(group, name="protocol")
