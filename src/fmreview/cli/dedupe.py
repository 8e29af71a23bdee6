"""Deduplication commands: ``fmreview dedupe`` and ``fmreview dedupe review``.

The review loop reads single keys through an injectable ``read_key`` (``click.getchar`` on
a terminal, characters from stdin otherwise; tests pass scripted keys) and appends every answer to the store the moment it is
given, so quitting (or being killed) at any point loses nothing; the next
``fmreview dedupe`` applies the answers.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from fmreview.cli.console import make_console
from fmreview.cli.options import DirOption, JsonOption, QuietOption, open_store

console = make_console()

KEYS_HELP = "[s] same work  [d] different  [k] skip  [q] quit"


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(
            ", ".join(str(p) for p in a if p) if isinstance(a, list | tuple) else str(a)
            for a in value
        )
    return str(value)


def diff_texts(a: str, b: str) -> tuple[Text, Text]:
    """Two texts with the words that differ highlighted (difflib, word level)."""
    wa, wb = a.split(), b.split()
    ta, tb = Text(), Text()
    for op, i1, i2, j1, j2 in SequenceMatcher(a=wa, b=wb, autojunk=False).get_opcodes():
        style = None if op == "equal" else "bold yellow"
        if i2 > i1:
            ta.append(" ".join(wa[i1:i2]) + " ", style=style)
        if j2 > j1:
            tb.append(" ".join(wb[j1:j2]) + " ", style=style)
    return ta, tb


def render_pair(pair: dict[str, Any], position: int, total: int) -> Group:
    """The two records side by side, differences highlighted, with the score's reasons."""
    from fmreview.dedupe.keys import COLUMNS  # here: it imports pandas (CLI start-up)

    table = Table(show_lines=True, expand=True)
    table.add_column("field", style="dim", no_wrap=True)
    table.add_column(f"record {pair['a']['id']}")
    table.add_column(f"record {pair['b']['id']}")
    # the columns dedupe compares, less the id and the ones too long or too opaque to
    # read side by side (abstract, OpenAlex id), plus where each record came from
    for f in (*(c for c in COLUMNS if c not in ("id", "openalex", "abstract")), "source"):
        va, vb = _show(pair["a"].get(f)), _show(pair["b"].get(f))
        if not va and not vb:
            continue
        ta, tb = diff_texts(va, vb)
        table.add_row(f, ta, tb)
    reason = pair.get("reason") or {}
    why = ", ".join(
        f"{k} {v.get('value')} ({v.get('weight'):+})"
        for k, v in (reason.get("fields") or {}).items()
    )
    head = Text(f"pair {position}/{total} · score {pair['score']:.3f}", style="bold")
    return Group(head, table, Text(f"why: {why}", style="dim"), Text(KEYS_HELP, style="cyan"))


def run_review(
    store: Any,
    reviewer: str,
    *,
    read_key: Callable[[], str],
    out: Console | None = None,
    limit: int | None = None,
) -> dict[str, int]:
    """Ask about pending pairs until ``q``, none are left, or ``limit`` answers."""
    from fmreview.dedupe.store_io import decide_pair, pending_pairs

    out = out or console
    pairs = pending_pairs(store)
    counts = {"same": 0, "different": 0, "skipped": 0, "pending": len(pairs)}
    for n, pair in enumerate(pairs, 1):
        if limit is not None and counts["same"] + counts["different"] >= limit:
            break
        out.print(render_pair(pair, n, len(pairs)))
        while True:
            key = (read_key() or "").lower()
            if key in ("s", "d", "k", "q"):
                break
            out.print(Text(f"unknown key {key!r}; {KEYS_HELP}", style="red"))
        if key == "q":
            break
        if key == "k":
            counts["skipped"] += 1
            continue
        decide_pair(store, int(pair["a"]["id"]), int(pair["b"]["id"]), key == "s", reviewer)
        counts["same" if key == "s" else "different"] += 1
    counts["pending"] -= counts["same"] + counts["different"]
    return counts


def read_key() -> str:
    """One key press on a terminal; from a pipe, the next non-blank character ("q" at EOF)."""
    if sys.stdin.isatty():
        import click

        return str(click.getchar())
    ch = sys.stdin.read(1)
    while ch and ch.isspace():
        ch = sys.stdin.read(1)
    return ch or "q"


def register(app: typer.Typer) -> None:
    dedupe_app = typer.Typer(
        help="Group records into works; review uncertain pairs.\n\nExample: fmreview dedupe --dir ./fm-review",
        invoke_without_command=True,
        no_args_is_help=False,
    )

    @dedupe_app.callback(invoke_without_command=True)
    def dedupe(
        ctx: typer.Context,
        directory: Path = DirOption,
        quiet: bool = QuietOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Cluster new records into works (exact ids, fuzzy title/author/venue, versions).

        Only records not yet in a work are compared; human decisions are respected.

        Example: fmreview dedupe --dir ./fm-review
        """
        if ctx.invoked_subcommand is not None:
            return
        from fmreview import stages
        from fmreview.progress import default_reporter

        counts = stages.dedupe(open_store(directory), reporter=default_reporter(quiet)).counts
        if as_json:
            typer.echo(json.dumps(counts))
            return
        table = Table(title="dedupe")
        table.add_column("count")
        table.add_column("value", justify="right")
        for k, v in counts.items():
            table.add_row(k.replace("_", " "), str(v))
        console.print(table)
        if counts.get("uncertain_pairs"):
            console.print("Review the uncertain pairs with: fmreview dedupe review")

    @dedupe_app.command("review")
    def review(
        directory: Path = DirOption,
        reviewer: str = typer.Option(
            "", "--reviewer", "-r", help="Your name (default: the login name)."
        ),
        limit: int | None = typer.Option(None, "--limit", help="Stop after this many answers."),
    ) -> None:
        """Decide uncertain pairs side by side: s = same work, d = different, k = skip, q = quit.

        Answers are saved at once; quit and resume any time. The next `fmreview dedupe`
        applies them.

        Example: fmreview dedupe review --dir ./fm-review --reviewer alice
        """
        store = open_store(directory)
        name = reviewer or getpass.getuser()
        counts = run_review(store, name, read_key=read_key, limit=limit)
        console.print(
            f"same {counts['same']} · different {counts['different']} · skipped {counts['skipped']} · "
            f"still pending {counts['pending']}"
        )
        if counts["same"] or counts["different"]:
            console.print("Apply the answers with: fmreview dedupe")

    app.add_typer(dedupe_app, name="dedupe")
