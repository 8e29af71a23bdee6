"""Sentence bounds for the extraction rules, the dataset-name finder and the full text.

A light splitter (``.``, ``!`` or ``?`` followed by a capital, digit or bracket) rather than a
tokenizer library: the rules need only where sentences start and end, on scientific
abstracts, and this keeps the extraction stage free of a language-model download.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text`` (a light splitter: ., ! or ? + capital)."""
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        out.append((start, m.start()))
        start = m.end()
    out.append((start, len(text)))
    return out
