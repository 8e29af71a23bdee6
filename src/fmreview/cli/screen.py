"""Screening commands: ``fmreview screen`` (interactive), ``screen status``, ``screen rules``,
and ``fmreview simulate``.

The interactive loop reads single keys through an injectable ``read_key`` (``typer.getchar``
by default; tests pass scripted keys) and writes every decision to the store the moment it
is made, so quitting — or being killed — at any point loses nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from fmreview.cli.console import make_console
from fmreview.cli.options import DirOption, JsonOption, open_store

console = make_console()

KEYS_HELP = "[i] include  [e] exclude  [m] maybe  [n] note  [u] undo last  [q] quit"
CRITERION_KEYS = "123456789abcdfghjklopqrstvwxyz"


def highlighted(text: str, include: list[str], exclude: list[str]) -> Text:
    """``text`` with the protocol's include terms in green and exclude terms in red."""
    t = Text(text or "")
    for terms, style in ((include, "bold green"), (exclude, "bold red")):
        for term in terms:
            if term.strip():
                t.highlight_regex(re.compile(re.escape(term.strip()), re.IGNORECASE), style)
    return t


def _exclusion_criteria(protocol: Any) -> list[Any]:
    return [c for c in protocol.eligibility if c.action == "exclude" and c.stage != "automation"]


def render_work(nxt: Any, protocol: Any, status_line: str, pending_note: str) -> Group:
    s = protocol.screening
    w = nxt.work
    head = Text(f"work {nxt.work_id}", style="dim")
    if nxt.rank is not None:
        head.append(f" · rank {nxt.rank} · score {nxt.score:.3f}", style="dim")
    head.append(f" · {nxt.phase} · {nxt.remaining} left · {status_line}", style="dim")
    meta = " · ".join(str(x) for x in (w.get("year"), w.get("venue"), w.get("type")) if x)
    body = [
        highlighted(w.get("title") or "(no title)", s.highlight_include, s.highlight_exclude),
        Text(meta, style="italic"),
        Text(""),
        highlighted(w.get("abstract") or "(no abstract)", s.highlight_include, s.highlight_exclude),
    ]
    if w.get("keywords"):
        body += [
            Text(""),
            highlighted(
                "Keywords: " + "; ".join(w["keywords"]), s.highlight_include, s.highlight_exclude
            ),
        ]
    if pending_note:
        body += [Text(f"note: {pending_note}", style="yellow")]
    crit = Table.grid(padding=(0, 1))
    for c in protocol.eligibility:
        if c.stage == "automation":
            continue
        crit.add_row(
            Text(c.id, style="green" if c.action == "include" else "red"), Text(c.description)
        )
    return Group(
        head, Panel(Group(*body)), Panel(crit, title="criteria"), Text(KEYS_HELP, style="cyan")
    )


def run_screening(
    store: Any,
    reviewer: str,
    *,
    read_key: Callable[[], str],
    read_line: Callable[[str], str] | None = None,
    out: Console | None = None,
    limit: int | None = None,
) -> dict[str, int]:
    """Screen interactively until ``q``, no work is left, or ``limit`` decisions.

    Each key's decision is appended to the store at once. Returns counts of what was done.
    """
    from fmreview.screening.session import (
        NextWork,
        Session,
        _rank_of,
        record_decision,
        status,
        undo_last,
    )

    out = out or console
    read_line = read_line or (lambda prompt: typer.prompt(prompt, default="", show_default=False))
    sess = Session(store)
    protocol = store.protocol
    excl = _exclusion_criteria(protocol)
    done = {"include": 0, "exclude": 0, "maybe": 0, "undo": 0, "notes": 0}
    forced: int | None = None
    note = ""
    made = 0
    while limit is None or made < limit:
        if forced is not None:
            nxt: NextWork | None = _rank_of(store, forced, sess.config)
            forced = None
        else:
            nxt = sess.next_work(reviewer)
        if nxt is None:
            out.print("Nothing left to screen.")
            break
        st = status(store, config=sess.config)["stopping"]
        line = ("stopping rule met" if st["met"] else "keep screening") + (
            f" · recall ≈ {st['recall']:.2f} [{st['recall_low']:.2f}, {st['recall_high']:.2f}]"
            if st["recall"] is not None and st["recall"] == st["recall"]
            else ""
        )
        out.print(render_work(nxt, protocol, line, note))
        key = (read_key() or "").lower()[:1]
        if key == "q" or key == "\x03":
            break
        if key == "n":
            note = read_line("note").strip()
            done["notes"] += 1
            forced = nxt.work_id
            continue
        if key == "u":
            w = undo_last(store, reviewer, config=sess.config)
            if w is None:
                out.print("Nothing to undo.")
            else:
                done["undo"] += 1
                forced = w
            continue
        if key in ("i", "m"):
            label = "include" if key == "i" else "maybe"
            record_decision(
                store,
                reviewer,
                work_id=nxt.work_id,
                label=label,
                note=note,
                next_work=nxt,
                config=sess.config,
            )
            done[label] += 1
            made += 1
            note = ""
            continue
        if key == "e":
            options = {CRITERION_KEYS[i]: c for i, c in enumerate(excl[: len(CRITERION_KEYS)])}
            for k, c in options.items():
                out.print(f"  [{k}] {c.id}: {c.description}", highlight=False, markup=False)
            out.print("  [0] no specific criterion   [any other key] cancel")
            ck = (read_key() or "").lower()[:1]
            if ck != "0" and ck not in options:
                out.print("cancelled")
                forced = nxt.work_id
                continue
            crit = None if ck == "0" else options[ck].id
            record_decision(
                store,
                reviewer,
                work_id=nxt.work_id,
                label="exclude",
                criterion=crit,
                note=note,
                next_work=nxt,
                config=sess.config,
            )
            done["exclude"] += 1
            made += 1
            note = ""
            continue
        out.print(f"unknown key {key!r}; {KEYS_HELP}", markup=False)
        forced = nxt.work_id
    return done


