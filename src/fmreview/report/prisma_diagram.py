"""Drawing the PRISMA 2020 flow diagram: one layout, two renderers.

The layout (boxes, arrows, stage bars in pixel coordinates) is computed once from
:class:`~fmreview.report.prisma.PrismaCounts`. It is rendered

- as SVG built with :mod:`xml.etree.ElementTree` — hand-built rather than matplotlib's SVG
  because the report inlines it: the text stays text (searchable, accessible, readable by
  the browser test through ``data-key`` attributes on every number), the ids cannot collide
  with other inlined figures, and ElementTree escapes every string it writes, so a criterion
  name holding markup cannot break out;
- as PNG and PDF with matplotlib (same geometry), so no SVG converter (cairosvg, needing
  the system Cairo library) is required.
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmreview.report.prisma import PreviousVersion, PrismaCounts

FONT = 12.0  # px
LINE = 16.0  # px line height
PAD = 8.0
CHAR_W = 0.6 * FONT  # conservative average glyph width, for wrapping
FONT_FAMILY = "DejaVu Sans, Arial, Helvetica, sans-serif"
BAR_FILL = "#1f4e79"
BOX_FILL = "#ffffff"
BOX_STROKE = "#1f2933"
HEAD_FILL = "#e8f0f8"


@dataclass
class Line:
    """One text line: ``label`` followed by ``(n = N)`` when ``n`` is given."""

    label: str
    n: int | None = None
    key: str | None = None
    bold: bool = False
    indent: int = 0
    cont: bool = False  # continuation of a wrapped line (no bullet)

    @property
    def prefix(self) -> str:
        return "• " if self.indent and not self.cont else ""

    @property
    def dx(self) -> float:
        return 12.0 * self.indent + (10.0 if self.cont and self.indent else 0.0)


@dataclass
class Box:
    x: float
    y: float
    w: float
    lines: list[Line]
    fill: str = BOX_FILL

    @property
    def h(self) -> float:
        return PAD * 2 + LINE * max(1, len(self.lines))


@dataclass
class Layout:
    width: float
    height: float
    boxes: list[Box] = field(default_factory=list)
    arrows: list[tuple[float, float, float, float]] = field(default_factory=list)
    #: The name of each arrow (same order as ``arrows``; see :data:`~fmreview.report.prisma.ARROWS`).
    arrow_keys: list[str] = field(default_factory=list)
    bars: list[tuple[float, float, float, float, str]] = field(
        default_factory=list
    )  # x, y, w, h, label
    title: str = ""

    def arrow(self, key: str, xy: tuple[float, float, float, float]) -> None:
        self.arrows.append(xy)
        self.arrow_keys.append(key)


def _wrap(line: Line, width: float) -> list[Line]:
    """Wrap a long label; the count stays on the last piece."""
    chars = max(12, int((width - 2 * PAD - line.indent * 12) / CHAR_W))
    suffix = f" (n = {line.n})" if line.n is not None else ""
    parts = textwrap.wrap(line.label + suffix, chars) or [""]
    if len(parts) == 1:
        return [line]
    # re-split without the suffix so the number is its own tspan
    pieces = textwrap.wrap(line.label, chars - len(suffix)) or [""]
    out = [
        Line(p, None, None, line.bold, line.indent, cont=i > 0) for i, p in enumerate(pieces[:-1])
    ]
    out.append(Line(pieces[-1], line.n, line.key, line.bold, line.indent, cont=len(pieces) > 1))
    return out


def _box(x: float, y: float, w: float, lines: list[Line], fill: str = BOX_FILL) -> Box:
    wrapped: list[Line] = []
    for ln in lines:
        wrapped.extend(_wrap(ln, w))
    return Box(x, y, w, wrapped, fill)


def _criterion_label(cid: str, descriptions: dict[str, str]) -> str:
    desc = descriptions.get(cid, "")
    if not desc:
        return cid
    short = textwrap.shorten(desc.split(".")[0].split(";")[0].strip(), 44, placeholder="…")
    return f"{cid}: {short}"


def _main_lines(c: PrismaCounts, label: str, key: str) -> list[Line]:
    """A main-path box: its reports, and its studies when some study has several reports."""
    n = int(getattr(c, key))
    lines = [Line(label, n, key)]
    studies = c.studies_at(key)
    if studies != n:
        lines.append(Line("studies (dedupe clusters)", studies, f"studies.{key}", indent=1))
    return lines


def _identification_lines(c: PrismaCounts) -> list[Line]:
    """Records identified, per database and other method."""
    ident = [
        Line(
            "Records identified from databases",
            c.records_from_databases,
            "records_from_databases",
            True,
        )
    ]
    for src, n in c.databases.items():
        hits = c.database_hits.get(src)
        label = f"{src}" + (f" — search reported {hits} hits" if hits is not None else "")
        ident.append(Line(label, n, f"databases.{src}", indent=1))
    if not c.databases:
        ident.append(Line("no database searched", indent=1))
    ident.append(
        Line(
            "Records identified from other methods",
            c.records_from_other_methods,
            "records_from_other_methods",
            True,
        )
    )
    for src, n in c.other_methods.items():
        ident.append(Line(src, n, f"other_methods.{src}", indent=1))
    ident.append(Line("Total records identified", c.records_identified, "records_identified", True))
    return ident


def _removed_lines(c: PrismaCounts, desc: dict[str, str]) -> list[Line]:
    """Records removed before screening (duplicates, automation, per criterion)."""
    removed = [
        Line("Records removed before screening:", bold=True),
        Line("Duplicate records", c.duplicates_removed, "duplicates_removed", indent=1),
        Line(
            "Marked as ineligible by automation tools",
            c.excluded_automation,
            "excluded_automation",
            indent=1,
        ),
    ]
    for cid, n in c.excluded_automation_by.items():
        removed.append(
            Line(_criterion_label(cid, desc), n, f"excluded_automation_by.{cid}", indent=2)
        )
    if c.records_awaiting_dedupe:
        removed.append(
            Line(
                "Not yet deduplicated",
                c.records_awaiting_dedupe,
                "records_awaiting_dedupe",
                indent=1,
            )
        )
    return removed


def _full_text_excluded_lines(c: PrismaCounts, desc: dict[str, str]) -> list[Line]:
    """Reports excluded at full text (per criterion), awaiting, in conflict."""
    ftx = [Line("Reports excluded", c.excluded_full_text, "excluded_full_text", True)]
    for cid, n in c.excluded_full_text_by.items():
        ftx.append(Line(_criterion_label(cid, desc), n, f"excluded_full_text_by.{cid}", indent=1))
    if c.awaiting_full_text:
        ftx.append(
            Line("Awaiting full-text assessment", c.awaiting_full_text, "awaiting_full_text")
        )
    if c.conflict_full_text:
        ftx.append(
            Line("Reviewer conflicts to resolve", c.conflict_full_text, "conflict_full_text")
        )
    return ftx


def _included_lines(c: PrismaCounts) -> list[Line]:
    """Studies and reports included (with the change since the previous version)."""
    inc_lines = [
        Line("Studies included in review", c.studies_included, "studies_included", True),
        Line("Reports of included studies", c.reports_included, "reports_included"),
    ]
    if c.screening_mode == "rules" and c.included_rules:
        inc_lines.append(
            Line(
                "included by the eligibility rules, not yet human-confirmed",
                c.included_rules,
                "included_rules",
                indent=1,
            )
        )
    if c.previous is not None:
        inc_lines.append(
            Line(
                "new since the previous version",
                c.previous.new_studies,
                "previous.new_studies",
                indent=1,
            )
        )
        if c.previous.dropped_studies:
            inc_lines.append(
                Line(
                    "no longer included since then",
                    c.previous.dropped_studies,
                    "previous.dropped_studies",
                    indent=1,
                )
            )
    while len(inc_lines) < 4:  # room for the rotated "Included" label of the stage bar
        inc_lines.append(Line(""))
    return inc_lines


def _previous_lines(p: PreviousVersion) -> list[Line]:
    """The previous version's box: its date, studies, reports and records since."""
    return [
        Line("Previous version", bold=True),
        Line(f"of {p.created_at[:10]}"),
        Line("Studies included", p.studies_included, "previous.studies_included"),
        Line("Reports of included studies", p.reports_included, "previous.reports_included"),
        Line("Records identified since", p.new_records, "previous.new_records"),
    ]


