"""The dataset gazetteer: named medical-imaging datasets, and linking their mentions in text.

A mention links to an entity when it matches the entity's name or one of its aliases, up to
case (for names longer than five characters), hyphen/space/underscore/slash separators
(``MIMIC-CXR`` = ``MIMIC CXR`` = ``MIMIC_CXR`` = ``MIMICCXR``) and a version or year suffix
(``BraTS 2021``, ``KiTS19``, ``CheXpert-v1.0``). Short names (``WORD``, ``PANDA``, ``ATLAS``)
match only as written, so the English word does not link. Overlapping mentions keep the
longest; on equal spans the entity matched without a suffix wins (``ROCOv2`` is ROCOv2,
not ROCO version 2).

Hand-written on purpose: the gazetteer is small (~480 entities, ~1,200 surface forms) and
needs exact character spans for evidence, which regular expressions give directly; a
fuzzy matcher (rapidfuzz) would link ``CAMELYON16`` to ``CAMELYON17``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fmreview.errors import InputError
from fmreview.extract.label import Span

_SEP = r"[\s\-_/]*"
_SUFFIX = r"(?:[\s\-_]?(?:v|ver\.?|version)?\s?\d{1,4}(?:\.\d+)*[a-z]?)?"
# Words that are also dataset names: matched only as written.
_CASE_SENSITIVE_WORDS = {
    "quilt",
    "synapse",
    "decathlon",
    "messidor",
    "echonet",
    "oasis",
    "lizard",
    "sunnybrook",
    "hamlyn",
}
#: Place names that are datasets only when the text says so ("the Montgomery and Shenzhen
#: sets", "Shenzhen CXR"; not "Shenzhen People's Hospital").
_PLACE_NAMES = {"shenzhen", "montgomery", "montgomery county"}
_PLACE_CONTEXT = (
    r"(?=[\s\-]*(?:(?:and|&|,)\s*[A-Z][\w-]*\s+)?(?:County\s+)?(?:chest|CXR|TB|"
    r"tuberculosis|X-?rays?|data\s?sets?|sets?|database|collection|cohort)\b)"
)
#: A name used as a metric or labeller is not a dataset used: "CheXpert F1", "Chest
#: Radiograph Expert (CheXpert) and Radiology Graph (RadGraph) metrics", "the CheXpert
#: labeler". Up to 60 characters may come between, with no preposition (so "MIMIC-CXR with
#: BLEU and CheXpert metrics" keeps MIMIC-CXR).
_METRIC_AFTER = re.compile(
    r"(?:(?!\b(?:with|on|using|in|for|from|across|to|by|of|at|over|data\s?sets?|database|"
    r"benchmarks?|achiev\w*|reach\w*|obtain\w*|yield\w*|improv\w*|outperform\w*|"
    r"surpass\w*)\b)[^.;]){0,60}?(?<![\w(-])(?<!\( )(?:metrics?|scores?|(?:macro-|micro-)?F1|labell?ers?|CheXbert)\b",
    re.IGNORECASE,
)
#: A known name that begins a longer capitalised name of a dataset is left to the name
#: patterns: "the EndoVis Conversations dataset" is not EndoVis, "the BraTS-Africa dataset"
#: is not BraTS. Descriptive words ("the BraTS MRI dataset") do not make a longer name.
_LONGER_NAME = re.compile(
    r"(?P<more>(?:[\s-]+[A-Z][\w-]*){1,3})\s+(?:data\s?sets?|database|benchmark|challenge|"
    r"corpus)\b"
)
_DESCRIPTIVE = {
    "ct",
    "mri",
    "mr",
    "pet",
    "oct",
    "us",
    "cxr",
    "x-ray",
    "xray",
    "chest",
    "brain",
    "ultrasound",
    "fundus",
    "pathology",
    "histopathology",
    "dermoscopy",
    "endoscopy",
    "image",
    "images",
    "test",
    "training",
    "validation",
    "segmentation",
    "classification",
    "detection",
    "vqa",
}
#: A name joined to a model's name is the model: "Quilt-LLaVA", "MIAS-SAM", "PathVQA-CLIP".
_MODEL_AFTER = re.compile(
    r"[-_](?:SAM|LLaVA|CLIP|GPT|BLIP|ViT|BERT|LLM|VLM|MLLM|Net|Former|Mamba|DINO|Seg\b|Agent|"
    r"Chat|Diff|Gen\b|Med\b|Instruct|R1\b)"
)
#: Words a name may be followed by and still be the same name ("the DDR dataset").
_KIND_WORDS = re.compile(
    r"[\s\-_]*\b(?:data\s?sets?|database|benchmark|challenge|corpus|cohort)$", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class DatasetEntity:
    """One dataset of the gazetteer (a row of its CSV)."""

    name: str
    aliases: tuple[str, ...] = ()
    modality: str = ""
    body_region: str = ""
    info: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Mention:
    """A linked dataset mention: entity name and where it was found."""

    entity: str
    span: Span
    surface: str
    exact: bool  # matched without a version/year suffix


def _strip_note(alias: str) -> str:
    return re.sub(r"\s*\([^)]*\)\s*", " ", alias).strip()


def _case_sensitive(surface: str) -> bool:
    """Short names, words, and one-word names in capitals that are also English words
    ("INSPECT", "INSTANCE", "PANORAMA") match only as written; "MIMIC-CXR" does not."""
    letters = re.sub(r"[^A-Za-z]", "", surface)
    one_word_caps = surface.isalpha() and surface.isupper()
    return len(letters) <= 5 or one_word_caps or surface.lower() in _CASE_SENSITIVE_WORDS


def _surface_regex(surface: str, sensitive: bool) -> re.Pattern[str]:
    tokens = [t for t in re.split(r"[\s\-_/]+", surface) if t]
    body = _SEP.join(re.escape(t) for t in tokens)
    flags = 0 if sensitive else re.IGNORECASE
    context = _PLACE_CONTEXT if surface.lower() in _PLACE_NAMES else ""
    # A name does not start inside a hyphenated word: "R-SLAKE" (a dataset derived from
    # SLAKE) is not SLAKE. The suffix is its own group so a match can tell whether it was used.
    return re.compile(rf"(?<![\w&+])(?<!\w-){body}(?P<suffix>{_SUFFIX})(?![\w&+]){context}", flags)


class DatasetGazetteer:
    """Datasets with aliases, and a linker for their mentions.

    Parameters
    ----------
    entities : list of DatasetEntity
    """

    def __init__(self, entities: list[DatasetEntity]) -> None:
        self.entities: dict[str, DatasetEntity] = {e.name: e for e in entities}
        self._patterns: list[tuple[str, str, re.Pattern[str]]] = []
        self._by_key: dict[str, str] = {}
        # an entity's own name wins over another's alias ("TCGA-BRCA" is its own entity
        # and an alias of TCGA)
        for e in entities:
            self._by_key.setdefault(_key(_strip_note(e.name)), e.name)
        for e in entities:
            name_sensitive = _case_sensitive(e.name)
            for surface in dict.fromkeys([e.name, *e.aliases]):
                s = _strip_note(surface)
                if not s:
                    continue
                # "WORD dataset" is as case-sensitive as "WORD"
                inherit = name_sensitive and e.name.lower() in s.lower()
                sensitive = inherit or _case_sensitive(s)
                self._patterns.append((e.name, s, _surface_regex(s, sensitive)))
                self._by_key.setdefault(_key(s), e.name)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_csv(cls, path: str | Path) -> DatasetGazetteer:
        """Read a gazetteer CSV: columns ``name``, ``aliases`` ('a; b'), ``modality``, ..."""
        p = Path(path)
        try:
            with p.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        except OSError as exc:
            raise InputError(f"cannot read gazetteer {p}: {exc}") from exc
        if rows and "name" not in rows[0]:
            raise InputError(
                f"gazetteer {p}: no 'name' column (found {', '.join(rows[0])}); "
                "expected columns name, aliases, modality, ..."
            )
        entities = []
        for row in rows:
            name = (row.get("name") or "").strip()
            if not name:
                continue
            aliases = tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip())
            info = {k: (v or "") for k, v in row.items() if k not in ("name", "aliases") and k}
            entities.append(
                DatasetEntity(
                    name=name,
                    aliases=aliases,
                    modality=info.get("modality", ""),
                    body_region=info.get("body_region", ""),
                    info=info,
                )
            )
        return cls(entities)

    def __len__(self) -> int:
        return len(self.entities)

    def __contains__(self, name: object) -> bool:
        return name in self.entities

    # ------------------------------------------------------------------ linking
    def lookup(self, name: str) -> str | None:
        """The entity a name or alias refers to (separator-, case- and version-insensitive)."""
        bare = _KIND_WORDS.sub("", _strip_note(name).strip()) or name
        k = _key(bare)
        if k in self._by_key:
            return self._by_key[k]
        k2 = re.sub(r"(v|ver|version)?\d+(\.\d+)*[a-z]?$", "", k)
        if k2 and k2 in self._by_key:
            return self._by_key[k2]
        for _, surface, pat in self._patterns:  # last resort: the name as a mention
            if pat.fullmatch(name.strip()):
                return self._by_key[_key(surface)]
        return None

    def find(self, text: str, field: str = "title") -> list[Mention]:
        """All dataset mentions in ``text``, non-overlapping, in text order."""
        if not text:
            return []
        found: list[tuple[int, int, bool, str, str]] = []
        for entity, surface, pat in self._patterns:
            for m in pat.finditer(text):
                if (
                    _METRIC_AFTER.match(text, m.end())
                    or _MODEL_AFTER.match(text, m.end())
                    or _starts_longer_name(text, m.end())
                ):
                    continue
                exact = not m.group("suffix")
                found.append((m.start(), m.end(), exact, entity, surface))
        # longest first, then exact before suffixed, then an entity's own name before
        # another's alias ("CheXpert Plus" is an alias of CheXpert too), then the longer form
        found.sort(
            key=lambda t: (-(t[1] - t[0]), not t[2], _key(t[4]) != _key(t[3]), -len(t[4]), t[0])
        )
        taken: list[tuple[int, int]] = []
        out: list[Mention] = []
        for start, end, exact, entity, surface in found:
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            out.append(Mention(entity, Span(field, start, end, text[start:end]), surface, exact))
            if _ENDS_IN_YEAR.search(text, start, end):
                out += self._coordinated(text, field, start, end, entity, surface)
        out.sort(key=lambda m: m.span.start or 0)
        return out

    def _coordinated(
        self, text: str, field: str, start: int, end: int, entity: str, surface: str
    ) -> list[Mention]:
        """Mentions of the further years coordinated with a mention ending in a year.

        Each year is the release the mention's stem names with that year: "Data Science
        Bowl 2017 and 2018" names two entities (the 2018 bowl is DSB2018), "EndoVis 2017 and
        2018" one family twice. A year whose release is not in the gazetteer falls to the
        mention's entity only when that entity is not itself one year's release (then the
        year is a release the gazetteer does not know, and is left unlinked).
        """
        stem = text[start : end - 4]
        own_year = text[end - 4 : end]
        out = []
        for s, e in _coordinated_years(text, end):
            year = text[s:e]
            other = self.lookup(stem + year)
            # lookup drops a trailing version ("APTOS 2020" -> APTOS 2019): not this year's
            if other is not None and _release_year(self.entities[other].name) not in ("", year):
                other = None
            if other is None and _release_year(self.entities[entity].name) != own_year:
                other = entity
            if other is not None:
                name = surface if other == entity else stem + year
                out.append(Mention(other, Span(field, s, e, text[s:e]), name, False))
        return out

    def link(self, texts: dict[str, str]) -> dict[str, list[Mention]]:
        """Mentions per entity across several fields (title, abstract, ...)."""
        out: dict[str, list[Mention]] = {}
        for fld, text in texts.items():
            for m in self.find(text or "", fld):
                out.setdefault(m.entity, []).append(m)
        return out


_ENDS_IN_YEAR = re.compile(r"(?:19|20)\d\d$")
_NEXT_YEAR = re.compile(r"\s*(?:,\s*(?:and\s+)?|and\s+|&\s*)(?P<year>(?:19|20)\d\d)\b(?![\w-])")


def _release_year(name: str) -> str:
    """The year an entity's name ends in ("DSB2018" -> "2018"), or ""."""
    m = _ENDS_IN_YEAR.search(name.strip())
    return m.group(0) if m else ""