def _fmt(x: Any, spec: str = ".3f") -> str:
    return "—" if x is None or (isinstance(x, float) and x != x) else format(x, spec)


def register(app: typer.Typer) -> None:
    screen_app = typer.Typer(
        name="screen",
        help="Title/abstract screening with active learning.\n\nExample: fmreview screen --dir my-review --reviewer alice",
        invoke_without_command=True,
        no_args_is_help=False,
    )

    _screen(screen_app)

    _screen_status(screen_app)

    _screen_rules(screen_app)

    app.add_typer(screen_app, name="screen")

    _simulate_cmd(app)


def _screen(screen_app: typer.Typer) -> None:
    """Register ``screen`` on ``screen_app``."""

    @screen_app.callback(invoke_without_command=True)
    def screen(
        ctx: typer.Context,
        directory: Path = DirOption,
        reviewer: str = typer.Option(
            "reviewer", "--reviewer", "-r", help="Your name, recorded with each decision."
        ),
    ) -> None:
        """Screen works one by one, most likely relevant first; single keys decide.

        i include · e exclude (then pick a criterion) · m maybe · n note · u undo last · q quit.
        Every decision is saved at once: stop at any time and run the command again to resume.

        Example: fmreview screen --dir my-review --reviewer alice
        """
        if ctx.invoked_subcommand is not None:
            return
        store = open_store(directory)
        with store.run("screen", {"reviewer": reviewer}) as run:
            done = run_screening(store, reviewer, read_key=typer.getchar)
            run.counts.update(done)
        console.print(
            f"Saved: {done['include']} included, {done['exclude']} excluded, {done['maybe']} maybe, "
            f"{done['undo']} undone. Resume with: fmreview screen --dir {directory} --reviewer {reviewer}"
        )


def _screen_status(screen_app: typer.Typer) -> None:
    """Register ``screen_status`` on ``screen_app``."""

    @screen_app.command("status")
    def screen_status(directory: Path = DirOption, as_json: bool = JsonOption) -> None:
        """Decisions so far, estimated recall with its interval, and whether to stop.

        Example: fmreview screen status --dir my-review --json
        """
        from fmreview.screening.recall import store_recall_estimate
        from fmreview.screening.session import status

        store = open_store(directory)
        st = status(store)
        est = store_recall_estimate(store)
        st["estimate"] = est.to_dict()
        if as_json:
            typer.echo(json.dumps(st, indent=2, default=str))
            return
        s = st["stopping"]
        t = Table(show_header=False)
        t.add_row("works", str(st["works"]))
        t.add_row("excluded by automation", str(st["excluded_by_automation"]))
        t.add_row("screened / to screen", f"{st['screened']} / {st['to_screen']}")
        t.add_row(
            "included · excluded · maybe",
            f"{st['labels']['include']} · {st['labels']['exclude']} · {st['labels']['maybe']}",
        )
        t.add_row("stopping rule", f"{s['rule']} {s['params']}")
        t.add_row("phase", s["phase"])
        t.add_row(
            "estimated recall",
            f"{_fmt(s['recall'])} [{_fmt(s['recall_low'])}, {_fmt(s['recall_high'])}]",
        )
        t.add_row("p-value", _fmt(s["p_value"], ".3g"))
        t.add_row(
            f"relevant works ({est.method})",
            "—"
            if est.relevant is None
            else f"{est.relevant:.1f} [{_fmt(est.relevant_low, '.0f')}, "
            f"{_fmt(est.relevant_high, '.0f')}] ({est.found} found)",
        )
        t.add_row(
            "recall estimate",
            "—"
            if est.recall is None
            else f"{est.recall:.3f} [{_fmt(est.recall_low)}, {_fmt(est.recall_high)}]",
        )
        t.add_row(
            f"left to screen for {est.target:.0%}",
            "—"
            if est.to_target is None
            else f"~{est.to_target} (to a stop: ~{est.to_stop}) of {est.unscreened}",
        )
        t.add_row("stop?", "[bold green]yes[/]" if s["met"] else "no — keep screening")
        t.add_row("", s["message"])
        console.print(t)


