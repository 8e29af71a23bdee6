"""Loading protocol files: YAML with line numbers in every validation error.

The YAML is composed into a node tree first (PyYAML keeps each node's start mark), so a
pydantic error location such as ``('taxonomy', 3, 'values', 2, 'patterns')`` is mapped back
to the line of that key in the file::

    protocol.yaml line 42: taxonomy[3].values[2].patterns[0]: pattern '(' is not a valid
    regular expression: missing ), unterminated subpattern at position 0
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fmreview.errors import ProtocolError
from fmreview.protocol.model import Protocol

FLAGSHIP = "fm-medical-imaging.yaml"

Loc = tuple[str | int, ...]


def flagship_path() -> Path:
    """The bundled flagship protocol (foundation models in medical image analysis)."""
    return Path(str(resources.files("fmreview") / "data" / "protocols" / FLAGSHIP))


# ----------------------------------------------------------------------------- YAML with marks
def _line_index(
    node: yaml.Node, loc: Loc = (), out: dict[Loc, int] | None = None
) -> dict[Loc, int]:
    """Map every key path in a composed YAML tree to its 1-based line.

    A mapping key's path points at the key's line (where a person looks for it); a sequence
    item's path at the item's first line.
    """
    out = {} if out is None else out
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.value)
            out[(*loc, name)] = key.start_mark.line + 1
            _line_index(value, (*loc, name), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*loc, i)] = item.start_mark.line + 1
            _line_index(item, (*loc, i), out)
    return out


def _format_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _value_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _refine_loc(data: Any, loc: Loc, msg: str) -> Loc:
    """Point at the list item a message names (validators on a list report the list)."""
    value = _value_at(data, loc)
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str) and repr(item) in msg:
                return (*loc, i)
    return loc


def _clean_msg(msg: str) -> str:
    return re.sub(r"^(Value error|Assertion failed), ", "", msg)


def _line_for(lines: dict[Loc, int], loc: Loc) -> int:
    # Walk up to the nearest located ancestor (a missing key has no line of its own).
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


def _parse(text: str, name: str) -> tuple[Any, dict[Loc, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        ctx = exc.context_mark
        if (
            exc.problem
            and exc.context
            and ctx is not None
            and (mark is None or ctx.line != mark.line)
        ):
            problem += f" ({exc.context} at line {ctx.line + 1})"
        raise ProtocolError(f"{name}{line}: {problem} (the file is not valid YAML)") from exc
    except yaml.YAMLError as exc:
        raise ProtocolError(f"{name}: not valid YAML: {exc}") from exc
    return data, (_line_index(node) if node is not None else {})


def validation_messages(
    exc: ValidationError, data: Any, lines: dict[Loc, int], name: str
) -> list[str]:
    """One ``FILE line N: key.path: message`` string per pydantic error."""
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = _clean_msg(str(err["msg"]))
        loc = _refine_loc(data, loc, msg)
        if err["type"] == "missing":
            out.append(f"{name} line {_line_for(lines, loc)}: {_format_loc(loc)}: {msg.lower()}")
            continue
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {str(loc[-1])!r} (check its spelling and indentation)"
        out.append(f"{name} line {_line_for(lines, loc)}: {_format_loc(loc)}: {msg}")
    return out


def parse_protocol(text: str, name: str = "protocol.yaml") -> Protocol:
    """Validate protocol YAML text; ``name`` is used in error messages."""
    data, lines = _parse(text, name)
    if not isinstance(data, dict):
        raise ProtocolError(
            f"{name}: a protocol is a YAML mapping (keys name, title, question, ...); "
            f"found {type(data).__name__}; start from: fmreview protocol new"
        )
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        messages = validation_messages(exc, data, lines, name)
        more = f" (and {len(messages) - 1} more error(s); run: fmreview protocol check {name})"
        error = ProtocolError(messages[0] + (more if len(messages) > 1 else ""))
        error.messages = messages  # type: ignore[attr-defined]
        raise error from None


def load_protocol(path: str | Path) -> Protocol:
    """Load and validate a protocol file.

    Raises
    ------
    ProtocolError
        With the file name, line and key path, e.g.
        ``protocol.yaml line 42: taxonomy[3].values[2].patterns[0]: pattern '(' is not ...``.
    """
    p = Path(path)
    if not p.exists():
        raise ProtocolError(
            f"protocol file {p} does not exist; write one with: fmreview protocol new {p}"
        )
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"cannot read protocol file {p}: {exc}") from exc
    return parse_protocol(text, str(p))


def protocol_errors(path: str | Path) -> list[str]:
    """Every validation error of a protocol file (empty when it is valid)."""
    try:
        load_protocol(path)
    except ProtocolError as exc:
        return list(getattr(exc, "messages", [str(exc)]))
    return []


def check_protocol(path: str | Path) -> list[str]:
    """Warnings about a protocol that validates but is probably not what its author meant.

    Raises :class:`ProtocolError` when it does not validate at all.
    """
    protocol = load_protocol(path)
    warnings: list[str] = []
    if not protocol.sources:
        warnings.append(
            "no sources: `fmreview search` will find nothing (add openalex, arxiv, ...)"
        )
    for name, src in protocol.sources.items():
        if isinstance(src.query, str) and not src.query.strip():
            warnings.append(f"sources.{name}.query is empty")
    if not protocol.eligibility:
        warnings.append(
            "no eligibility criteria: screening will rely on people and the ranker alone"
        )
    if protocol.date_range.start is None:
        warnings.append("date_range.start is not set: searches are not limited in time")
    names = {a.name for a in protocol.taxonomy}
    for axis in protocol.taxonomy:
        if axis.from_gazetteer:
            if protocol.gazetteer is None:
                warnings.append(
                    f"taxonomy axis {axis.name!r} uses the gazetteer, but no gazetteer is set"
                )
            continue
        if not axis.values:
            warnings.append(f"taxonomy axis {axis.name!r} has no values")
        for v in axis.values:
            if not v.synonyms and not v.patterns:
                warnings.append(
                    f"taxonomy {axis.name}.{v.name}: no synonyms or patterns, so rules never label it "
                    "(only people, lists, the classifier or an LLM can)"
                )
            for target, vals in v.implies.items():
                if target not in names:
                    warnings.append(
                        f"taxonomy {axis.name}.{v.name}: implies unknown axis {target!r}"
                    )
                    continue
                allowed = {x.name for x in protocol.axis(target).values}
                for val in [vals] if isinstance(vals, str) else vals:
                    if allowed and val not in allowed:
                        warnings.append(
                            f"taxonomy {axis.name}.{v.name}: implies {target}={val!r}, "
                            f"not a value of {target!r}"
                        )
            for pat in v.patterns:
                if re.search(pat, "", re.IGNORECASE) is not None:
                    warnings.append(
                        f"taxonomy {axis.name}.{v.name}: pattern {pat!r} matches empty text"
                    )
    if protocol.gazetteer is not None and protocol.gazetteer.file:
        gfile = Path(path).parent / protocol.gazetteer.file
        if not gfile.exists():
            warnings.append(f"gazetteer file {gfile} does not exist")
    return warnings


# ----------------------------------------------------------------------------- template
TEMPLATE = """\
# A review protocol for fmreview. Fill in the <...> parts, then check it with:
#   fmreview protocol check protocol.yaml
# Regular expressions ('patterns') are Python syntax, matched case-insensitively.
version: 1
name: <short-name-in-lowercase>          # e.g. ai-in-dermatology
title: <Title of the review>
question: >-
  <The review question, e.g. Which deep-learning models have been evaluated for ...?>
