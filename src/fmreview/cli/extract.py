"""``fmreview extract``, ``fmreview extract review`` and ``fmreview find``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from fmreview.cli.console import make_console
from fmreview.cli.options import DirOption, JsonOption, QuietOption, open_store, repeated

console = make_console()


def highlight(text: str, spans: list[dict[str, Any]], field: str) -> Text:
    """``text`` with the evidence spans of ``field`` highlighted."""
    out = Text(text)
    for s in spans:
        if s.get("field") == field and s.get("start") is not None and s.get("end") is not None:
            out.stylize("bold black on yellow", int(s["start"]), int(s["end"]))
    return out


def review_labels(
    store: Any,
    reviewer: str,
    *,
    ask: Callable[[str], str],
    show: Callable[[Any], None],
    limit: int = 20,
    axes: list[str] | None = None,
) -> dict[str, int]:
    """Walk the review queue: confirm (c), correct (x), skip (s) or quit (q) each label.

    ``ask`` returns the person's answer to a prompt (``typer.prompt`` on a terminal; a
    scripted function in tests); ``show`` prints.
    """
    from fmreview.extract.store_io import confirm_label, correct_label, review_queue

    counts = {"confirmed": 0, "corrected": 0, "skipped": 0}
    queue = review_queue(store, limit, axes=axes)
    if not queue:
        show("nothing to review: no automatic labels (run: fmreview extract)")
        return counts
    for i, item in enumerate(queue, 1):
        ev = item["evidence"] or []
        show(Text(f"\n[{i}/{len(queue)}] work {item['work_id']}", style="bold"))
        show(highlight(item["title"] or "", ev, "title"))
        if item.get("abstract"):
            show(highlight(item["abstract"][:1200], ev, "abstract"))
        where = (
            "; ".join(f"{s.get('field')}: {s.get('text')!r}" for s in ev[:4])
            or "no text span (classifier)"
        )
        show(
            Text(
                f"{item['axis']} = {item['value']}  ({item['method']}, confidence {item['confidence']:.2f})\n"
                f"evidence: {where}"
            )
        )
        while True:
            answer = ask("[c]onfirm, [x] correct, [s]kip, [q]uit").strip().lower()
            if answer in ("c", "confirm"):
                confirm_label(store, int(item["label_id"]), reviewer)
                counts["confirmed"] += 1
                break
            if answer in ("x", "correct"):
                allowed = [v.name for v in store.protocol.axis(item["axis"]).values]
                hint = f" ({', '.join(allowed)})" if allowed else ""
                raw = ask(f"correct value(s) for {item['axis']}{hint}, comma-separated")
                values = [v.strip() for v in raw.split(",") if v.strip()]
                try:
                    correct_label(store, int(item["work_id"]), item["axis"], values, reviewer)
                except Exception as exc:  # noqa: BLE001 - shown to the person, who tries again
                    show(Text(f"not saved: {exc}", style="red"))
                    continue
                counts["corrected"] += 1
                break
            if answer in ("s", "skip", ""):
                counts["skipped"] += 1
                break
            if answer in ("q", "quit"):
                return counts
            show("answer c, x, s or q")
    return counts


def register(app: typer.Typer) -> None:
    extract_app = typer.Typer(
        help="Label works on the taxonomy; review labels.\n\nExample: fmreview extract --dir fm-review",
        invoke_without_command=True,
    )

    _extract(extract_app)

    _review(extract_app)

    app.add_typer(extract_app, name="extract")

    _find_cmd(app)


def _extract(extract_app: typer.Typer) -> None:
    """Register ``extract`` on ``extract_app``."""

    @extract_app.callback()
    def extract(
        ctx: typer.Context,
        directory: Path = DirOption,
        method: list[str] | None = repeated(
            "--method",
            "-m",
            help="Methods to run: list, rule, model, llm (repeat; default: the protocol's).",
        ),
        quiet: bool = QuietOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Label every work on the taxonomy (lists, rules, gazetteer, classifiers, optional LLM), with evidence.

        Example: fmreview extract --dir fm-review
        """
        if ctx.invoked_subcommand is not None:
            return
        from fmreview import stages
        from fmreview.progress import default_reporter

        counts = stages.extract(
            open_store(directory),
            reporter=default_reporter(quiet),
            methods=list(method) if method else None,
        ).counts
        if as_json:
            typer.echo(json.dumps(counts, indent=1))
            return
        console.print(
            f"{counts['labels']} labels on {counts['works']} works: {counts['human']} human-confirmed, "
            f"{counts['list']} list-given, {counts['automatic']} automatic "
            f"({sum(counts['rows_added'].values())} new label rows)",
            highlight=False,
        )