def _coordinated_years(text: str, end: int) -> list[tuple[int, int]]:
    """Spans of the further releases coordinated with a mention ending in a year: "EndoVis
    2017 and 2018 challenges", "ISIC 2018, 2019 and 2020" name two and three releases."""
    out = []
    while (m := _NEXT_YEAR.match(text, end)) is not None:
        out.append((m.start("year"), m.end("year")))
        end = m.end()
    return out


def _starts_longer_name(text: str, end: int) -> bool:
    m = _LONGER_NAME.match(text, end)
    if m is None:
        return False
    words = re.split(r"[\s-]+", m.group("more").strip(" -"))
    return not any(w.lower() in _DESCRIPTIVE for w in words)


def _key(s: str) -> str:
    return re.sub(r"[\s\-_/.'’]+", "", s).lower()


def bundled_gazetteer_path() -> Path:
    return Path(str(resources.files("fmreview") / "data" / "fm" / "datasets_gazetteer.csv"))


_BUNDLED: DatasetGazetteer | None = None


def bundled_gazetteer() -> DatasetGazetteer:
    """The package's gazetteer of public medical-imaging datasets (cached): the 113 of the
    curated gazetteer plus 365 that fmreview adds from general knowledge - widely used
    pretraining sets, evaluation sets, challenges and benchmarks across radiology,
    pathology, ophthalmology, dermatology, endoscopy and ultrasound. Their notes column
    says "added by fmreview"; sizes are left blank and confidence is "low" where the facts
    were not checked against a source."""
    global _BUNDLED
    if _BUNDLED is None:
        _BUNDLED = DatasetGazetteer.from_csv(bundled_gazetteer_path())
    return _BUNDLED


def load_gazetteer(protocol: Any, base_dir: str | Path | None = None) -> DatasetGazetteer | None:
    """The gazetteer a protocol names (``gazetteer: {bundled: true}`` or ``{file: x.csv}``).

    A relative ``file`` is resolved against ``base_dir`` (the review folder or the
    protocol's folder). Returns None when the protocol has no gazetteer.
    """
    g = getattr(protocol, "gazetteer", None)
    if g is None:
        return None
    if g.file:
        p = Path(g.file)
        if not p.is_absolute() and base_dir is not None:
            p = Path(base_dir) / p
        if not p.exists():
            raise InputError(
                f"gazetteer file {p} does not exist; fix 'gazetteer.file' in the protocol "
                "or use 'gazetteer: {bundled: true}'"
            )
        return DatasetGazetteer.from_csv(p)
    return bundled_gazetteer()
