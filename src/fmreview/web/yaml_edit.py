"""Set values in the text of a YAML file, keeping everything else as it was written.

A protocol amendment changes a handful of settings; the rest of the file — comments, key
order, quoting, folded text, line breaks — must stay as its authors wrote it, so that a diff
of the file shows the amendment and nothing else. :func:`update_text` does that in three
ways, the first that works:

1. **in place**: PyYAML's node marks give the position of each value in the text; a value
   is replaced where it stands (a one-line scalar or flow collection; a block collection
   becomes a one-line flow one), a missing key is inserted as new lines after the last
   line of its mapping, at the indentation of that mapping's keys;
2. **ruamel.yaml** round trip (when installed): comments and key order are kept, but some
   layout may change (long flow lists spread over several lines are joined);
3. **PyYAML** dump of the data: comments are lost (the result says so).

Every result is checked: the new text must load to exactly the old data with the changes
applied, else the next way is tried.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str, ...]


class CannotEdit(Exception):
    """The text's layout is not one :func:`edit` changes in place."""


# ----------------------------------------------------------------------------- data
def apply(data: Any, changes: Mapping[Path, Any]) -> Any:
    """A deep copy of ``data`` with each key path set to its value (mappings are created)."""
    out = copy.deepcopy(data)
    for path, value in changes.items():
        node = out
        for key in path[:-1]:
            nxt = node.get(key)
            if not isinstance(nxt, dict):
                nxt = node[key] = {}
            node = nxt
        node[path[-1]] = copy.deepcopy(value)
    return out


def flow(value: Any) -> str:
    """``value`` as one line of YAML (a plain or quoted scalar, or a flow collection)."""
    text = yaml.safe_dump(
        value, default_flow_style=True, width=10**9, sort_keys=False, allow_unicode=True
    )
    text = text.removesuffix("\n")
    return text.removesuffix("\n...").rstrip("\n")


# ----------------------------------------------------------------------------- in place
def _compose(text: str) -> MappingNode:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, MappingNode) or root.flow_style or not root.value:
        raise CannotEdit("the document is not a non-empty block mapping")
    return root


def _find(mapping: MappingNode, key: str) -> tuple[Node, Node] | None:
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k, v
    return None


def _last_line(node: Node) -> int:
    """0-based index of the last line a node's text occupies."""
    if isinstance(node, MappingNode | SequenceNode) and not node.flow_style and node.value:
        last = node.value[-1]
        return _last_line(last[1] if isinstance(last, tuple) else last)
    end = node.end_mark
    return end.line if end.column > 0 or end.line == node.start_mark.line else end.line - 1


def _line_end(text: str, line: int) -> int:
    """Index just past the newline ending ``line`` (the text's end for its last line)."""
    pos = 0
    for _ in range(line + 1):
        nl = text.find("\n", pos)
        if nl < 0:
            return len(text)
        pos = nl + 1
    return pos


def _one_line(node: Node) -> bool:
    return (
        node.start_mark.line == node.end_mark.line and node.start_mark.index < node.end_mark.index
    )


def _replace(text: str, key: Node, value: Node, new: Any) -> str:
    if isinstance(value, ScalarNode):
        if value.style in ("|", ">") or not _one_line(value):
            raise CannotEdit(f"{key.value!r} holds a multi-line or empty scalar")
        return text[: value.start_mark.index] + flow(new) + text[value.end_mark.index :]
    if value.flow_style:  # type: ignore[attr-defined]
        if not _one_line(value):
            raise CannotEdit(f"{key.value!r} holds a flow collection over several lines")
        return text[: value.start_mark.index] + flow(new) + text[value.end_mark.index :]
    # a block collection: "key:<rest of its lines>" becomes "key: {flow}"
    end = _line_end(text, _last_line(value))
    tail = "\n" if text[:end].endswith("\n") else ""
    return text[: key.end_mark.index] + ": " + flow(new) + tail + text[end:]