def _screen_rules(screen_app: typer.Typer) -> None:
    """Register ``screen_rules`` on ``screen_app``."""

    @screen_app.command("rules")
    def screen_rules(directory: Path = DirOption, as_json: bool = JsonOption) -> None:
        """Apply the protocol's eligibility rules (recorded per criterion).

        With human screening (screening.mode: human) only the automation rules run and
        people screen the rest; in screening.mode: rules every stage's rules decide and the
        works they leave are included by rules. Records the same eligibility run as
        `fmreview run`, so the report's methods describe it.

        Example: fmreview screen rules --dir my-review
        """
        from fmreview import stages

        counts = stages.screen_rules(open_store(directory)).counts
        if as_json:
            typer.echo(json.dumps(counts, indent=2))
            return
        console.print(
            f"Checked {counts['checked']} works; excluded {counts['excluded']} by the rules "
            f"({counts['already']} already excluded).",
            highlight=False,
        )
        for cid, n in counts["by_criterion"].items():
            console.print(f"  {cid}: {n}", highlight=False)
        if counts["mode"] == "rules":
            console.print(
                f"{counts['included_by_rules']} work(s) included by rules "
                "(screening.mode: rules): no person screened them.",
                highlight=False,
            )


def _simulate_cmd(app: typer.Typer) -> None:
    """Register ``simulate_cmd`` on ``app``."""

    @app.command("simulate")
    def simulate_cmd(
        data: Path = typer.Argument(
            ..., help="Labelled CSV/TSV/XLSX: title, abstract, label_included (0/1)."
        ),
        model: str = typer.Option(
            "default", "--model", "-m", help="Ranker: default, ensemble, svm, logistic, nb."
        ),
        prior_included: int = typer.Option(
            1, "--prior-included", help="Prior inclusions drawn by seed."
        ),
        prior_excluded: int = typer.Option(
            1, "--prior-excluded", help="Prior exclusions drawn by seed."
        ),
        seed: int = typer.Option(
            0, "--seed", help="Seed for priors, ranker, query and stopping rules."
        ),
        query: str = typer.Option(
            "max", "--query", help="Query strategy: max, uncertainty, mixed."
        ),
        embeddings: float = typer.Option(
            0.0,
            "--embeddings",
            help="Weight of sentence embeddings next to TF-IDF (needs the 'embeddings' extra); 0 = off.",
        ),
        as_json: bool = JsonOption,
        plot: Path | None = typer.Option(
            None, "--plot", help="Draw the recall curve to this PNG/SVG."
        ),
    ) -> None:
        """Replay a labelled dataset through active learning and report WSS, recall and stopping.

        Example: fmreview simulate donners_2021.csv --seed 1 --plot recall.png
        """
        from fmreview.screening.features import FeatureConfig
        from fmreview.screening.simulate import plot_recall, read_dataset, simulate

        df = read_dataset(data)
        res = simulate(
            df,
            model=model,
            features=FeatureConfig(embedding_weight=embeddings),
            prior_included=prior_included,
            prior_excluded=prior_excluded,
            seed=seed,
            query=query,
            dataset=data.stem,
        )
        if plot is not None:
            plot_recall([res], plot)
        if as_json:
            typer.echo(json.dumps(res.to_dict(), indent=2, default=str))
            return
        t = Table(
            title=f"{data.name}: {res.n_records} records, {res.n_included} included (seed {seed})"
        )
        t.add_column("metric")
        t.add_column("value", justify="right")
        t.add_row("WSS@95", f"{res.wss95:.3f}")
        t.add_row("WSS@100", f"{res.wss100:.3f}")
        t.add_row("recall@10%", f"{res.recall10:.3f}")
        t.add_row("screened to 95% / 100%", f"{res.screened95} / {res.screened100}")
        t.add_row("average time to discovery", f"{res.atd:.3f}")
        t.add_row("wall time (s)", f"{res.wall_time:.2f}")
        t.add_row(
            "no title or abstract (last)",
            f"{res.n_no_text} ({res.no_text_included} included)",
        )
        console.print(t)
        r = Table(title="stopping rules")
        for col in ("rule", "stopped at", "recall", "work saved", "target met"):
            r.add_column(col)
        for o in res.stopping.values():
            r.add_row(
                o.rule,
                str(o.screened) if o.stopped else f"never ({o.screened})",
                f"{o.recall:.3f}",
                f"{o.work_saved:.3f}",
                "—" if o.target_met is None else ("yes" if o.target_met else "no"),
            )
        console.print(r)
        if plot is not None:
            console.print(f"Recall curve: {plot}")
