"""The name of the model a study proposes, read from its title or abstract.

The curated lists name the model of about a quarter of the flagship's studies; the others
often name it in the title ("CLIPath: Fine-tune CLIP ...", "SAM-Med2D") or in the abstract
("we propose X, a ...", "termed X"). :func:`model_name` finds it with fixed rules, in this
order (the first that fires wins):

1. ``title`` - the title opens with ``Name: subtitle`` and *Name* is one coined token:
   a capital after its first letter (``CLIPath``, ``TRRG``), a digit (``Med3d``), a hyphen
   joining parts (``SAM-Med2D``, not ``Self-Supervised``) or a trailing ``+``
   (``SGT++``). A plain English word or phrase (``Review:``, ``Segment Anything:``) is
   never a name.
2. ``title`` - a coined token in parentheses right after a head noun: ``... foundation
   model (NAME)``, ``framework (NAME)``, ``network (NAME)``.
3. ``abstract`` - "we propose / present / introduce / develop NAME, a ...", "termed /
   named / dubbed / called NAME", or a head-noun parenthesis in a sentence that proposes.

Names of the base models a study builds on (SAM, CLIP, GPT-4V, LLaVA, ...) and generic
acronyms (LLM, VLM, VQA, CT) are never proposed: "Adapting Segment Anything Model (SAM)"
names no new model. The rules have no tuned threshold; they were written from the
grammar of titles, not fitted to the snapshot.

Hand-written rather than a library: an abbreviation detector (Schwartz-Hearst, as in
scispacy) pairs every acronym with its expansion, but does not tell the model a study
proposes from a dataset or a base model it uses; that choice is what these rules make.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ModelName", "is_coined", "model_name", "same_name"]


@dataclass(frozen=True)
class ModelName:
    """A model name with where it was read: ``field`` (title/abstract) and the span."""

    name: str
    field: str
    text: str
    rule: str

    def evidence(self) -> str:
        """``"field: span"``, as the atlas shows it."""
        return f"{self.field}: {self.text}"


#: models and terms studies build on or evaluate, not the model they propose (upper-cased,
#: separators removed; see :func:`_key`)
_BASE = {
    "SAM", "SAM2", "MEDSAM", "CLIP", "GPT", "GPT4", "GPT4V", "GPT4O", "CHATGPT", "LLAMA",
    "LLAVA", "BERT", "VIT", "MAE", "DINO", "DINOV2", "LORA", "UNET", "NNUNET", "BLIP",
    "BLIP2", "LLM", "LLMS", "VLM", "VLMS", "MLLM", "MLLMS", "LVLM", "LVLMS", "LMM", "LMMS",
    "FM", "FMS", "VFM", "VFMS", "AI", "AGI", "CNN", "CNNS", "VQA", "MEDVQA", "RRG", "MRG",
    "CT", "MRI", "PET", "OCT", "OCTA", "WSI", "WSIS", "CXR", "HE", "NLP", "SSL", "MIL",
    "RAG", "COT", "RL", "GAN", "GANS", "3D", "2D", "25D", "VS", "Q&A", "QA",
}  # fmt: skip

#: first parts of English compound adjectives: "Self-Supervised:" is no coined name
_COMPOUND = {
    "self", "semi", "multi", "cross", "non", "pre", "post", "co", "re", "anti", "inter",
    "intra", "zero", "few", "one", "two", "three", "fine", "large", "small", "high", "low",
    "long", "short", "well", "state", "end", "real", "open", "data", "label", "task",
    "domain", "knowledge", "text", "image", "vision", "language", "deep", "weakly",
    "fully", "human", "expert", "all", "uncertainty", "prompt", "class", "context", "slide",
    "patch", "region", "report", "visual", "in", "out", "under", "over", "x",
}  # fmt: skip

#: last parts of English compound adjectives: "CLIP-based" is no name either
_SUFFIX = {
    "based", "like", "aware", "guided", "free", "driven", "level", "wise", "specific",
    "agnostic", "supervised", "shot", "grained", "scale", "centric", "oriented", "enhanced",
    "augmented", "assisted", "powered", "style", "only", "ready", "tuned", "adapted",
}  # fmt: skip

_TOKEN = r"[A-Za-z0-9][A-Za-z0-9+\-.^]*[A-Za-z0-9+]|[A-Z0-9]"
_HEAD = (
    r"(?:foundation\s+model|language\s+model|model|framework|network|net|method|approach|"
    r"pipeline|architecture|system|assistant|transformer|adapter|agent|encoder|toolkit)"
)
_LEADING = re.compile(rf"^\s*(?P<name>{_TOKEN})\s*(?:\([^)]*\))?\s*:\s+\S")
#: "Medical SAM Adapter: ...": Title Case words before the colon, one of them coined
_LEADING_PHRASE = re.compile(
    rf"^\s*(?P<name>(?:{_TOKEN})(?:\s+(?:{_TOKEN}))+)\s*(?:\([^)]*\))?\s*:\s+\S"
)
#: Title Case words that make a leading phrase a sentence, not a name
_PHRASE_STOP = {
    "when", "meets", "meet", "is", "are", "can", "does", "do", "vs", "versus", "towards",
    "toward", "beyond", "rethinking", "revisiting", "how", "what", "why", "where", "on",
    "in", "of", "for", "with", "and", "or", "the", "a", "an", "to", "via", "be", "not",
    "into", "from", "at", "by", "as", "through", "using", "leveraging", "exploring",
    "evaluating", "adapting", "benchmarking", "assessing", "segment", "anything", "any",
}  # fmt: skip
_PAREN = re.compile(rf"\b{_HEAD}\s*\((?P<name>{_TOKEN})\)", re.IGNORECASE)
_PROPOSE = re.compile(
    r"\b(?:we|this\s+(?:paper|work|study))\s+(?:\w+ly\s+)?"
    r"(?:propose|proposes|present|presents|introduce|introduces|develop|develops|"
    r"build|builds|release|releases|design|designs)\b"
    rf"\s+(?P<name>{_TOKEN})\s*(?:,|\(|:|-{{1,2}}|—|which\b|that\b)",
    re.IGNORECASE,
)
_TERMED = re.compile(
    r"\b(?:termed|named|dubbed|called|coined)\s+[\"'“‘]?"
    rf"(?P<name>{_TOKEN})[\"'”’]?",
    re.IGNORECASE,
)
_PROPOSING = re.compile(
    r"\b(?:we|this\s+(?:paper|work|study))\s+(?:\w+ly\s+)?"
    r"(?:propose|present|introduce|develop|build|release|design)",
    re.IGNORECASE,
)
#: "we introduce our medical MLLM: Lingshu", "a pathology foundation model, PathX,"
_NAMED_HEAD = re.compile(
    rf"(?i:\b{_HEAD}|\bm?llms?|\b[lv]?vlms?|\blmms?)\s*[:,]\s+(?P<name>{_TOKEN})(?=[\s,.;:(])"
)
#: capitalised words that open a clause, never a name even where one is announced
_NOT_A_NAME = {
    "The", "This", "These", "That", "Our", "Its", "Their", "Such", "Two", "Three",
    "Several", "Both", "Each", "Novel", "New", "First", "Here", "Specifically", "Finally",
    "Moreover", "Furthermore", "Additionally", "Therefore", "Thus", "Medical", "Foundation",
    "Which", "While", "When", "Where", "With", "And", "But", "For", "From", "Using",
}  # fmt: skip
#: a title whose subtitle announces a data set or benchmark names no model
_DATA_SUBTITLE = re.compile(
    r"^(?:(?:a|an|the)\s+)?(?:[\w\-,]+\s+){0,5}?"
    r"(?:benchmark|dataset|data\s+set|corpus|database|archive|examination)s?\b",
    re.IGNORECASE,
)
_MODEL_WORD = re.compile(r"\b(?:model|method|framework|network|assistant)s?\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _key(name: str) -> str:
    return re.sub(r"[\s\-_/.${}^]+", "", name).upper()


def _variants(name: str) -> set[str]:
    """``"BenTsao (HuaTuo)"`` -> both names; ``"LLaVA-Med | LLaVa-Med"`` -> each."""
    parts = re.split(r"\s*(?:[|/()])\s*", name)
    return {_key(p) for p in parts if _key(p)}


def same_name(a: str, b: str) -> bool:
    """``True`` when two names agree up to case and separators, on any listed variant.

    >>> same_name("M2F", "${M^2F}$"), same_name("HuaTuo", "BenTsao (HuaTuo)")
    (True, True)
    >>> same_name("LinkBERT", "BioLinkBERT")
    False
    """
    return bool(_variants(a) & _variants(b))


def is_coined(token: str) -> bool:
    """A token that reads as a coined name rather than an English word.

    >>> [is_coined(t) for t in ("CLIPath", "Med3d", "SAM-Med2D", "SGT++", "Review")]
    [True, True, True, True, False]
    >>> is_coined("Self-Supervised"), is_coined("TRRG"), is_coined("A")
    (False, True, False)
    """
    if len(token) < 2 or not re.search(r"[A-Za-z]", token):
        return False
    parts = [p for p in token.split("-") if p]
    # a capital inside a part: "Self-Supervised" is Title Case, "SAM-Med2D" is coined
    if any(re.search(r"[A-Z]", p[1:]) for p in parts):
        return True
    if re.search(r"\d", token) or token.endswith("+"):
        return True
    return len(parts) > 1 and parts[0].lower() not in _COMPOUND


def _candidate(name: str, *, announced: bool = False) -> str | None:
    """``name`` if it can be a proposed model's name; ``announced``: the text presents it
    as one ("we propose X, a ...", "our MLLM: X"), so a capitalised word (``Lingshu``)
    counts."""
    name = name.strip().rstrip(".")
    plain_name = announced and re.fullmatch(r"[A-Z][a-z]{2,}", name) and name not in _NOT_A_NAME
    if not (is_coined(name) or plain_name) or _key(name) in _BASE:
        return None
    if "-" in name and name.rsplit("-", 1)[1].lower() in _SUFFIX:
        return None
    return name


def _is_name_phrase(phrase: str) -> bool:
    """Every word capitalised (or a number), none a function word or verb of a sentence,
    at least one coined and not a base model: ``Medical SAM Adapter``, ``Surgical SAM 2``.
    """
    words = phrase.split()
    if any(w.lower() in _PHRASE_STOP or not (w[0].isupper() or w[0].isdigit()) for w in words):
        return False
    return any(_candidate(w) for w in words) or (
        any(is_coined(w) for w in words) and _key(phrase) not in _BASE
    )


def _from_title(title: str) -> ModelName | None:
    if re.fullmatch(_TOKEN, title.strip()) and (name := _candidate(title)):
        return ModelName(name, "title", title.strip(), "whole title")
    m = _LEADING.match(title)
    subtitle = title[m.end() - 1 :] if m else ""
    if _DATA_SUBTITLE.match(subtitle) and not _MODEL_WORD.search(subtitle):
        m = None  # "WorldMedQA-V: a multilingual ... examination dataset"
    if m and (name := _candidate(m.group("name"))):
        return ModelName(name, "title", title[: m.end() - 1].strip(), "leading name")
    if m is None and (p := _LEADING_PHRASE.match(title)) and _is_name_phrase(p["name"]):
        subtitle = title[p.end() - 1 :]
        if not (_DATA_SUBTITLE.match(subtitle) and not _MODEL_WORD.search(subtitle)):
            return ModelName(p["name"], "title", title[: p.end() - 1].strip(), "leading phrase")
    for m in _PAREN.finditer(title):
        if name := _candidate(m.group("name")):
            return ModelName(name, "title", m.group(0), "head noun (NAME)")
    return None


def _from_abstract(abstract: str) -> ModelName | None:
    for sentence in _SENTENCE.split(abstract):
        # "termed Universal Model": a plain word after "termed" may open a longer name
        for rx, rule, announced in (
            (_PROPOSE, "we propose NAME", True),
            (_TERMED, "termed NAME", False),
        ):
            for m in rx.finditer(sentence):
                rest = sentence[m.end() :].lstrip(" ,:-—(")
                if _DATA_SUBTITLE.match(rest) and not _MODEL_WORD.search(rest[:60]):
                    continue  # "we introduce EHRXQA, a ... dataset"
                if name := _candidate(m.group("name"), announced=announced):
                    return ModelName(name, "abstract", m.group(0).strip(), rule)
        if _PROPOSING.search(sentence):
            for m in _NAMED_HEAD.finditer(sentence):
                if name := _candidate(m.group("name"), announced=True):
                    return ModelName(name, "abstract", m.group(0), "head noun: NAME")
            for m in _PAREN.finditer(sentence):
                if name := _candidate(m.group("name")):
                    return ModelName(name, "abstract", m.group(0), "head noun (NAME)")
    return None


def model_name(title: str, abstract: str = "") -> ModelName | None:
    """The model a study proposes, from its title, else its abstract; ``None`` if unnamed.

    >>> model_name("CLIPath: Fine-tune CLIP for pathology").name
    'CLIPath'
    >>> model_name("Segment Anything: a review") is None
    True
    >>> model_name("Prompt tuning", "We propose PathTune, a method for ...").evidence()
    'abstract: We propose PathTune,'
    """
    return _from_title(title or "") or _from_abstract(abstract or "")
