"""``fmreview meta``: pool effect sizes from a CSV of effect rows (metafor-grade)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console()


def register(app: typer.Typer) -> None:
    @app.command("meta")
    def meta(
        csv_file: Path = typer.Option(
            ...,
            "--csv",
            help="CSV of effect rows (escalc column names: ai, bi, ci, di, n1i, n2i, m1i, sd1i, ..., or yi, vi).",
        ),
        measure: str = typer.Option(
            ...,
            "--measure",
            help="Effect measure: OR, RR, RD, PETO, AS, MD, SMD, SMDH, ROM, COR, ZCOR, PR, PLN, PLO, PAS, PFT, GEN.",
        ),
        method: str | None = typer.Option(
            None,
            "--method",
            help="tau^2 estimator (EE, FE, DL, HE, HS, HSk, SJ, ML, REML, EB, PM, PMM); default from the preset.",
        ),
        by: str | None = typer.Option(None, "--by", help="Column with subgroup labels."),
        mods: str | None = typer.Option(
            None, "--mods", help="Comma-separated moderator columns for a meta-regression."
        ),
        preset: str = typer.Option(
            "default",
            "--preset",
            help="default (REML + Hartung-Knapp ad hoc + PI), metafor (REML, z) or revman5 (DL, Wald).",
        ),
        level: float = typer.Option(95.0, "--level", help="Confidence level in percent."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        forest: Path | None = typer.Option(
            None, "--forest", help="Write a forest plot (.svg, .png or .pdf)."
        ),
        funnel: Path | None = typer.Option(
            None, "--funnel", help="Write a funnel plot (.svg, .png or .pdf)."
        ),
    ) -> None:
        """Pool effect sizes like R's metafor: random-effects model, heterogeneity, subgroups, bias tests.

        Example: fmreview meta --csv effects.csv --measure OR --by modality --forest forest.svg
        """
        from fmreview.meta.analysis import format_text, meta_analyze, read_effects_csv

        rows = read_effects_csv(csv_file)
        mod_list = [m.strip() for m in mods.split(",") if m.strip()] if mods else None
        result = meta_analyze(
            rows, measure=measure, method=method, by=by, mods=mod_list, preset=preset, level=level
        )
        if forest is not None or funnel is not None:
            from fmreview.meta.plots import forest_plot, funnel_plot

            if forest is not None:
                forest_plot(result, forest)
            if funnel is not None:
                funnel_plot(result, funnel)
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
        else:
            console.print(format_text(result), highlight=False, markup=False)
            for label, path in (("forest plot", forest), ("funnel plot", funnel)):
                if path is not None:
                    console.print(f"{label}: {path}", highlight=False, markup=False)
