"""Dataset names the gazetteer does not know, found by the way papers name datasets.

The gazetteer links the ~100 public datasets it lists; new papers use new ones
("ChiMed-VL", "RadVLBench", "CoNSeP"). These patterns find a name where the text says it
is a dataset:

- a name followed by *dataset / database / benchmark / challenge / corpus / cohort*
  ("the ChiMed-VL dataset", "RadVLBench benchmark");
- a list of names followed by *datasets / benchmarks* ("on the CoNSeP, MoNuSeg and TNBC
  datasets");
- a benchmark named as such ("M3CoTBench", "MedXpertQA-Bench");
- a name in apposition to a dataset: "RoMed, a dataset built upon ...", "RadVUQA, a novel
  ... benchmark", "we construct a database, MedSegDB, based on ...", "a dataset called X";
- a collection the work makes, named with its size ("we curate PMC-Caps, comprising 15
  million figure-caption pairs");
- a title naming what the work presents ("EHRXQA: A Multi-Modal Question Answering
  Dataset for ...");
- a name with its size in brackets ("ThyroScan2 (n = 1,204 patients)");
- names the work is evaluated or trained on ("experiments on RetiLes and FooScan",
  "evaluated on VinDr-CXR"), each an inner-capital or digit name that is not a model's;
- a challenge-style name with a year ("KiPA22", "LUMIERE2023") in a sentence about data or
  experiments (conference names such as MICCAI2023 excepted).

A *name* is one to four capitalised tokens of which one looks like a proper name: an inner
capital or a digit ("MoNuSeg", "KiTS19", "VQA-RAD"), or several capitalised words. Words
that are modalities, model names or plain English ("CT", "SAM", "Public") are not names.
Mentions the gazetteer can link are left to it; the others are *proposed* datasets: they
label the work (with the span as evidence) and :func:`fmreview.extract.store_io.proposed_datasets`
lists them for a person to add to the gazetteer.

Hand-written regular expressions: the patterns are few, need exact spans for evidence and
must run offline in milliseconds; a trained NER model would need labelled data we do not have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fmreview.extract.label import Span
from fmreview.extract.sentences import sentence_bounds

_TOKEN = r"[A-Z][A-Za-z0-9]*(?:[-_.+/][A-Za-z0-9]+)*(?:-[A-Z][A-Za-z0-9]*)*"
_NAME = rf"{_TOKEN}(?:\s+(?:{_TOKEN}|\({_TOKEN}\))){{0,6}}"
_PLAIN = rf"{_TOKEN}(?:\s+{_TOKEN}){{0,3}}"
_KIND = r"(?:data\s?set|database|benchmark|challenge|corpus|cohort)"
#: A list of names, each may have its article: "the BCSS and the CRAG datasets".
_NAMES = rf"{_TOKEN}(?:\s*,\s*(?:the\s+)?{_TOKEN})*,?\s+and\s+(?:the\s+)?{_TOKEN}"
_SINGLE = re.compile(rf"(?<![\w-])(?P<name>{_NAME})\s+{_KIND}\b")
#: A name with its kind capitalised, as proper names are written in running text: "the
#: JAMA Clinical Challenge", "the KiTS Challenge". One word must be an acronym or carry a
#: digit (so "Visual Question Answering Benchmark" is not a name); not in titles, where
#: every word is capitalised.
_SINGLE_CAPS = re.compile(
    rf"(?<![\w-])(?P<name>{_PLAIN})\s+(?:Data\s?[Ss]et|Database|Benchmark|Challenge|Corpus|"
    r"Cohort)s?\b"
)
#: A comma-separated list in brackets after the kind: "four datasets (BUSI, UDIAT, TN3K)".
_LIST_BRACKETED = re.compile(
    rf"\b{_KIND}s\b[^.;()]{{0,40}}?\(\s*(?P<names>{_TOKEN}(?:\s*[,;]\s*{_TOKEN})+)\s*\)"
)
_LIST = re.compile(rf"(?<![\w-])(?P<names>{_NAMES})\s+{_KIND}s\b")
_LIST_AFTER = re.compile(
    rf"\b{_KIND}s\b,?\s*(?:\(|namely|i\.e\.|e\.g\.|including|such as|:),?\s*"
    rf"(?:the\s+)?(?P<names>{_NAMES})"
)
_APPOSITION = re.compile(
    rf"(?<![\w-])(?P<name>{_PLAIN})\s+\((?P<abbr>{_TOKEN})\),?\s+(?:a|an|the)\s"
    rf"[^.;]{{0,100}}?\b{_KIND}\b"
)
_KIND_IN_SENTENCE = re.compile(rf"\b{_KIND}s?\b", re.IGNORECASE)
#: "RoMed, a dataset ...", "RadVUQA, a novel ... benchmark": the words between the article
#: and the kind describe it (no verb or preposition that would make them a model's).
_APPOSITION_PLAIN = re.compile(
    rf"(?<![\w-])(?P<name>{_TOKEN}),\s+(?:a|an|the)\s+(?P<desc>(?:[\w()&/-]+\s+){{0,8}}?)"
    rf"{_KIND}\b"
)
_DESC_STOP = re.compile(
    r"\b(?:of|on|for|with|from|using|by|to|that|which|trained|pretrained|pre-trained|"
    r"model|models|framework|method|approach|network|module|system|tool|pipeline)\b",
    re.IGNORECASE,
)
#: "a database, MedSegDB, based on", "a dataset called X", "a new dataset, named X,",
#: "a large dataset (MedImg-5M) of" after a verb of making one.
_CALLED = r"(?:called|named|termed|dubbed|coined)"
_NAMED_AFTER = re.compile(
    rf"\b{_KIND}s?(?:,\s*(?:{_CALLED}\s+)?|\s+{_CALLED}\s+|\s*\((?={_TOKEN}\)))(?:the\s+)?"
    rf"(?P<name>{_TOKEN})(?=\s*[,.;()]|\s+(?:which|that|with|of|consisting|containing|"
    rf"comprising|covering|including|based)\b)"
)
_MAKING = re.compile(
    r"\b(?:construct|build|built|introduce|curate|collect|release|present|propose|create|"
    r"develop|establish|compile|assemble)\w*",
    re.IGNORECASE,
)
#: Challenge-style names with a year: "KiPA22", "LUMIERE2023", "FeTA-2022".
_YEARED = re.compile(
    r"(?<![\w-])(?P<name>[A-Z][A-Za-z]*[A-Z][A-Za-z]*[-_]?(?:19|20)?[0-2]\d)(?![\w-])"
)
_CONFERENCE = re.compile(
    r"^(?:MICCAI|ISBI|CVPR|ICCV|ECCV|NeurIPS|NIPS|AAAI|IJCAI|MIDL|IPMI|ICLR|ICML|ACL|EMNLP|"
    r"NAACL|RSNA|SPIE|COVID|SARS|BMVC|WACV|ACM|IEEE|ICASSP|KDD)",
    re.IGNORECASE,
)
_EXPERIMENT_SENTENCE = re.compile(
    rf"\b{_KIND}s?\b|\b(?:experiment|evaluat|validat|test|benchmark|train)\w*",
    re.IGNORECASE,
)
_BARE_LIST = re.compile(rf"(?<![\w-])(?P<names>{_NAMES})(?![\w-])")
#: Name-like tokens that are models, not datasets ("SAM, MedSAM and SAM-Med2D").
_MODEL_LIKE = re.compile(
    r"SAM|CLIP|GPT|LLaVA|LLaMA|Net\b|ViT|BERT|[Ff]ormer|Mamba|DINO|MAE|BLIP|Flamingo|Qwen|"
    r"PaLM|Gemini|Diffusion|Seg\b|VLM|LLM"
)
#: A collection the work makes, named by its size: "we curate PMC-Caps, comprising 15
#: million figure-caption pairs", "we construct OphthoQA containing 12,000 question-answer
#: pairs". A model is not described by how many images it contains.
_SIZED = re.compile(
    rf"(?<![\w-])(?P<name>{_TOKEN}),?\s+(?:comprising|containing|consisting of|covering|"
    r"that (?:contains|comprises|includes))\s+(?:over |more than |about |nearly )?"
    r"[\d][\d,.]*\s*(?:million|thousand|[MKk])?\s+(?:[\w-]+\s+){0,3}?"
    r"(?:images?|pairs|cases|scans|patients|slides|WSIs|volumes|questions|samples|reports|"
    r"studies|videos|radiographs|examinations|exams|subjects|instructions|conversations)\b"
)
#: A name with its size in brackets: "MIMIC-CXR (377K images)", "ThyroScan2 (n = 1,204
#: patients)". A model's name is not followed by a count of images.
_SIZED_BRACKET = re.compile(
    rf"(?<![\w-])(?P<name>{_TOKEN})\s*\(\s*(?:n\s*=\s*)?[\d][\d,.]*\s*(?:million|[MKk])?\s+"
    r"(?:[\w-]+\s+){0,2}?(?:images?|pairs|cases|scans|patients|slides|WSIs|volumes|"
    r"questions|samples|reports|studies|videos|radiographs|examinations|exams|subjects)\b"
)
#: A title naming the dataset or benchmark the work presents: "EHRXQA: A Multi-Modal
#: Question Answering Dataset for ...", "CARES: A Comprehensive Benchmark of ...". The
#: words between the article and the kind describe it (no preposition, no "model"), and
#: the kind is not a modifier ("BenchX: A Unified Benchmark Framework" is a framework).
_TITLE_NAME = re.compile(
    rf"^(?P<name>{_TOKEN}(?:\s+{_TOKEN})?)\s*:\s*(?:(?:a|an|the)\s+)?"
    r"(?P<desc>(?:[\w&/-]+\s+){0,7}?)(?:data\s?set|benchmark|database|corpus)s?\b"
    r"(?!\s+(?:[\w-]+\s+)?(?:framework|system|model|method|toolkit|platform|suite)s?\b)",
    re.IGNORECASE,
)
_TITLE_DESC_STOP = re.compile(
    r"\b(?:of|on|for|with|from|using|by|to|via|and|towards?|model|models|framework|method|"
    r"approach|network)\b",
    re.IGNORECASE,
)
#: Names the work is evaluated or trained on, with no "dataset" after them: "experiments
#: on RetiLes and FooScan show", "evaluated on VinDr-CXR", "results on SkinCon". Each name
#: must look like a proper name (inner capital or digit) and not like a model's.
_EVAL_ON = re.compile(
    r"(?i:\b(?:experiments?|results?|evaluat\w*|validat\w*|tested|benchmark\w*|"
    r"performance|(?:pre-?)?trained|fine-?tuned))\b[^.;]{0,40}?\bon\s+(?:the\s+)?"
    rf"(?P<names>{_TOKEN}(?:\s*,\s*{_TOKEN})*(?:,?\s+and\s+{_TOKEN})?)(?![\w-])"
)
_BENCH = re.compile(r"(?<![\w-])(?P<name>[A-Z][A-Za-z0-9-]*Bench(?:mark)?)(?![\w-])")

#: Leading words that are not part of a name ("the X dataset").
_LEAD = {
    "the",
    "a",
    "an",
    "our",
    "this",
    "these",
    "those",
    "two",
    "three",
    "four",
    "five",
    "public",
    "publicly",
    "private",
    "in-house",
    "large",
    "new",
    "several",
    "multiple",
    "both",
    "each",
    "existing",
    "open",
    "novel",
    "real-world",
    "external",
    "internal",
    "benchmark",
    "on",
    "in",
    "of",
    "from",
    "using",
    "with",
    "and",
    "we",
    "its",
    "their",
    "curated",
    "proposed",
    "first",
    "comprehensive",
    "diverse",
    "medical",
    "clinical",
    "extensive",
    "challenging",
    "standard",
    "popular",
    "widely-used",
    "multi-center",
    "multicenter",
    "three-dimensional",
    "used",
}
#: Tokens that are never dataset names on their own (modalities, model names, words).
_NOT_NAMES = {
    "ct",
    "mri",
    "mr",
    "pet",
    "spect",
    "oct",
    "octa",
    "us",
    "cxr",
    "wsi",
    "wsis",
    "h&e",
    "x-ray",
    "sam",
    "sam2",
    "medsam",
    "clip",
    "gpt",
    "gpt-4",
    "gpt-4v",
    "llava",
    "llm",
    "llms",
    "mllm",
    "mllms",
    "vlm",
    "vlms",
    "lvlm",
    "vqa",
    "ai",
    "dl",
    "ssl",
    "vit",
    "cnn",
    "unet",
    "u-net",
    "imagenet-pretrained",
    "chinese",
    "english",
    "medical",
    "clinical",
    "public",
    "test",
    "training",
    "validation",
    "evaluation",
    "segmentation",
    "classification",
    "detection",
    "mask",
    "image",
    "images",
    "text",
    "report",
    "reports",
    "multi-modal",
    "multimodal",
    "benchmark",
    "dataset",
    "data",
    "our",
    "we",
    "the",
    "in",
    "on",
    "and",
    "with",
    "it",
    "this",
    "these",
    "two",
    "three",
    "large-scale",
    "open-source",
    "zero-shot",
    "few-shot",
    "covid-19",
    "covid19",
    "covid",
    "sars-cov-2",
}
#: A lower-case word that joins a name to the capitalised words before it: "Radiological
#: Visual Understanding and Question Answering benchmark" is not named "Question Answering".
_JOINERS = {"and", "of", "for", "&", "in", "on", "with", "to"}


@dataclass(frozen=True, slots=True)
class NameMention:
    """A dataset name found by a pattern, with its span."""

    name: str
    span: Span


def _looks_like_name(name: str) -> bool:
    tokens = [t.strip("()") for t in name.split() if t.strip("()")]
    if not tokens or any(t.lower() in _NOT_NAMES for t in tokens if len(tokens) == 1):
        return False
    if len(tokens) == 1:
        t = tokens[0]
        inner_cap = any(c.isupper() for c in t[1:])
        return (inner_cap or any(c.isdigit() for c in t)) and len(t) >= 3
    return all(t[0].isupper() for t in tokens) and not all(t.lower() in _NOT_NAMES for t in tokens)


#: Fields whose every word may be capitalised (titles): a capital "Dataset" names nothing.
HEADLINE_FIELDS = ("title", "keywords")


def _acronym(word: str) -> bool:
    """A word with a capital after its first letter or a digit ("JAMA", "KiTS", "CT2")."""
    return (
        len(word) >= 2
        and (any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word))
        and word.lower() not in _NOT_NAMES
    )


#: Modalities, organs and kinds of data: "the Ultrasound dataset" names no dataset.
_DOMAIN_WORDS = {
    "ultrasound",
    "fundus",
    "retina",
    "retinal",
    "dermoscopy",
    "endoscopy",
    "colonoscopy",
    "histopathology",
    "pathology",
    "histology",
    "cytology",
    "radiology",
    "mammography",
    "mammogram",
    "radiograph",
    "radiographs",
    "tomography",
    "microscopy",
    "chest",
    "brain",
    "breast",
    "lung",
    "liver",
    "kidney",
    "heart",
    "cardiac",
    "prostate",
    "skin",
    "polyp",
    "polyps",
    "tumor",
    "tumour",
    "cancer",
    "lesion",
    "organ",
    "cell",
    "nuclei",
    "abdominal",
    "abdomen",
    "thyroid",
    "dental",
    "knee",
    "spine",
    "pelvis",
    "eye",
    "whole",
    "entire",
    "full",
    "original",
    "same",
    "target",
    "source",
    "downstream",
    "pretraining",
    "instruction",
    "caption",
    "captioning",
    "video",
    "volume",
    "slide",
    "patch",
    "synthetic",
    "real",
    "hospital",
    "institutional",
    "local",
    "independent",
    "held-out",
    "unseen",
    "additional",
    "other",
    "another",
    "single",
    "combined",
    "merged",
    "final",
}
_NATIONALITY = re.compile(r"(?:ese|ish|ian|ean|can|ic)$")


def _plain_name(text: str, start: int, name: str) -> bool:
    """A single capitalised word right before "dataset" ("the Chaoyang dataset") is a name
    when nothing says it is a word: it does not start a sentence, is not a nationality
    ("Chinese") or a listed word, and the text never writes it in lower case."""
    if " " in name or len(name) < 4 or not name[0].isupper() or not name[1:].islower():
        return False
    low = name.lower()
    if low in _NOT_NAMES or low in _LEAD or low in _DOMAIN_WORDS or _NATIONALITY.search(low):
        return False
    if re.search(rf"\b{re.escape(low)}\b", text):  # the word in lower case elsewhere
        return False
    before = text[:start].rstrip()
    return bool(before) and before[-1] not in ".!?:"


def _joined(text: str, start: int, name: str) -> bool:
    """Whether a name of plain capitalised words continues a capitalised phrase through a
    joining word ("... Understanding and Question Answering"); names with inner capitals or
    digits ("R-Path", "BraTS21") stand on their own."""
    if " " not in name or any(c.isupper() or c.isdigit() for w in name.split() for c in w[1:]):
        return False
    m = re.search(r"([A-Z][\w-]*)\s+(\S+)\s+$", text[max(0, start - 60) : start])
    return m is not None and m.group(2).lower() in _JOINERS


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop leading filler words ("the", "public") from a matched name."""
    while start < end:
        m = re.match(r"(\S+)\s+", text[start:end])
        if m is None or m.group(1).lower() not in _LEAD:
            break
        start += m.end()
    return start, end


