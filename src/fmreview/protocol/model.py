"""The review protocol: a YAML file validated by these pydantic models.

A protocol defines a review: its question, where to search and with which queries, the
eligibility criteria (each with an id, a description and an optional machine rule), the
taxonomy that extraction labels works with, the dataset gazetteer, and the settings of each
pipeline stage. ``fmreview protocol check FILE`` validates one; errors name line and key.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def _refuse_repeats(names: list[str], what: str) -> None:
    """Raise ``ValueError("<what>: a, b")`` naming every name that stands twice."""
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"{what}: {', '.join(sorted(dup))}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ----------------------------------------------------------------------------- sources
SOURCE_NAMES = ("openalex", "arxiv", "pubmed", "semantic_scholar", "crossref")


class SourceQuery(_Model):
    """One source's search: a query in the source's own syntax.

    ``query`` is a string (arXiv ``search_query``, PubMed Entrez term, Semantic Scholar bulk
    ``query``, Crossref ``query``) or, for OpenAlex, a mapping with ``search`` and/or
    ``filter``. ``max`` caps the number of records fetched (None = all).
    """

    enabled: bool = True
    query: str | dict[str, str]
    max: int | None = Field(default=None, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)


class SearchSettings(_Model):
    email: str | None = None  # OpenAlex polite pool, Crossref mailto, NCBI email
    api_keys: dict[str, str] = Field(
        default_factory=dict,
        description="source -> NAME of an environment variable holding the key (never the key)",
    )
    overlap_days: int = Field(default=7, ge=0)
    cache: bool = True
    timeout: float = 30.0
    max_retries: int = 5


# ----------------------------------------------------------------------------- eligibility
class Rule(_Model):
    """A machine rule for an eligibility criterion.

    Exactly one kind of test is used; a rule *matches* a work when the test is true. The
    criterion's ``action`` decides what a match means.

    - ``field`` + ``in`` / ``not_in``: the field's value is (not) in the list
      (fields: language, type, year, venue, ...).
    - ``field`` + ``min`` / ``max``: numeric range (year).
    - ``any`` / ``all`` / ``none``: regex patterns searched (case-insensitive) in ``fields``
      (default title, abstract, keywords).
    - ``missing``: the field is empty.
    """

    field: str | None = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    min: float | None = None
    max: float | None = None
    any: list[str] | None = None
    all: list[str] | None = None
    none: list[str] | None = None
    fields: list[str] = Field(default_factory=lambda: ["title", "abstract", "keywords"])
    missing: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> Rule:
        for pats in (self.any, self.all, self.none):
            for p in pats or []:
                try:
                    re.compile(p)
                except re.error as exc:
                    raise ValueError(
                        f"pattern {p!r} is not a valid regular expression: {exc}"
                    ) from exc
        kinds = [
            self.in_ is not None or self.not_in is not None,
            self.min is not None or self.max is not None,
            bool(self.any or self.all or self.none),
            self.missing is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "a rule needs exactly one test: in/not_in, min/max, any/all/none, or missing"
            )
        if (kinds[0] or kinds[1] or kinds[3]) and not self.field:
            raise ValueError("this rule needs 'field'")
        return self


class Criterion(_Model):
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    description: str
    action: Literal["exclude", "include"] = "exclude"
    stage: Literal["automation", "title_abstract", "full_text"] = "title_abstract"
    rule: Rule | None = None


# ----------------------------------------------------------------------------- taxonomy
class AxisValue(_Model):
    name: str
    description: str = ""
    synonyms: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    implies: dict[str, str | list[str]] = Field(default_factory=dict)
    priority: int = Field(
        default=0,
        description="single-valued axes: when several values match, the highest priority wins "
        "(e.g. fm_type: any text cue makes a work vision_language, whatever image cues it has)",
    )

    @field_validator("patterns")
    @classmethod
    def _compile(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from exc
        return v


class Axis(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    multi: bool = False
    values: list[AxisValue] = Field(default_factory=list)
    from_gazetteer: bool = False  # values are the gazetteer's datasets
    default: str | None = None

    @model_validator(mode="after")
    def _unique(self) -> Axis:
        names = [v.name for v in self.values]
        _refuse_repeats(names, f"axis {self.name!r} lists value(s) twice")
        if self.default is not None and self.default not in names:
            raise ValueError(
                f"axis {self.name!r}: default {self.default!r} is not one of its values"
            )
        return self


class Gazetteer(_Model):
    """Where the dataset gazetteer is: a CSV (name, aliases 'a; b', modality, ...).

    ``file`` is relative to the protocol file; ``bundled: true`` uses the package's copy.
    """

    file: str | None = None
    bundled: bool = False


# ----------------------------------------------------------------------------- stages
class DedupeSettings(_Model):
    # The defaults are the engine's, chosen leave-one-set-out in benchmarks/dedupe.py.
    upper: float = Field(default=0.80, ge=0, le=1, description="score at/above which pairs merge")
    lower: float = Field(
        default=0.75, ge=0, le=1, description="score at/above which pairs go to a person"
    )
    title_min: float = Field(
        default=0.90,
        ge=0,
        le=1,
        description="title similarity below which two records are different works",
    )
    merge_conference_abstracts: bool = False
    link_versions: bool = True


class StoppingSettings(_Model):
    # poisson_process: 95% recall in 30 of 30 benchmark runs, 58% of the screening saved
    # (hypergeometric: 30 of 30, 18%). Its promise rests on a model of how relevant works
    # thin out along the ranking, not on a random sample as the hypergeometric rule's
    # does (see screening/counting.py); set rule: hypergeometric for a sampling guarantee
    rule: str = "poisson_process"
    recall: float = Field(default=0.95, gt=0, le=1)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    params: dict[str, Any] = Field(default_factory=dict)


class ScreeningSettings(_Model):
    mode: Literal["human", "rules"] = Field(
        default="human",
        description=(
            "human: a work is included only by reviewers' votes; rules: a work that passes the "
            "eligibility rules counts as included until a person decides otherwise (offline reviews "
            "of curated lists; the report states that inclusion was not human-confirmed)"
        ),
    )
    model: str = "default"
    params: dict[str, Any] = Field(default_factory=dict)
    reviewers_per_record: int = Field(default=2, ge=1)
    blinding: bool = True
    stopping: StoppingSettings = Field(default_factory=StoppingSettings)
    highlight_include: list[str] = Field(default_factory=list)
    highlight_exclude: list[str] = Field(default_factory=list)


class LLMSettings(_Model):
    enabled: bool = False
    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "llama3.1"
    api_key_env: str | None = None
    temperature: float = 0.0


class ExtractionSettings(_Model):
    methods: list[Literal["list", "rule", "model", "llm"]] = Field(
        default_factory=lambda: ["list", "rule", "model"]  # type: ignore[arg-type]
    )
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    llm: LLMSettings = Field(default_factory=LLMSettings)


class Event(_Model):
    name: str
    date: dt.date


class AnalysisSettings(_Model):
    events: list[Event] = Field(default_factory=list)
    min_cell: int = Field(default=5, ge=1)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    first_year: int | None = None
    exclude_partial_years: bool = True
    last_year: int | None = None
    coverage_min_share: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description=(
            "For reviews built from curated lists: trend fits end at the last year in which at "
            "least this share of the lists (record source labels) still contribute works, so "
            "curation lag is not read as a decline"
        ),
    )
    findings: list[dict[str, Any]] = Field(default_factory=list)


class DateRange(_Model):
    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _order(self) -> DateRange:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


# ----------------------------------------------------------------------------- protocol
class Protocol(_Model):
    """A whole review protocol."""

    version: Literal[1] = 1
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    question: str
    description: str = ""
    date_range: DateRange = Field(default_factory=DateRange)
    languages: list[str] = Field(default_factory=list)
    sources: dict[str, SourceQuery] = Field(default_factory=dict)
    search: SearchSettings = Field(default_factory=SearchSettings)
    eligibility: list[Criterion] = Field(default_factory=list)
    dedupe: DedupeSettings = Field(default_factory=DedupeSettings)
    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)
    taxonomy: list[Axis] = Field(default_factory=list)
    gazetteer: Gazetteer | None = None
    extraction: ExtractionSettings = Field(default_factory=ExtractionSettings)
    analyses: AnalysisSettings = Field(default_factory=AnalysisSettings)
    snapshot: str | None = Field(
        default=None, description="bundled snapshot imported by `fmreview run` (e.g. 'fm-studies')"
    )

    @field_validator("sources")
    @classmethod
    def _known_sources(cls, v: dict[str, SourceQuery]) -> dict[str, SourceQuery]:
        unknown = set(v) - set(SOURCE_NAMES)
        if unknown:
            raise ValueError(
                f"unknown source(s) {', '.join(sorted(unknown))}; available: {', '.join(SOURCE_NAMES)}"
            )
        return v

    @model_validator(mode="after")
    def _unique(self) -> Protocol:
        _refuse_repeats([c.id for c in self.eligibility], "criterion id(s) used twice")
        _refuse_repeats([a.name for a in self.taxonomy], "taxonomy axis name(s) used twice")
        return self

    def axis(self, name: str) -> Axis:
        for a in self.taxonomy:
            if a.name == name:
                return a
        from fmreview.errors import unknown_name

        raise unknown_name("taxonomy axis", name, [a.name for a in self.taxonomy])

    def criterion(self, cid: str) -> Criterion:
        for c in self.eligibility:
            if c.id == cid:
                return c
        from fmreview.errors import unknown_name

        raise unknown_name("criterion", cid, [c.id for c in self.eligibility])
