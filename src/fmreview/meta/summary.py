"""A metafor-like printed summary of a :func:`meta_analyze` result, at most 80 columns wide.

The layout follows ``print.rma.uni``: model line, heterogeneity block, Q test, test of
moderators, the coefficient table (4 decimals, p-values below 1e-4 as ``<.0001``),
then what metafor prints with ``predict``, subgroup fits, bias tests and warnings.
"""

from __future__ import annotations

import textwrap
from typing import Any

__all__ = ["WIDTH", "format_summary"]

WIDTH = 80


def _f(x: Any, d: int = 4) -> str:
    if x is None:
        return "NA"
    return f"{float(x):.{d}f}"


def _p(x: Any) -> str:
    if x is None:
        return "NA"
    return "<.0001" if float(x) < 1e-4 else f"{float(x):.4f}"


def _pv(x: Any) -> str:
    p = _p(x)
    return f"p-val < {p[1:]}" if p.startswith("<") else f"p-val = {p}"


def _stars(p: Any) -> str:
    if p is None:
        return ""
    p = float(p)
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""


def _model_block(m: dict[str, Any], level: float) -> list[str]:
    k, p = m["k"], m["p"]
    fixed = m["method"] in ("EE", "FE")
    mods = p > 1 or "intrcpt" not in m["coefficients"]
    if fixed:
        kind = {"EE": "Equal-Effects", "FE": "Fixed-Effects"}[m["method"]]
        head = f"{kind} {'with Moderators ' if mods else ''}Model (k = {k})"
    else:
        kind = "Mixed-Effects" if mods else "Random-Effects"
        head = f"{kind} Model (k = {k}; tau^2 estimator: {m['method']})"
    out = [head, ""]
    what = "residual" if mods else "total"
    pairs: list[tuple[str, str]] = []
    if not fixed:
        se = f" (SE = {_f(m['se_tau2'])})" if m.get("se_tau2") is not None else ""
        pairs.append((f"tau^2 (estimated amount of {what} heterogeneity):", f"{_f(m['tau2'])}{se}"))
        pairs.append(("tau (square root of estimated tau^2 value):", _f(m["tau"])))
    if m.get("I2") is not None:
        lab = "unaccounted variability" if mods else "total variability"
        h2 = "unaccounted variability" if mods else "total variability"
        pairs.append((f"I^2 ({what} heterogeneity / {lab}):", f"{float(m['I2']):.2f}%"))
        pairs.append((f"H^2 ({h2} / sampling variability):", _f(m["H2"], 2)))
    if mods and not fixed and m.get("R2") is not None:
        pairs.append(("R^2 (amount of heterogeneity accounted for):", f"{float(m['R2']):.2f}%"))
    w = max((len(a) for a, _ in pairs), default=0) + 1
    out.extend(f"{a:<{w}}{b}" for a, b in pairs)
    out.append("")
    if m.get("QE") is not None:
        out.append(f"Test for {'Residual ' if mods else ''}Heterogeneity:")
        out.append(f"Q{'E' if mods else ''}(df = {m['QEdf']}) = {_f(m['QE'])}, {_pv(m['QEp'])}")
        out.append("")
    if mods:
        df = m["QMdf"]
        stat = f"QM(df = {df[0]})" if df[1] is None else f"F(df1 = {df[0]}, df2 = {df[1]})"
        out.append("Test of Moderators:")
        out.append(f"{stat} = {_f(m['QM'])}, {_pv(m['QMp'])}")
        out.append("")
    out.append("Model Results:")
    out.append("")
    out.extend(_coef_table(m))
    out.append("")
    out.append("---")
    out.append("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
    return out


def _coef_table(m: dict[str, Any]) -> list[str]:
    stat = "zval" if m["test"] == "z" else "tval"
    cols = ["estimate", "se", stat, "pval", "ci.lb", "ci.ub"]
    coefs = m["coefficients"]
    names = list(coefs)
    rows = [
        [
            _f(c["estimate"]),
            _f(c["se"]),
            _f(c["zval"]),
            _p(c["pval"]),
            _f(c["ci_lb"]),
            _f(c["ci_ub"]),
        ]
        for c in coefs.values()
    ]
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(cols)]
    body_width = sum(widths) + 2 * (len(widths) - 1)
    room = WIDTH - body_width - 1 - 2 - 3  # name, space, gap, significance stars
    nw = max(4, min(max(len(n) for n in names), room))
    show_names = not (len(names) == 1 and names[0] == "intrcpt")
    pad = nw + 1 if show_names else 0
    lines = [" " * pad + "  ".join(h.rjust(w) for h, w in zip(cols, widths, strict=True))]
    for n, r, c in zip(names, rows, coefs.values(), strict=True):
        label = (n if len(n) <= nw else n[: nw - 1] + "~").ljust(nw) + " " if show_names else ""
        body = "  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True))
        lines.append(f"{label}{body}  {_stars(c['pval'])}".rstrip())
    return lines


def _pooled(result: dict[str, Any], level: float) -> list[str]:
    pooled = result.get("pooled")
    if not pooled:
        return []
    src = pooled.get("backtransformed") or pooled
    scale = f" ({result['backtransform']} scale)" if pooled.get("backtransformed") else ""
    out = [f"Pooled estimate{scale}:", ""]
    cols = ["pred", "ci.lb", "ci.ub"] + (["pi.lb", "pi.ub"] if "pi_lb" in src else [])
    vals = [_f(src[c.replace(".", "_")]) for c in cols]
    w = [max(len(c), len(v)) for c, v in zip(cols, vals, strict=True)]
    out.append("  ".join(c.rjust(x) for c, x in zip(cols, w, strict=True)))
    out.append("  ".join(v.rjust(x) for v, x in zip(vals, w, strict=True)))
    return out


