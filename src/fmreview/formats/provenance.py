"""Expected record counts from the bench fixtures' ``PROVENANCE.md`` tables.

Each format folder of the shared benchmark data documents its files in a Markdown table
(``| `file` | records | bytes | ...``). The counts were taken with a simple regex, so a few
are off for files the regex miscounts; :data:`DOCUMENTED_DEVIATIONS` records those with
the reason, and the deliberately malformed files with the errors a reader must report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Expectation:
    """What reading a fixture must give: ``entries`` = records + errors, and errors."""

    entries: int | None
    errors: int = 0
    note: str = ""


#: path relative to the formats folder -> expectation that replaces the table's count
DOCUMENTED_DEVIATIONS: dict[str, Expectation] = {
    "medline-nbib/anonymised-layout/nbib_colrev.nbib": Expectation(
        1, 0, "one MEDLINE record without a PMID line; the table's regex counts PMID- lines"
    ),
    "medline-nbib/anonymised-layout/eric_colrev.nbib": Expectation(
        1, 0, "ERIC nbib without PMID (count left blank in the table)"
    ),
    "ris/edge-cases/faulty_year_asreview.ris": Expectation(
        1, 1, "malformed year: PY holds '10 15' -> one RecordError naming PY"
    ),
    "bibtex/anonymised-layout/acm_colrev.bib": Expectation(
        2, 1, "placeholder content: the second entry's year is '888' -> RecordError"
    ),
    "bibtex/anonymised-layout/ebsco_colrev.bib": Expectation(
        2, 1, "second entry has unbalanced braces in keywords -> RecordError with its line"
    ),
    "bibtex/anonymised-layout/scopus_colrev.bib": Expectation(
        11, 1, "one entry key holds a space ('Conference paper2022775') -> RecordError"
    ),
    "arxiv-atom/arxiv_id_invalid_abc.xml": Expectation(
        1, 1, "invalid id: the feed's single entry is an API error -> RecordError"
    ),
    "semantic-scholar-json/s2_author.json": Expectation(
        60, 0, "author object: its 60 papers are the records"
    ),
}

_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*([\d,]*)\s*\|")


def read_provenance(folder: Path) -> dict[str, int | None]:
    """``{file (relative to folder): documented record count or None}`` for one folder."""
    path = folder / "PROVENANCE.md"
    out: dict[str, int | None] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line)
        if m:
            count = m.group(2).replace(",", "")
            out[m.group(1)] = int(count) if count else None
    return out


def expectations(root: Path) -> dict[str, Expectation]:
    """Expectation for every documented file under ``root`` (the ``formats`` folder)."""
    out: dict[str, Expectation] = {}
    for prov in sorted(root.glob("*/PROVENANCE.md")):
        folder = prov.parent
        for name, count in read_provenance(folder).items():
            rel = f"{folder.name}/{name}"
            out[rel] = DOCUMENTED_DEVIATIONS.get(rel, Expectation(count))
    return out
