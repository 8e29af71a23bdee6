"""``fmreview meta``: pool effect sizes from a CSV of effect rows (metafor-grade)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from fmreview.cli.console import make_console
from fmreview.cli.options import DirOption, JsonOption

console = make_console()


def register(app: typer.Typer) -> None:
    _meta(app)

    effects_app = typer.Typer(
        help="The review's effects table (study-level outcomes for meta-analysis)."
    )
    app.add_typer(effects_app, name="effects")

    _effects_import(effects_app)


def _mods_arg(mods: str | None) -> str | list[str] | None:
    """``--mods``: a formula (``~ x + y``) as given, else comma-separated column names."""
    if mods and mods.strip().startswith("~"):
        return mods.strip()
    if mods:
        return [m.strip() for m in mods.split(",") if m.strip()]
    return None


def _bias_arg(bias: str) -> bool | list[str]:
    """``--bias``: ``all``, ``none`` or comma-separated test names."""
    b = bias.strip().lower()
    return True if b == "all" else False if b == "none" else [x.strip() for x in b.split(",")]


def _meta(app: typer.Typer) -> None:
    """Register ``meta`` on ``app``."""

    @app.command("meta")
    def meta(
        csv_file: Path | None = typer.Option(
            None,
            "--csv",
            help="CSV of effect rows (escalc column names: ai, bi, ci, di, n1i, n2i, m1i, sd1i, ..., or yi, vi).",
        ),
        outcome: str | None = typer.Option(
            None,
            "--outcome",
            help="Pool this outcome of the review's effects table (instead of --csv).",
        ),
        directory: Path = typer.Option(
            Path("."), "--dir", "-d", help="The review folder (with --outcome)."
        ),
        measure: str | None = typer.Option(
            None,
            "--measure",
            help="Effect measure: OR, RR, RD, PETO, AS, MD, SMD, SMDH, ROM, COR, ZCOR, PR, PLN, PLO, PAS, PFT, GEN.",
        ),
        method: str | None = typer.Option(
            None,
            "--method",
            help="tau^2 estimator (EE, FE, DL, HE, HS, HSk, SJ, ML, REML, EB, PM, PMM); default from the preset.",
        ),
        by: str | None = typer.Option(
            None, "--by", help="Column with subgroup labels (fits per subgroup + factor model)."
        ),
        mods: str | None = typer.Option(
            None,
            "--mods",
            help="Moderators: an R formula such as '~ factor(alloc) + year', or columns a,b.",
        ),
        test: str | None = typer.Option(
            None, "--test", help="z, t, knha or adhoc (default from the preset)."
        ),
        bias: str = typer.Option(
            "all",
            "--bias",
            help="Bias tests: all, none, or a list of egger,egger_lm,ranktest,trimfill,fsn.",
        ),
        step_halving: bool = typer.Option(
            False,
            "--step-halving",
            help="Retry a non-converging Fisher scoring with step halving (metafor stops).",
        ),
        preset: str = typer.Option(
            "default",
            "--preset",
            help="default (REML + Hartung-Knapp ad hoc + PI), metafor (REML, z) or revman5 (DL, Wald).",
        ),
        level: float = typer.Option(95.0, "--level", help="Confidence level in percent."),
        as_json: bool = JsonOption,
        forest: Path | None = typer.Option(
            None, "--forest", help="Write a forest plot (.svg, .png or .pdf)."
        ),
        funnel: Path | None = typer.Option(
            None, "--funnel", help="Write a funnel plot (.svg, .png or .pdf)."
        ),
    ) -> None:
        """Pool effect sizes like R's metafor: random-effects model, heterogeneity, subgroups, bias tests.

        With --outcome it reads the review's effects table (fill it with `fmreview effects import`)
        and keeps the result for the report.

        Example: fmreview meta --csv effects.csv --measure OR --by modality --forest forest.svg

        Example: fmreview meta --csv bcg.csv --measure RR --mods "~ factor(alloc) + year"
        """
        from fmreview.errors import InputError
        from fmreview.meta.analysis import meta_analyze, read_effects_csv
        from fmreview.meta.summary import format_summary

        opts: dict[str, Any] = dict(
            method=method,
            by=by,
            mods=_mods_arg(mods),
            preset=preset,
            level=level,
            bias=_bias_arg(bias),
            test=test,
            step_halving=step_halving,
        )
        if (csv_file is None) == (outcome is None):
            raise InputError(
                "give either --csv FILE or --outcome NAME (from the review's effects table)"
            )
        if outcome is not None:
            from fmreview.cli.options import open_store
            from fmreview.effects import meta_store

            result = meta_store(open_store(directory), outcome=outcome, measure=measure, **opts)
        else:
            if measure is None:
                raise InputError("--measure is required with --csv (e.g. OR, RR, SMD, PLO, AUC)")
            assert csv_file is not None
            result = meta_analyze(read_effects_csv(csv_file), measure=measure, **opts)
        if forest is not None or funnel is not None:
            from fmreview.meta.plots import forest_plot, funnel_plot

            if forest is not None:
                forest_plot(result, forest)
            if funnel is not None:
                funnel_plot(result, funnel)
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=1))
        else:
            typer.echo(format_summary(result))
            for label, path in (("forest plot", forest), ("funnel plot", funnel)):
                if path is not None:
                    console.print(f"{label}: {path}", highlight=False, markup=False)


def _effects_import(effects_app: typer.Typer) -> None:
    """Register ``effects_import`` on ``effects_app``."""

    @effects_app.command("import")
    def effects_import(
        csv_file: Path = typer.Argument(..., help="CSV with study, outcome and escalc columns."),
        directory: Path = DirOption,
        outcome: str | None = typer.Option(
            None, "--outcome", help="Outcome for rows without an outcome column."
        ),
        measure: str | None = typer.Option(
            None, "--measure", help="Measure for rows without a measure column."
        ),
    ) -> None:
        """Add study-level outcomes to the review (all rows or none).

        Example: fmreview effects import auc.csv --dir fm-review --outcome "zero-shot AUC" --measure AUC
        """
        from fmreview.cli.options import open_store
        from fmreview.effects import import_effects

        n = import_effects(open_store(directory), csv_file, outcome=outcome, measure=measure)
        console.print(f"Added {n} effect rows from {csv_file}", highlight=False, markup=False)