def _arrow_to_included(lay: Layout, b_prev: Box, to: tuple[float, float]) -> None:
    """Place the previous version's box; its arrow runs down, then right into ``to``."""
    lay.boxes.append(b_prev)
    xm = b_prev.x + b_prev.w / 2
    lay.arrow("previous->included", (xm, b_prev.y + b_prev.h, xm, to[1]))
    lay.arrow("previous->included", (xm, to[1], to[0], to[1]))


def build_layout(
    c: PrismaCounts, *, descriptions: dict[str, str] | None = None, title: str = ""
) -> Layout:
    """Boxes and arrows of the PRISMA 2020 flow for ``c`` (pixel coordinates, y down)."""
    desc = descriptions or {}
    gap_y = 34.0
    bar_w = 26.0
    left = 10.0
    prev_w = 220.0 if c.previous is not None else 0.0
    main_x = left + bar_w + 14 + (prev_w + 24 if prev_w else 0)
    main_w = 330.0
    side_x = main_x + main_w + 50
    side_w = 330.0
    width = side_x + side_w + 10
    lay = Layout(width=width, height=0, title=title)
    y = 10.0
    # header row
    head = _box(
        main_x,
        y,
        main_w + 50 + side_w,
        [Line("Identification of studies via databases and other methods", bold=True)],
        HEAD_FILL,
    )
    lay.boxes.append(head)
    y += head.h + 16

    # ---- identification
    b_ident = _box(main_x, y, main_w, _identification_lines(c))
    b_removed = _box(side_x, y, side_w, _removed_lines(c, desc))
    row_h = max(b_ident.h, b_removed.h)
    b_ident.y = b_removed.y = y
    lay.boxes += [b_ident, b_removed]
    lay.arrow(
        "identified->removed", (main_x + main_w, y + b_ident.h / 2, side_x, y + b_ident.h / 2)
    )
    ident_top, ident_bottom = y, y + row_h
    prev_anchor_y = y
    y += row_h + gap_y
    lay.arrow(
        "identified->screened", (main_x + main_w / 2, b_ident.y + b_ident.h, main_x + main_w / 2, y)
    )

    # ---- screening
    screen_top = y
    how = "by the eligibility rules" if c.screening_mode == "rules" else "title/abstract"
    b_scr = _box(
        main_x,
        y,
        main_w,
        _main_lines(c, f"Records screened ({how})", "records_screened"),
    )
    excl = [Line("Records excluded", c.excluded_screening, "excluded_screening", True)]
    for cid, n in c.excluded_screening_by.items():
        excl.append(Line(_criterion_label(cid, desc), n, f"excluded_screening_by.{cid}", indent=1))
    if c.awaiting_screening:
        excl.append(Line("Awaiting screening", c.awaiting_screening, "awaiting_screening"))
    if c.conflict_screening:
        excl.append(
            Line("Reviewer conflicts to resolve", c.conflict_screening, "conflict_screening")
        )
    b_excl = _box(side_x, y, side_w, excl)
    lay.boxes += [b_scr, b_excl]
    lay.arrow("screened->excluded", (main_x + main_w, y + b_scr.h / 2, side_x, y + b_scr.h / 2))
    y += max(b_scr.h, b_excl.h) + gap_y
    lay.arrow("screened->sought", (main_x + main_w / 2, b_scr.y + b_scr.h, main_x + main_w / 2, y))

    b_sought = _box(
        main_x,
        y,
        main_w,
        _main_lines(c, "Reports sought for retrieval", "reports_sought"),
    )
    b_nr = _box(
        side_x,
        y,
        side_w,
        [Line("Reports not retrieved", c.reports_not_retrieved, "reports_not_retrieved")],
    )
    lay.boxes += [b_sought, b_nr]
    lay.arrow(
        "sought->not_retrieved", (main_x + main_w, y + b_sought.h / 2, side_x, y + b_sought.h / 2)
    )
    y += max(b_sought.h, b_nr.h) + gap_y
    lay.arrow(
        "sought->assessed", (main_x + main_w / 2, b_sought.y + b_sought.h, main_x + main_w / 2, y)
    )

    b_ass = _box(
        main_x,
        y,
        main_w,
        _main_lines(c, "Reports assessed for eligibility", "reports_assessed"),
    )
    b_ftx = _box(side_x, y, side_w, _full_text_excluded_lines(c, desc))
    lay.boxes += [b_ass, b_ftx]
    lay.arrow("assessed->excluded", (main_x + main_w, y + b_ass.h / 2, side_x, y + b_ass.h / 2))
    screen_bottom = y + max(b_ass.h, b_ftx.h)
    y = screen_bottom + gap_y
    lay.arrow(
        "assessed->included", (main_x + main_w / 2, b_ass.y + b_ass.h, main_x + main_w / 2, y)
    )

    # ---- included
    b_inc = _box(main_x, y, main_w, _included_lines(c))
    lay.boxes.append(b_inc)
    inc_top = y
    y += b_inc.h

    if c.previous is not None:
        b_prev = _box(left + bar_w + 14, prev_anchor_y, prev_w, _previous_lines(c.previous))
        _arrow_to_included(lay, b_prev, (main_x, inc_top + b_inc.h / 2))

    lay.bars = [
        (left, ident_top, bar_w, ident_bottom - ident_top, "Identification"),
        (left, screen_top, bar_w, screen_bottom - screen_top, "Screening"),
        (left, inc_top, bar_w, b_inc.h, "Included"),
    ]
    lay.height = y + 10
    return lay