def _subgroups(sg: dict[str, Any], level: float, scale: str) -> list[str]:
    out = [f"Subgroups (separate tau^2){scale}:", ""]
    hdr = f"{'subgroup':<20} {'k':>3} {'estimate':>9} {'ci.lb':>9} {'ci.ub':>9} {'tau^2':>8} {'I^2':>7}"
    out.append(hdr)
    for lev, g in sg["groups"].items():
        name = str(lev) if len(str(lev)) <= 20 else str(lev)[:19] + "~"
        if "error" in g:
            out.extend(textwrap.wrap(f"{name}: {g['error']}", WIDTH, subsequent_indent="  "))
            continue
        src = g.get("backtransformed") or g
        i2 = "NA" if g.get("I2") is None else f"{g['I2']:.1f}%"
        out.append(
            f"{name:<20} {g['k']:>3} {_f(src['pred']):>9} {_f(src['ci_lb']):>9} "
            f"{_f(src['ci_ub']):>9} {_f(g['tau2']):>8} {i2:>7}"
        )
    b = sg.get("between") or {}
    out.append("")
    if b.get("Q") is not None:
        out.append(
            f"Test for subgroup differences: Q(df = {b['df']}) = {_f(b['Q'])}, {_pv(b['pval'])}"
        )
    mod = sg.get("moderator") or {}
    if mod.get("QM") is not None:
        df = mod["QMdf"]
        stat = f"QM(df = {df[0]})" if df[1] is None else f"F(df1 = {df[0]}, df2 = {df[1]})"
        out.append(
            f"Moderator model {mod.get('formula', '')}: {stat} = {_f(mod['QM'])}, {_pv(mod['QMp'])}"
        )
    elif mod.get("error"):
        out.extend(textwrap.wrap(f"Moderator model: {mod['error']}", WIDTH, subsequent_indent="  "))
    return out


def _bias(bias: dict[str, Any]) -> list[str]:
    out = ["Small-study effects and publication bias (model scale):", ""]
    if "note" in bias:
        out.extend(textwrap.wrap(f"note: {bias['note']}", WIDTH, subsequent_indent="  "))
    for key, label in (
        ("egger", "Egger (rma, sei)"),
        ("egger_lm", "Egger (lm, classic)"),
        ("ranktest", "Begg rank correlation"),
        ("trimfill", "Trim and fill"),
        ("fsn", "Fail-safe N"),
    ):
        d = bias.get(key)
        if not isinstance(d, dict):
            continue
        if "error" in d:
            out.extend(textwrap.wrap(f"{label}: {d['error']}", WIDTH, subsequent_indent="  "))
        elif key.startswith("egger"):
            stat = "z" if d.get("dfs") is None else f"t({d['dfs']})"
            out.append(
                f"{label}: {stat} = {_f(d['zval'])}, {_pv(d['pval'])}; limit estimate {_f(d['est'])}"
            )
        elif key == "ranktest":
            out.append(f"{label}: Kendall's tau = {_f(d['tau'])}, {_pv(d['pval'])}")
        elif key == "trimfill":
            out.append(
                f"{label} ({d['estimator']}): k0 = {d['k0']} ({d['side']}), adjusted "
                f"{_f(d['estimate'])} [{_f(d['ci_lb'])}, {_f(d['ci_ub'])}]"
            )
        elif key == "fsn":
            out.append(f"{label} ({d['type']}): {d['fsnum']:g}")
    return out


def format_summary(result: dict[str, Any]) -> str:
    """The printed summary of a :func:`meta_analyze` result (every line <= 80 columns)."""
    level = float(result.get("level", 95))
    lines = [
        f"{result['measure']} meta-analysis (preset {result['preset']['name']}, test {result['test']})",
        "",
    ]
    lines.extend(_model_block(result["model"], level))
    pooled = _pooled(result, level)
    if pooled:
        lines += ["", *pooled]
    h = result.get("heterogeneity") or {}
    ci = h.get("ci")
    if ci:
        lines += ["", f"Heterogeneity {level:g}% CIs ({h.get('ci_type', 'QP')}):"]
        for key, lab in (("tau2", "tau^2"), ("tau", "tau"), ("I2", "I^2(%)"), ("H2", "H^2")):
            r = ci[key]
            lines.append(f"  {lab:<7} {_f(r['estimate']):>10} [{_f(r['ci_lb'])}, {_f(r['ci_ub'])}]")
    if result.get("subgroups"):
        bt = result.get("backtransform")
        scale = f"; estimates on the {bt} scale" if bt and bt != "none" else ""
        lines += ["", *_subgroups(result["subgroups"], level, scale)]
    if result.get("bias"):
        lines += ["", *_bias(result["bias"])]
    warns = result.get("warnings") or []
    if warns:
        lines += ["", "Warnings:"]
        for w in warns:
            lines.extend(textwrap.wrap(w, WIDTH, initial_indent="- ", subsequent_indent="  "))
    out = []
    for line in lines:
        out.extend(
            textwrap.wrap(line, WIDTH, subsequent_indent="    ") if len(line) > WIDTH else [line]
        )
    return "\n".join(out)