def _insert(text: str, mapping: MappingNode, rest: Path, value: Any) -> str:
    if mapping.flow_style or not mapping.value:
        raise CannotEdit("the mapping to add to is a flow or empty one")
    col = mapping.value[0][0].start_mark.column
    lines = []
    for depth, key in enumerate(rest):
        pad = " " * (col + 2 * depth)
        last = depth == len(rest) - 1
        lines.append(f"{pad}{flow(key)}:" + (f" {flow(value)}" if last else ""))
    at = _line_end(text, _last_line(mapping))
    head = text[:at] if not at or text[at - 1] == "\n" else text[:at] + "\n"
    return head + "\n".join(lines) + "\n" + text[at:]


def _edit_one(text: str, path: Path, value: Any) -> str:
    node: MappingNode = _compose(text)
    for depth, key in enumerate(path):
        pair = _find(node, key)
        if pair is None:
            return _insert(text, node, path[depth:], value)
        k, v = pair
        if depth == len(path) - 1:
            return _replace(text, k, v, value)
        if isinstance(v, MappingNode) and v.flow_style:
            # e.g. "stopping: {rule: knee}": rewrite that one-line mapping whole
            sub = yaml.safe_load(text[v.start_mark.index : v.end_mark.index])
            return _replace(text, k, v, apply(sub, {path[depth + 1 :]: value}))
        if not isinstance(v, MappingNode):
            raise CannotEdit(f"{'.'.join(path[: depth + 1])} is not a mapping")
        node = v
    raise CannotEdit("empty key path")  # pragma: no cover - paths are never empty


def edit(text: str, changes: Mapping[Path, Any]) -> str:
    """``text`` with each key path set to its value, changed in place (see the module doc).

    Raises
    ------
    CannotEdit
        When the layout is not one handled in place, or the result would not load to the
        intended data.
    """
    new = text
    try:
        for path, value in changes.items():
            new = _edit_one(new, path, value)
        ok = yaml.safe_load(new) == apply(yaml.safe_load(text), changes)
    except yaml.YAMLError as exc:
        raise CannotEdit(f"the edited text is not valid YAML: {exc}") from exc
    if not ok:
        raise CannotEdit("the edited text does not load to the intended data")
    return new


# ----------------------------------------------------------------------------- ruamel
def _ruamel(text: str, changes: Mapping[Path, Any]) -> str | None:
    """Round-trip the text through ruamel.yaml (a required dependency): comments kept, some
    line breaks changed."""
    best: tuple[int, str] | None = None
    # the indentation that reproduces the unchanged file best
    for mapping, sequence, offset in ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 6, 4)):
        rt = YAML(typ="rt")
        rt.preserve_quotes = True
        rt.width = 4096
        rt.indent(mapping=mapping, sequence=sequence, offset=offset)
        data = rt.load(text)
        same = io.StringIO()
        rt.dump(data, same)
        score = sum(
            a != b for a, b in zip(same.getvalue().splitlines(), text.splitlines(), strict=False)
        )
        for path, value in changes.items():
            node = data
            for key in path[:-1]:
                if not isinstance(node.get(key), dict):
                    node[key] = CommentedMap()
                node = node[key]
            node[path[-1]] = copy.deepcopy(value)
        out = io.StringIO()
        rt.dump(data, out)
        if best is None or score < best[0]:
            best = (score, out.getvalue())
    return None if best is None else best[1]


def update_text(text: str, changes: Mapping[Path, Any]) -> tuple[str, str]:
    """The new text and how it was made: ``in place`` (only the changed values rewritten) or
    ``ruamel.yaml`` (comments kept, some layout changed).

    Raises
    ------
    CannotEdit
        When neither way gives a text that loads to the intended data; the file is then left
        as it is (a rewrite that drops the protocol's comments is never made).
    """
    try:
        return edit(text, changes), "in place"
    except CannotEdit:
        pass
    want = apply(yaml.safe_load(text), changes)
    new = _ruamel(text, changes)
    if new is not None and yaml.safe_load(new) == want:
        return new, "ruamel.yaml"
    raise CannotEdit(
        "the protocol file could not be rewritten with its comments kept; edit it by hand "
        "and run `fmreview protocol check`"
    )