# ----------------------------------------------------------------------------- SVG
def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def layout_svg(lay: Layout, *, desc: str = "") -> str:
    """The layout as a standalone SVG document (text escaped by ElementTree)."""
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {_fmt(lay.width)} {_fmt(lay.height)}",
            "width": _fmt(lay.width),
            "height": _fmt(lay.height),
            "role": "img",
            "aria-labelledby": "prisma-title prisma-desc",
            "class": "prisma",
            "font-family": FONT_FAMILY,
            "font-size": _fmt(FONT),
        },
    )
    ET.SubElement(svg, "title", {"id": "prisma-title"}).text = (
        lay.title or "PRISMA 2020 flow diagram"
    )
    ET.SubElement(svg, "desc", {"id": "prisma-desc"}).text = desc
    defs = ET.SubElement(svg, "defs")
    marker = ET.SubElement(
        defs,
        "marker",
        {
            "id": "prisma-arrow",
            "viewBox": "0 0 10 10",
            "refX": "10",
            "refY": "5",
            "markerWidth": "7",
            "markerHeight": "7",
            "orient": "auto-start-reverse",
        },
    )
    ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "fill": BOX_STROKE})
    for x, y, w, h, label in lay.bars:
        g = ET.SubElement(svg, "g", {"class": "prisma-stage"})
        ET.SubElement(
            g,
            "rect",
            {
                "x": _fmt(x),
                "y": _fmt(y),
                "width": _fmt(w),
                "height": _fmt(h),
                "rx": "4",
                "fill": BAR_FILL,
            },
        )
        cx, cy = x + w / 2, y + h / 2
        t = ET.SubElement(
            g,
            "text",
            {
                "x": _fmt(cx),
                "y": _fmt(cy),
                "fill": "#ffffff",
                "font-weight": "bold",
                "text-anchor": "middle",
                "dominant-baseline": "central",
                "transform": f"rotate(-90 {_fmt(cx)} {_fmt(cy)})",
            },
        )
        t.text = label
    for b in lay.boxes:
        g = ET.SubElement(svg, "g", {"class": "prisma-box"})
        ET.SubElement(
            g,
            "rect",
            {
                "x": _fmt(b.x),
                "y": _fmt(b.y),
                "width": _fmt(b.w),
                "height": _fmt(b.h),
                "fill": b.fill,
                "stroke": BOX_STROKE,
                "stroke-width": "1.2",
            },
        )
        for i, ln in enumerate(b.lines):
            attrs = {
                "x": _fmt(b.x + PAD + ln.dx),
                "y": _fmt(b.y + PAD + LINE * (i + 0.75)),
                "fill": "#111111",
            }
            if ln.bold:
                attrs["font-weight"] = "bold"
            t = ET.SubElement(g, "text", attrs)
            t.text = ln.prefix + ln.label
            if ln.n is not None:
                t.text += " (n = "
                num = ET.SubElement(t, "tspan", {"class": "prisma-n", "data-key": ln.key or ""})
                num.text = str(ln.n)
                num.tail = ")"
    for x1, y1, x2, y2 in lay.arrows:
        ET.SubElement(
            svg,
            "line",
            {
                "x1": _fmt(x1),
                "y1": _fmt(y1),
                "x2": _fmt(x2),
                "y2": _fmt(y2),
                "stroke": BOX_STROKE,
                "stroke-width": "1.4",
                "marker-end": "url(#prisma-arrow)",
            },
        )
    return ET.tostring(svg, encoding="unicode")