date_range:
  start: 2015-01-01                      # first publication date included
  # end: 2025-12-31
languages: [en]

sources:                                 # openalex, arxiv, pubmed, semantic_scholar, crossref
  openalex:
    query:
      search: '<"deep learning" AND dermoscopy>'
      filter: from_publication_date:2015-01-01
  pubmed:
    query: '<"deep learning"[tiab] AND dermoscopy[tiab]>'
  arxiv:
    enabled: false
    query: '<abs:"deep learning" AND abs:dermoscopy>'

eligibility:                             # each criterion: id, description, optional rule
  - id: E-DATE
    description: Published before the date range.
    stage: automation
    rule: {field: year, max: 2014}
  - id: E-REVIEW
    description: A review or survey, not a primary study.
    rule:
      fields: [title]
      any: ['\\bsurvey\\b', '\\bsystematic review\\b']
  - id: I-TOPIC
    action: include
    description: <What an included study is about.>
    rule:
      any: ['<pattern>']

taxonomy:                                # the axes every included study is classified on
  - name: <axis_name>                    # lowercase, e.g. modality
    description: <what the axis records>
    multi: true                          # several values per study allowed
    values:
      - name: <value_name>
        synonyms: [<synonym>, <another synonym>]
        patterns: ['<regular expression>']
  - name: datasets
    multi: true
    from_gazetteer: true                 # values are the gazetteer's datasets

# gazetteer:                             # a CSV with columns name, aliases ('a; b'), modality
#   file: datasets.csv                   # relative to this file

extraction:
  methods: [rule, model]                 # list, rule, model, llm
  min_confidence: 0.5

analyses:
  first_year: 2015
  events: []                             # e.g. - {name: Some release, date: 2023-04-05}
"""


def template_text() -> str:
    """A commented protocol template for another field (``fmreview protocol new``)."""
    return TEMPLATE