def find_names(text: str, field: str = "abstract") -> list[NameMention]:
    """Dataset names in ``text`` found by the patterns (not linked to the gazetteer)."""
    if not text:
        return []
    out: list[NameMention] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, plain_ok: bool = False) -> None:
        start, end = _trim(text, start, end)
        name = text[start:end].strip(" ,;:")
        if not name or _joined(text, start, name):
            return
        if not _looks_like_name(name) and not (plain_ok and _plain_name(text, start, name)):
            return
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        out.append(NameMention(name, Span(field, start, start + len(name), name)))

    for rx in (_LIST, _LIST_AFTER):
        for m in rx.finditer(text):
            base = m.start("names")
            for part in re.finditer(_TOKEN, m.group("names")):
                if part.group(0).lower() != "and":
                    add(base + part.start(), base + part.end(), plain_ok=rx is _LIST)
    if field in HEADLINE_FIELDS:
        t = _TITLE_NAME.match(text)
        if t and not _TITLE_DESC_STOP.search(t.group("desc")) and t.group("name")[0].isupper():
            add(t.start("name"), t.end("name"))
    for m in _LIST_BRACKETED.finditer(text):
        base = m.start("names")
        parts = list(re.finditer(_TOKEN, m.group("names")))
        if all(_looks_like_name(p.group(0)) for p in parts):
            for part in parts:
                add(base + part.start(), base + part.end())
    if field not in HEADLINE_FIELDS:
        for m in _SINGLE_CAPS.finditer(text):
            if any(_acronym(w) for w in m.group("name").split()):
                # a capital kind is part of the name ("the JAMA Clinical Challenge")
                end = m.end("name") if m.group(0).endswith("s") else m.end()
                add(m.start("name"), end)
    for m in _APPOSITION.finditer(text):
        add(m.start("name"), m.end("abbr") + 1)
    for m in _APPOSITION_PLAIN.finditer(text):
        if not _DESC_STOP.search(m.group("desc")) and not _MODEL_LIKE.search(m.group("name")):
            add(m.start("name"), m.end("name"))
            # the description spells the name out ("RadVUQA, a novel Radiological Visual
            # Understanding ... benchmark"): it is not a second name
            taken.append((m.start("desc"), m.end()))
    for m in _SINGLE.finditer(text):
        add(m.start("name"), m.end("name"), plain_ok=True)
    # a list of two or more proper names in a sentence that speaks of datasets
    for a, b in sentence_bounds(text):
        if not _KIND_IN_SENTENCE.search(text, a, b):
            continue
        for m in _BARE_LIST.finditer(text, a, b):
            parts = [p for p in re.finditer(_TOKEN, m.group("names")) if p.group(0) != "and"]
            if len(parts) < 2 or not all(
                _looks_like_name(p.group(0)) and not _MODEL_LIKE.search(p.group(0)) for p in parts
            ):
                continue
            for p in parts:
                add(m.start("names") + p.start(), m.start("names") + p.end())
    for m in _EVAL_ON.finditer(text):
        for p in re.finditer(_TOKEN, m.group("names")):
            if p.group(0) != "and" and not _MODEL_LIKE.search(p.group(0)):
                add(m.start("names") + p.start(), m.start("names") + p.end())
    for m in _SIZED_BRACKET.finditer(text):
        if not _MODEL_LIKE.search(m.group("name")):
            add(m.start("name"), m.end("name"))
    for m in _BENCH.finditer(text):
        add(m.start("name"), m.end("name"))
    bounds = sentence_bounds(text)
    for m in _NAMED_AFTER.finditer(text):
        a, b = next((a, b) for a, b in bounds if a <= m.start() <= b)
        if _MAKING.search(text, a, m.start()) and not _MODEL_LIKE.search(m.group("name")):
            add(m.start("name"), m.end("name"))
    for m in _SIZED.finditer(text):
        a, b = next((a, b) for a, b in bounds if a <= m.start() <= b)
        if _MAKING.search(text, a, m.start()) and not _MODEL_LIKE.search(m.group("name")):
            add(m.start("name"), m.end("name"))
    for a, b in bounds:
        if not _EXPERIMENT_SENTENCE.search(text, a, b):
            continue
        for m in _YEARED.finditer(text, a, b):
            nm = m.group("name")
            if not _CONFERENCE.match(nm) and not _MODEL_LIKE.search(nm):
                add(m.start("name"), m.end("name"))
    out.sort(key=lambda n: n.span.start or 0)
    return out
