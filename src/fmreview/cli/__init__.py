"""The ``fmreview`` command line: a thin shell over the library.

Each command group lives in its own module exposing ``register(app)``; this module builds
the root app, wires the groups, and turns :class:`fmreview.errors.FmreviewError` into a
one-line message and a non-zero exit, in one place.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Any

import typer
import typer.main
from rich.markup import escape

from fmreview import __version__
from fmreview.cli import (
    analyze,
    core,
    dedupe,
    extract,
    fulltext,
    meta,
    protocol,
    report,
    run,
    screen,
    search,
    serve,
)
from fmreview.cli.console import make_console
from fmreview.errors import FmreviewError

#: Command modules, in the order their commands appear in ``--help``.
COMMAND_MODULES = (
    core,
    run,
    search,
    dedupe,
    screen,
    extract,
    fulltext,
    analyze,
    meta,
    report,
    protocol,
    serve,
)

err_console = make_console(stderr=True)


def _verbose(value: bool) -> None:
    if value:
        configure_logging(logging.DEBUG)


def configure_logging(level: int = logging.WARNING) -> None:
    """Send the library's log records (logger ``fmreview``) to stderr at ``level``."""
    from rich.logging import RichHandler

    logger = logging.getLogger("fmreview")
    logger.setLevel(level)
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(
            console=make_console(stderr=True), show_path=False, markup=False, rich_tracebacks=False
        )
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger.addHandler(handler)


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
        verbose: bool = typer.Option(
            False,
            "--verbose",
            "-v",
            callback=_verbose,
            is_eager=True,
            help="Log what each stage does (to stderr).",
        ),
    ) -> None:
        """A living systematic review and meta-analysis engine.

        Example: fmreview run ./fm-review
        """

    for module in COMMAND_MODULES:
        module.register(app)
    return app


def build_command() -> Any:
    """The click command behind :func:`build_app`, with flags shown without a type.

    typer 0.29 prints the Python type of every option in ``--help``, ``<bool>`` even beside
    flags that take no value (``--json <bool>``), which reads as if they needed one. An
    empty metavar shows nothing there; options that take a value keep their type.
    """
    command = typer.main.get_command(build_app())
    _hide_flag_types(command)
    return command


def _hide_flag_types(command: Any) -> None:
    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    help_option = command.get_help_option(command.context_class(command))
    if help_option is not None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _hide_flag_types(sub)


def interrupted_message(argv: list[str] | None) -> str:
    """What Ctrl-C kept: the runs it stopped, what they had finished, how to resume."""
    from fmreview.store.store import interrupted_runs

    command = " ".join(["fmreview", *(sys.argv[1:] if argv is None else argv)])
    lines = ["interrupted."]
    if interrupted_runs:
        inner, outer = interrupted_runs[0], interrupted_runs[-1]
        where = f"run {outer.id} ({outer.command})"
        if inner is not outer:
            where += f", during its {inner.command} stage (run {inner.id})"
        lines.append(f"Stopped {where}; it is recorded as interrupted.")
        kept = _kept(outer.counts)
        if kept:
            lines.append(f"Kept: {kept}.")
    lines.append(
        "Everything written before the interruption is kept (each step commits as it goes); "
        f"run the same command again to resume: {command}"
    )
    interrupted_runs.clear()
    return "\n".join(lines)


def _kept(counts: dict[str, Any]) -> str:
    parts = []
    imported = counts.get("imported")
    if isinstance(imported, dict) and imported.get("added") is not None:
        parts.append(f"{imported['added']} records imported")
    stages = counts.get("stages")
    if isinstance(stages, dict) and stages:
        parts.append("finished stages " + ", ".join(stages))
    parts += [f"{k}={v}" for k, v in counts.items() if isinstance(v, int | float) and v]
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    command = build_command()
    # typer turns Ctrl-C into a quiet exit code 130; a handler of our own notes that it
    # happened, so the message below says what was kept and how to resume
    sigint: list[int] = []
    previous = _on_sigint(sigint)
    try:
        rc = command.main(args=argv, standalone_mode=False, prog_name="fmreview")
    except FmreviewError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print(interrupted_message(argv), highlight=False)
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
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    from fmreview.store.store import interrupted_runs

    if sigint or (rc == 130 and interrupted_runs):
        err_console.print(interrupted_message(argv), highlight=False)
        return 130
    return rc if isinstance(rc, int) else 0


def _on_sigint(seen: list[int]) -> Any:
    """Install a SIGINT handler that records the signal and raises KeyboardInterrupt."""

    def handler(signum: int, frame: Any) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # e.g. a background job
        return None
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave signals alone
        return None


def entry() -> None:  # pragma: no cover - console script
    sys.exit(main())
