"""The ``fmreview`` command line: a thin shell over the library.

Each command group lives in its own module exposing ``register(app)``; this module builds
the root app, wires the groups, and turns :class:`fmreview.errors.FmreviewError` into a
one-line message and a non-zero exit, in one place.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from fmreview import __version__
from fmreview.errors import FmreviewError

#: Command modules, in the order their commands appear in ``--help``.
COMMAND_MODULES = (
    "fmreview.cli.core",
    "fmreview.cli.run",
    "fmreview.cli.search",
    "fmreview.cli.dedupe",
    "fmreview.cli.screen",
    "fmreview.cli.extract",
    "fmreview.cli.fulltext",
    "fmreview.cli.analyze",
    "fmreview.cli.meta",
    "fmreview.cli.report",
    "fmreview.cli.protocol",
    "fmreview.cli.serve",
)

err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fmreview {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="fmreview",
        help=(
            "A living systematic review and meta-analysis engine.\n\n"
            "Example: fmreview run ./fm-review"
        ),
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ) -> None:
        """A living systematic review and meta-analysis engine.

        Example: fmreview run ./fm-review
        """

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that command group is not part of this build
                continue
            raise
        module.register(app)
    if _has("fmreview.search.update"):
        from fmreview.pipeline import register_update_stages

        register_update_stages()
    return app


def _has(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def main(argv: list[str] | None = None) -> int:
    app = build_app()
    try:
        rc = app(args=argv, standalone_mode=False)
    except FmreviewError as exc:
        err_console.print(
            f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True
        )
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print(
            "interrupted; everything written so far is kept — run the command again to resume"
        )
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 1
    except Exception as exc:
        # Usage errors: typer may vendor its own click, so match the exception by shape.
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return int(getattr(exc, "exit_code"))  # noqa: B009 - duck-typed click exception
        raise
    return rc if isinstance(rc, int) else 0


def entry() -> None:  # pragma: no cover - console script
    sys.exit(main())
