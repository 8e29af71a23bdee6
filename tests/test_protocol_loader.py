"""Protocol files: validation errors name the line and the key; the template; warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmreview.errors import ProtocolError
from fmreview.protocol import (
    Protocol,
    check_protocol,
    load_protocol,
    parse_protocol,
    protocol_errors,
    template_text,
)

GOOD = """\
version: 1
name: tiny
title: Tiny review
question: Does it work?
taxonomy:
  - name: colour
    multi: false
    values:
      - name: red
        synonyms: [crimson]
        patterns: ['\\bred\\b']
      - name: blue
        patterns: ['\\bblue\\b']
"""


def write(tmp_path: Path, text: str, name: str = "protocol.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_a_valid_protocol_loads(tmp_path: Path) -> None:
    p = load_protocol(write(tmp_path, GOOD))
    assert isinstance(p, Protocol)
    assert p.axis("colour").values[0].synonyms == ["crimson"]


def test_bad_regex_names_line_and_key_path(tmp_path: Path) -> None:
    text = GOOD.replace("patterns: ['\\bblue\\b']", "patterns: ['\\bblue\\b', '(']")
    path = write(tmp_path, text)
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    msg = str(info.value)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "'('" in ln)
    assert msg.startswith(f"{path} line {line}: taxonomy[0].values[1].patterns[1]: ")
    assert "pattern '(' is not a valid regular expression" in msg


def test_bad_regex_in_block_list_points_at_the_item(tmp_path: Path) -> None:
    text = GOOD.replace(
        "patterns: ['\\bblue\\b']", "patterns:\n          - 'ok'\n          - '[unclosed'"
    )
    path = write(tmp_path, text)
    errors = protocol_errors(path)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "[unclosed" in ln)
    assert len(errors) == 1
    assert errors[0].startswith(
        f"{path} line {line}: taxonomy[0].values[1].patterns[1]: "
        "pattern '[unclosed' is not a valid regular expression: unterminated character set"
    )


def test_unknown_key_is_named_with_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("    multi: false\n", "    multi: false\n    mutli: true\n")
    path = write(tmp_path, text)
    errors = protocol_errors(path)
    assert len(errors) == 1
    assert errors[0] == (
        f"{path} line 8: taxonomy[0].mutli: unknown key 'mutli' (check its spelling and indentation)"
    )


def test_wrong_type_and_missing_key(tmp_path: Path) -> None:
    text = GOOD.replace("question: Does it work?\n", "").replace("multi: false", "multi: often")
    path = write(tmp_path, text)
    errors = protocol_errors(path)
    assert any(e.startswith(f"{path} line 1: question: field required") for e in errors), errors
    multi = next(e for e in errors if "taxonomy[0].multi" in e)
    assert multi.startswith(f"{path} line 6: taxonomy[0].multi:")
    with pytest.raises(ProtocolError, match=r"and 1 more error"):
        load_protocol(path)


def test_model_level_errors_point_at_the_axis(tmp_path: Path) -> None:
    text = GOOD.replace("      - name: blue\n", "      - name: red\n")
    path = write(tmp_path, text)
    (err,) = protocol_errors(path)
    assert err == f"{path} line 6: taxonomy[0]: axis 'colour' lists value(s) twice: red"


def test_unknown_source_lists_the_available_ones(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "sources:\n  scopus:\n    query: x\n")
    (err,) = protocol_errors(path)
    assert "line 14: sources: unknown source(s) scopus; available: openalex, arxiv" in err


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "analyses: [unclosed\n")
    with pytest.raises(ProtocolError) as info:
        load_protocol(path)
    assert str(info.value).startswith(f"{path} line 15: expected ',' or ']'")
    assert "(while parsing a flow sequence at line 14)" in str(info.value)
    assert str(info.value).endswith("(the file is not valid YAML)")


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="a protocol is a YAML mapping"):
        parse_protocol("- a\n- b\n", "x.yaml")
    with pytest.raises(
        ProtocolError, match="does not exist; write one with: fmreview protocol new"
    ):
        load_protocol(tmp_path / "nope.yaml")


def test_template_does_not_load_until_filled_in(tmp_path: Path) -> None:
    path = write(tmp_path, template_text())
    errors = protocol_errors(path)
    assert errors and errors[0].startswith(f"{path} line 5: name: ")


def fill_template(text: str) -> str:
    repl = {
        "<short-name-in-lowercase>": "ai-dermatology",
        "<Title of the review>": "AI in dermatology",
        "<The review question, e.g. Which deep-learning models have been evaluated for ...?>": "Which models?",
        '<"deep learning" AND dermoscopy>': '"deep learning" AND dermoscopy',
        '<"deep learning"[tiab] AND dermoscopy[tiab]>': '"deep learning"[tiab] AND dermoscopy[tiab]',
        '<abs:"deep learning" AND abs:dermoscopy>': 'abs:"deep learning" AND abs:dermoscopy',
        "<What an included study is about.>": "Deep learning on skin images.",
        "<pattern>": "\\\\bdermoscop",
        "<axis_name>": "modality",
        "<what the axis records>": "imaging modality",
        "<value_name>": "dermoscopy",
        "<synonym>": "dermatoscopy",
        "<another synonym>": "epiluminescence microscopy",
        "<regular expression>": "\\\\bdermoscop\\\\w*",
    }
    for k, v in repl.items():
        assert k in text, k
        text = text.replace(k, v)
    assert "<" not in text.replace("<...>", "")
    return text


def test_template_loads_after_filling_in(tmp_path: Path) -> None:
    path = write(tmp_path, fill_template(template_text()))
    p = load_protocol(path)
    assert p.name == "ai-dermatology"
    assert p.axis("modality").values[0].synonyms == ["dermatoscopy", "epiluminescence microscopy"]
    assert p.criterion("E-DATE").rule is not None
    assert p.axis("datasets").from_gazetteer
    assert check_protocol(path) == [
        "taxonomy axis 'datasets' uses the gazetteer, but no gazetteer is set"
    ]


def test_check_protocol_warnings(tmp_path: Path) -> None:
    text = GOOD + "      - name: green\n"
    text = text.replace("patterns: ['\\bblue\\b']", "patterns: ['x*']")
    warnings = check_protocol(write(tmp_path, text))
    assert "no sources: `fmreview search` will find nothing (add openalex, arxiv, ...)" in warnings
    assert any("colour.green: no synonyms or patterns" in w for w in warnings)
    assert any("colour.blue: pattern 'x*' matches empty text" in w for w in warnings)
    assert any("date_range.start is not set" in w for w in warnings)


def test_implies_unknown_axis_is_a_warning(tmp_path: Path) -> None:
    text = GOOD.replace(
        "        synonyms: [crimson]\n",
        "        synonyms: [crimson]\n        implies: {mood: angry}\n",
    )
    warnings = check_protocol(write(tmp_path, text))
    assert "taxonomy colour.red: implies unknown axis 'mood'" in warnings