def _review(extract_app: typer.Typer) -> None:
    """Register ``review`` on ``extract_app``."""

    @extract_app.command("review")
    def review(
        directory: Path = DirOption,
        reviewer: str = typer.Option(
            ..., "--reviewer", "-r", prompt=True, help="Your name (recorded on each label)."
        ),
        limit: int = typer.Option(20, "--limit", "-n", help="How many labels to review."),
        axis: list[str] | None = repeated("--axis", help="Only these axes (repeat)."),
    ) -> None:
        """Confirm or correct the least confident labels first, with their evidence highlighted.

        Example: fmreview extract review --dir fm-review --reviewer alice
        """
        store = open_store(directory)
        counts = review_labels(
            store,
            reviewer,
            ask=lambda prompt: str(typer.prompt(prompt, default="s", show_default=False)),
            show=console.print,
            limit=limit,
            axes=list(axis) if axis else None,
        )
        console.print(
            f"{counts['confirmed']} confirmed, {counts['corrected']} corrected, {counts['skipped']} skipped; "
            "the classifiers learn from them at the next: fmreview extract",
            highlight=False,
        )


def _find_cmd(app: typer.Typer) -> None:
    """Register ``find_cmd`` on ``app``."""

    @app.command("find")
    def find_cmd(
        directory: Path = DirOption,
        modality: str | None = typer.Option(
            None, "--modality", help="e.g. CT, MRI, X-ray, histopathology."
        ),
        task: str | None = typer.Option(
            None, "--task", help="e.g. segmentation, classification, vqa."
        ),
        fm_type: str | None = typer.Option(
            None, "--fm-type", help="vision_only or vision_language."
        ),
        architecture: str | None = typer.Option(
            None, "--architecture", help="e.g. sam_family, clip_dual_encoder."
        ),
        dataset: str | None = typer.Option(
            None, "--dataset", help="A gazetteer dataset, e.g. MIMIC-CXR."
        ),
        open_weights: bool = typer.Option(
            False, "--open-weights", help="Only models with released weights."
        ),
        open_code: bool = typer.Option(
            False, "--open-code", help="Only models with released code."
        ),
        limit: int = typer.Option(50, "--limit", "-n", help="At most this many rows (0 = all)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Which foundation models exist for a modality and task, newest first, with links.

        Example: fmreview find --dir fm-review --modality CT --task segmentation --open-weights
        """
        from fmreview.extract.atlas import find

        store = open_store(directory)
        rows = find(
            store,
            modality=modality,
            task=task,
            fm_type=fm_type,
            architecture=architecture,
            dataset=dataset,
            open_weights=True if open_weights else None,
            open_code=True if open_code else None,
            limit=limit or None,
        )
        if as_json:
            typer.echo(json.dumps(rows, indent=1, ensure_ascii=False, default=str))
            return
        console.print(find_listing(rows, limit=limit or None))


def find_listing(rows: list[dict[str, Any]], *, limit: int | None = None) -> Group:
    """The studies ``fmreview find`` found, one block each, readable at 80 columns.

    A table of eight columns folded a title to one word a line at 80 columns; each study
    here is a line of labels, its title and its first link (``--json`` has every field).
    """
    grid = Table.grid(padding=(0, 2))
    grid.add_column("year", no_wrap=True, width=4)
    grid.add_column("study", overflow="fold")
    for r in rows:
        weights = {True: "yes", False: "no", None: "?"}[r["weights"]]
        labels = " · ".join(
            x
            for x in (
                str(r["fm_type"] or ""),
                ", ".join(r["modality"]),
                ", ".join(r["task"]),
                f"weights {weights}",
            )
            if x
        )
        body = Text()
        body.append(r["model_name"] or "(model not named)", style="bold")
        body.append(f"  {labels}")
        if r["match"] != "exact":  # a generalist let in by a relaxed filter says which
            body.append(f" · {r['match']}", style="italic")
        body.append("\n")
        body.append(r["title"] or "(untitled)")
        link = next(iter(r["links"].values()), "")
        if link:
            body.append(f"\n{link}", style="dim")
        grid.add_row(str(r["year"] or ""), body)
        grid.add_row("", "")
    n = len(rows)
    head = f"{n} {'study' if n == 1 else 'studies'}"
    if limit is not None and n >= limit:
        head = f"the first {head} (--limit {limit}; --limit 0 shows all)"
    return Group(Text(head, style="bold"), grid)
