"""Recognising a file's format from its content (the extension only breaks ties)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from fmreview.errors import FormatError
from fmreview.formats._decoding import is_binary, read_head, read_sample
from fmreview.formats._registry import FORMATS, readable

_RIS_LINE = re.compile(r"^(?:\ufeff)?TY {1,2}-", re.M)
_MEDLINE = re.compile(r"^(?:PMID|OWN |STAT|FAU |PMC |AID |DP  |JT  )- ", re.M)
_WOS = re.compile(r"^(?:\ufeff)?(?:FN |VR |PT [A-Z]\s*$)", re.M)
_WOS_END = re.compile(r"^ER\s*$", re.M)
_BIBTEX = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.M)
_CSV_HINTS = re.compile(
    r"\b(title|document title|item title|display_name|abstract|doi|authors?|pmid|year)\b",
    re.I,
)


def _json_kind(text: str) -> str | None:
    """Which JSON API shape the start of ``text`` is (by the keys it uses)."""
    if '"message-type"' in text or ('"message"' in text and '"DOI"' in text):
        return "crossref_json"
    if "abstract_inverted_index" in text or "openalex.org/W" in text or '"authorships"' in text:
        return "openalex_json"
    if any(k in text for k in ('"paperId"', '"externalIds"', '"citingPaper"', '"citedPaper"')):
        return "s2_json"
    if '"authorId"' in text:
        return "s2_json"
    if '"DOI"' in text and ('"container-title"' in text or '"issued"' in text):
        return "crossref_json"
    return None


def sniff_text(head: str, suffix: str = "") -> str | None:
    """The format of a document starting with ``head`` (``None`` if unrecognised)."""
    text = head.lstrip("\ufeff \t\r\n")
    suffix = suffix.lower()
    for fmt in FORMATS.values():  # plugin formats with their own detector go first
        if fmt.detect is not None and fmt.detect(text):
            return fmt.name
    if not text:
        return None
    if text.startswith("<"):
        if "<PubmedArticleSet" in text or "<PubmedArticle>" in text or "<PubmedArticle " in text:
            return "pubmed_xml"
        if "<feed" in text and ("arxiv" in text.lower() or "w3.org/2005/Atom" in text):
            return "arxiv_atom"
        if re.search(r"<records?\b", text) and ("<ref-type" in text or "<xml>" in text):
            return "endnote_xml"
        if "<xml>" in text and "<records>" in text:
            return "endnote_xml"
        return None
    if text[0] in "{[":
        first_line = text.split("\n", 1)[0].strip()
        if suffix in (".jsonl", ".ndjson"):
            return "jsonl"
        if first_line.startswith("{") and first_line.endswith("}") and "\n{" in text:
            try:
                json.loads(first_line)
                return "jsonl"
            except ValueError:
                pass
        return _json_kind(text)
    if _RIS_LINE.search(text):
        return "ris"
    if _WOS.search(text) and (_WOS_END.search(text) or re.search(r"^(?:AU|TI|UT) ", text, re.M)):
        return "wos"
    if _MEDLINE.search(text) or (
        re.search(r"^TI  - ", text, re.M) and re.search(r"^(?:AU|DP|OT)  - ", text, re.M)
    ):
        return "medline"
    if _BIBTEX.search(text):
        return "bibtex"
    header = text.split("\n", 1)[0]
    if _CSV_HINTS.search(header):
        tabs, commas, semis = header.count("\t"), header.count(","), header.count(";")
        if tabs and (tabs >= commas or suffix == ".tsv"):
            return "tsv"
        if commas or semis:
            return "csv"
        if suffix in (".csv", ".tsv"):
            return suffix[1:]
    return None


def _supported() -> str:
    return ", ".join(readable())


def sniff(path: Path) -> str:
    """The format of the file at ``path``, from its content.

    Raises
    ------
    FormatError
        When the file is empty, binary (and not an XLSX/Parquet file) or in no supported
        format; the message lists the supported formats.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path} does not exist or is not a file")
    sample = read_sample(path, 64 * 1024)
    if not sample.strip(b"\xef\xbb\xbf\xff\xfe \t\r\n\x00"):
        raise FormatError(f"{path.name} is empty; supported formats: {_supported()}")
    if sample.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                if any(n.startswith("xl/") for n in zf.namelist()):
                    return "xlsx"
        except zipfile.BadZipFile:
            pass
        raise FormatError(
            f"{path.name} is a ZIP archive but not an Excel workbook; "
            f"supported formats: {_supported()}"
        )
    if sample.startswith(b"PAR1"):
        return "parquet"
    if is_binary(sample):
        raise FormatError(
            f"{path.name} looks like a binary file, not a bibliographic export; "
            f"supported formats: {_supported()}"
        )
    name = sniff_text(read_head(path), path.suffix)
    if name is None:
        raise FormatError(
            f"cannot recognise the format of {path.name}; supported formats: {_supported()} "
            "(pass the format explicitly if the content is one of them)"
        )
    return name