# ----------------------------------------------------------------------------- matplotlib
def layout_figure(lay: Layout) -> Any:
    """The same layout drawn with matplotlib (for PNG and PDF)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

    px = 1 / 100  # inches per pixel at dpi 100
    fig = Figure(figsize=(lay.width * px, lay.height * px), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, lay.width)
    ax.set_ylim(lay.height, 0)
    ax.axis("off")
    pt = FONT * 0.75  # px -> pt at 100 dpi is 0.72; 0.75 keeps the same visual weight
    for x, y, w, h, label in lay.bars:
        ax.add_patch(
            FancyBboxPatch(
                (x, y), w, h, boxstyle="round,pad=0,rounding_size=4", fc=BAR_FILL, ec="none"
            )
        )
        ax.text(
            x + w / 2,
            y + h / 2,
            label,
            rotation=90,
            ha="center",
            va="center",
            color="white",
            fontsize=pt,
            fontweight="bold",
        )
    for b in lay.boxes:
        ax.add_patch(Rectangle((b.x, b.y), b.w, b.h, fc=b.fill, ec=BOX_STROKE, lw=1.0))
        for i, ln in enumerate(b.lines):
            text = ln.prefix + ln.label + (f" (n = {ln.n})" if ln.n is not None else "")
            ax.text(
                b.x + PAD + ln.dx,
                b.y + PAD + LINE * (i + 0.5),
                text,
                ha="left",
                va="center",
                fontsize=pt,
                fontweight="bold" if ln.bold else "normal",
                color="#111111",
            )
    for x1, y1, x2, y2 in lay.arrows:
        ax.add_patch(
            FancyArrowPatch(
                (x1, y1),
                (x2, y2),
                arrowstyle="-|>",
                mutation_scale=10,
                color=BOX_STROKE,
                lw=1.2,
                shrinkA=0,
                shrinkB=0,
            )
        )
    return fig


def write_diagram(
    c: PrismaCounts,
    folder: Path,
    *,
    descriptions: dict[str, str] | None = None,
    title: str = "",
    stem: str = "prisma",
) -> dict[str, Path]:
    """Write ``prisma.svg``, ``prisma.png`` (200 dpi) and ``prisma.pdf`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    lay = build_layout(c, descriptions=descriptions, title=title)
    paths = {
        "svg": folder / f"{stem}.svg",
        "png": folder / f"{stem}.png",
        "pdf": folder / f"{stem}.pdf",
    }
    svg = layout_svg(lay, desc=diagram_description(c))
    paths["svg"].write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n", encoding="utf-8"
    )
    fig = layout_figure(lay)
    fig.savefig(paths["png"], dpi=200)
    fig.savefig(paths["pdf"])
    return paths


def diagram_description(c: PrismaCounts) -> str:
    """A plain-language summary of the flow (the diagram's alt text)."""
    parts = [
        f"{c.records_identified} records identified ({c.records_from_databases} from databases, "
        f"{c.records_from_other_methods} from other methods)",
        f"{c.duplicates_removed} duplicates removed",
        f"{c.excluded_automation} marked ineligible by automation tools",
        f"{c.records_screened} records screened, {c.excluded_screening} excluded",
        f"{c.reports_sought} reports sought, {c.reports_not_retrieved} not retrieved",
        f"{c.reports_assessed} assessed for eligibility, {c.excluded_full_text} excluded",
        f"{c.studies_included} studies ({c.reports_included} reports) included",
    ]
    return "PRISMA 2020 flow: " + "; ".join(parts) + "."
