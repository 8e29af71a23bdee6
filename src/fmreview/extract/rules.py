"""Rule extraction: the protocol's synonyms and patterns, and the gazetteer, label a work.

Every label carries the spans that matched (``{field, start, end, text}``) and a rule
confidence:

- a match in the title counts 0.85, in the keywords 0.8, in the abstract 0.7, in full text
  0.6 (a word in the title is about the work; a word in the abstract may be a comparison);
- each further distinct match adds 0.04, up to 0.97;
- on a single-valued axis the value with the highest ``priority`` wins, then the highest
  confidence; when values of equal priority compete the winner's confidence is multiplied
  by 0.85 (ambiguity);
- a value's ``implies`` adds labels on other axes at 0.8 times its confidence, with the
  same evidence, unless that axis already has the value from its own rules.

Abstain rather than guess. On a multi-valued axis a value is labelled when the title or
keywords name it, or when the abstract (or full text) names it in at least
:data:`MIN_SENTENCES` sentences, or in more sentences than any other value of the axis
(ties included). A sentence about other work ("SAM has shown ...", "on natural images") is
background and does not count, nor does a mention of other work within a clause
("inspired by the success of large language models", "unlike CLIP") or a negated one
("without paired reports"), nor, on the axes describing the work's own model, a model
named as a baseline ("outperforms CLIP and GPT-4V"). So an abstract that
lists classification, detection and segmentation as what foundation models can do, and
then segments, is labelled segmentation only. Two exceptions: modalities named together
in one sentence stand together ("chest X-rays and breast ultrasound images"), and a
sentence listing the work's own evaluation tasks ("we evaluate on downstream tasks
including retrieval and zero-shot classification") counts like the title.

Texts are matched with hyphen-like characters (en dash, non-breaking hyphen) read as
"-"; evidence keeps the text as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fmreview.extract.gazetteer import DatasetGazetteer
from fmreview.extract.label import Label, Span
from fmreview.extract.mentions import find_names
from fmreview.extract.sentences import sentence_bounds
from fmreview.protocol.model import Axis, Protocol

FIELD_WEIGHT = {"title": 0.85, "keywords": 0.8, "abstract": 0.7, "fulltext": 0.6}
STEP = 0.04
CAP = 0.97
AMBIGUITY = 0.85
IMPLIED = 0.8
MAX_SPANS = 5
#: Sentences of the abstract / full text a value needs when the title does not name it and
#: another value of the axis is named more often; per axis, else :data:`MIN_SENTENCES`.
#: Chosen among 1, 2, 3 on the even lines of the labelled abstracts only (task F1 0.865,
#: 0.889, 0.898; themes 0.806, 0.702, 0.679; the rest tie or prefer 2); the odd lines are
#: the held-out check (``benchmarks/extraction.py``).
MIN_SENTENCES = 2
MIN_SENTENCES_BY_AXIS = {"task": 3, "themes": 1}
#: Axes on which values named together in one sentence stand together: "chest X-rays and
#: breast ultrasound images" names two modalities however often each recurs. Not tasks:
#: "classification, detection and segmentation" is how abstracts list what FMs can do.
COORDINATED_AXES = ("modality",)
#: Axes whose values count in full when a sentence says they are what the work itself was
#: evaluated on (first person and "tasks" / "downstream": "we evaluate on three downstream
#: tasks: retrieval, zero-shot classification and subtyping").
TASK_LIST_AXES = ("task",)
#: Axes the full text may label (methods/experiments sections; see ``fulltext``): the
#: other axes are about how the work presents itself, which title and abstract say.
FULLTEXT_AXES = ("modality", "task", "datasets")
#: Fields whose every match counts (they are about the work itself).
HEADLINE_FIELDS = ("title", "keywords")
_BACKGROUND = re.compile(
    r"\b(has|have|had) (been )?(shown|demonstrated|achieved|emerged|gained|attracted|"
    r"revolutioni[sz]ed|transformed|exhibited|made)\b|\bnatural (images?|scenes?|domain)\b|"
    r"\bgeneral[- ]domain\b|\bnatural[- ]image\b",
    re.IGNORECASE,
)


_OWN = re.compile(r"\b(we|our|ours|this (paper|work|study)|(the )?proposed)\b", re.IGNORECASE)
#: A mention of other work within a clause (up to a comma): "inspired by the success of
#: large language models, we pretrain a vision encoder", "unlike CLIP, our model ...".
_OTHER_WORK = re.compile(
    r"\b(inspired by|success(es)? of|unlike|in contrast to|analogous to|akin to|similar to)"
    r"\b[^.;:,]{0,50}$",
    re.IGNORECASE,
)
#: Other work named by a qualifier right before the span, on the axes describing the
#: work's own model (:data:`COMPARISON_AXES`): "improves previous vision-language models",
#: "existing multimodal approaches" (but "we adapt existing language models" is the work's
#: own use of them). Not on modality or task: "conventional CT" is a CT.
_PRIOR_QUALIFIER = re.compile(
    r"\b(previous|prior|existing|earlier)\s+"
    r"((?!(on|in|for|with|by|at|to|of|and|or|from|than)\b)[\w-]+\s+){0,2}$",
    re.IGNORECASE,
)
#: A concessive clause opening the sentence describes other work (on
#: :data:`COMPARISON_AXES`), up to the comma where
#: the main clause starts: "While recent interactive foundation models (e.g., nnInteractive)
#: enhance generalization through multimodal pretraining, they still ..." (unless the clause
#: is in the first person: "While our model reads reports, ...").
_CONCESSIVE = re.compile(r"^\W*(while|although|though|whereas|despite)\b", re.IGNORECASE)
_MAIN_CLAUSE = re.compile(
    r",\s+(we|our|they|it|its|their|these|this|those|such|there|the|most|many|few|little)\b",
    re.IGNORECASE,
)
#: A negated mention within a clause: "pretrained on CT volumes without paired reports",
#: "zero-shot, instead of text prompts".
_NEGATED = re.compile(
    r"\b(without|instead of|rather than|no need for|free of)\b[^.;:,]{0,40}$",
    re.IGNORECASE,
)
#: Models named as baselines: "outperforms CLIP, PLIP and CONCH", "better than GPT-4V".
#: Only named models (a capital after the first letter) on the axes that describe the
#: work's own model: "outperforms prior methods on report generation" still counts.
_COMPARED = re.compile(
    r"\b(outperform\w*|surpass\w*|compared (to|with)|comparison with|than|against|baselines?)"
    r"\b[^.;:]{0,60}$",
    re.IGNORECASE,
)
COMPARISON_AXES = ("fm_type", "architecture", "training_paradigm")
_TASK_LIST = re.compile(r"\b(downstream|tasks)\b", re.IGNORECASE)


#: A sentence about the work's own experiments or results: abstracts report them without
#: "we" ("Extensive experiments on MIMIC-CXR and CheXpert have demonstrated ...",
#: "Evaluated on BTCV, the model has shown ..."). When such a cue comes before the
#: background cue (it is the subject, not "SAM has shown strong results on COCO") the
#: sentence is not background for the datasets axis; one set in natural images stays so.
_EXPERIMENTS = re.compile(
    r"\b(experiments?|experimental|results|evaluations?|evaluated|validated|validation|"
    r"tested|benchmarked)\b",
    re.IGNORECASE,
)
#: A sentence about a dataset's history or other work's use of it, background for the
#: datasets axis unless in the first person: "BraTS has been widely used in prior work".
_DATA_HISTORY = re.compile(
    r"\b(has|have) been (widely |extensively |commonly |frequently )?(used|adopted|studied)\b|"
    r"\b(prior|previous|earlier|existing) (work|works|studies|research|literature)\b",
    re.IGNORECASE,
)
_NATURAL = re.compile(r"\bnatural[- ](images?|scenes?|domain)\b|\bgeneral[- ]domain\b", re.I)


def _background(text: str, bounds: list[tuple[int, int]], data: bool = False) -> set[int]:
    """Sentences about other work: a background cue and no first person ("we", "our",
    "this paper", "the proposed") - "our model has achieved ... on BraTS" is a claim.

    With ``data`` (the datasets axis) a sentence whose subject is experiments or results
    (:data:`_EXPERIMENTS`) is the work's own unless it is set in natural images,
    and one about a dataset's history (:data:`_DATA_HISTORY`) is background.
    """

    def own(s: str) -> bool:
        if _OWN.search(s):
            return True
        cue = _BACKGROUND.search(s)
        first = _EXPERIMENTS.search(s)
        return (
            data
            and first is not None
            and (cue is None or first.start() < cue.start())
            and not _NATURAL.search(s)
        )

    def back(s: str) -> bool:
        if data and _DATA_HISTORY.search(s) and not _OWN.search(s):
            return True
        return bool(_BACKGROUND.search(s)) and not own(s)

    return {i for i, (a, b) in enumerate(bounds) if back(text[a:b])}


#: Hyphen-like characters read as "-" (one character each, so spans keep their offsets):
#: published abstracts write "vision–language" with an en dash or a non-breaking hyphen.
#: Not the em dash, which is punctuation ("tasks—elegantly").
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2212", "-"))


def _not_own(axis: str, text: str, span: Span, sentence: tuple[int, int]) -> bool:
    """The span names other work or is negated (``_OTHER_WORK``, ``_NEGATED``), or, on
    :data:`COMPARISON_AXES`, is qualified as prior work (``_PRIOR_QUALIFIER``), stands in
    an opening concessive clause about others (``_CONCESSIVE``) or is a model named as a
    baseline (``_COMPARED``); judged on its sentence before it."""
    start = span.start or 0
    before = text[max(sentence[0], start - 80) : start]
    if _OTHER_WORK.search(before) or _NEGATED.search(before):
        return True
    if axis not in COMPARISON_AXES:
        return False
    opening = text[sentence[0] : start]
    prior = _PRIOR_QUALIFIER.search(before)
    # "we adapt existing language models" builds on them; "previous" is always others'
    if prior and (prior.group(1).lower() != "existing" or not _OWN.search(opening)):
        return True
    if _CONCESSIVE.match(opening) and not _MAIN_CLAUSE.search(opening) and not _OWN.search(opening):
        return True
    named = any(c.isupper() for c in span.text[1:])
    return named and bool(_COMPARED.search(before))


#: Generic words that say little on their own ("textual explanations", "visual
#: grounding", "clinical reasoning"): see :func:`_drop_weak_override`.
WEAK_CUES = frozenset(
    [
        "text",
        "texts",
        "textual",
        "language",
        "linguistic",
        "sentence",
        "sentences",
        "reasoning",
        "grounding",
        "instruction",
        "instructions",
    ]
)


def _drop_weak_override(
    found: list[tuple[_Value, Label]], support: dict[str, tuple[bool, int]]
) -> list[tuple[_Value, Label]]:
    """On a single-valued axis, a higher-priority value whose only evidence is one generic
    word (:data:`WEAK_CUES`) in one abstract sentence does not overturn a value the title
    or keywords name: a title naming SAM or a self-supervised encoder stays vision-only
    when the abstract mentions "textual explanations" once."""
    titled = [v for v, _ in found if support.get(v.name, (False, 0))[0]]
    if not titled:
        return found
    keep = []
    for v, lab in found:
        head, n = support.get(v.name, (False, 0))
        weak = not head and n <= 1 and all(e.text.lower() in WEAK_CUES for e in lab.evidence)
        if weak and all(t.priority < v.priority for t in titled):
            continue
        keep.append((v, lab))
    return keep


@dataclass(frozen=True, slots=True)
class _Yielding:
    """A word that names a value only when nothing says otherwise (see :data:`YIELDING`)."""

    word: re.Pattern[str]
    #: values that, when named in the work's texts, mean the word is not this value
    yields_to: frozenset[str]
    #: words right after it that make it mean something else
    not_before: re.Pattern[str]


#: Words that name a value only when no more specific value of the axis is named, nor a
#: word after them says otherwise. "Pathology" is histopathology in "a foundation model for
#: pathology" but a finding in "X-ray Pathology Classification", "CT pathologies",
#: "retinal pathology" and "Pathology Detection", "pathology localization" (with no
#: image word between); "computational pathology", "pathology slides", "whole-slide" and
#: "H&E" stay histopathology whatever else is named.
YIELDING: dict[tuple[str, str], _Yielding] = {
    ("modality", "histopathology"): _Yielding(
        word=re.compile(r"patholog(y|ies|ist|ists)", re.IGNORECASE),
        yields_to=frozenset(
            {
                "xray",
                "ct",
                "mri",
                "ultrasound",
                "pet_spect",
                "mammography",
                "fundus",
                "oct",
                "dermoscopy",
                "endoscopy",
                "dental",
            }
        ),
        not_before=re.compile(
            r"[\s-]+(recognition|detection|locali[sz]ation|classification|identification|"
            r"grounding|labels?|findings?)\b",
            re.IGNORECASE,
        ),
    ),
}


def _yield(
    axis: str, value: str, spans: dict[str, list[Span]], texts: dict[str, str]
) -> list[Span]:
    """``value``'s spans without its yielding words (:data:`YIELDING`) when a value they
    yield to is named in the work's texts, or a word after them says they mean else."""
    rule = YIELDING.get((axis, value))
    if rule is None:
        return spans[value]
    named = any(spans.get(other) for other in rule.yields_to)

    def weak(sp: Span) -> bool:
        if not rule.word.fullmatch(sp.text):
            return False
        return named or bool(rule.not_before.match(texts.get(sp.field, ""), sp.end or 0))

    return [sp for sp in spans[value] if not weak(sp)]


def _task_lists(text: str, bounds: list[tuple[int, int]]) -> set[int]:
    """Sentences listing the tasks the work itself was evaluated on (see TASK_LIST_AXES)."""
    return {
        i
        for i, (a, b) in enumerate(bounds)
        if _TASK_LIST.search(text[a:b]) and _OWN.search(text[a:b])
    }


def synonym_regex(phrase: str) -> str:
    """A phrase as a whole-word regex, tolerant of hyphen/space/underscore variants."""
    tokens = [t for t in re.split(r"[\s\-_]+", phrase.strip()) if t]
    body = r"[\s\-_]?".join(re.escape(t) for t in tokens)
    return rf"(?<!\w){body}(?!\w)"


@dataclass(slots=True)
class _Value:
    name: str
    priority: int
    regexes: list[re.Pattern[str]]
    implies: dict[str, list[str]]


class RuleSet:
    """The compiled rules of a protocol's taxonomy (and its gazetteer).

    Parameters
    ----------
    protocol : Protocol
    gazetteer : DatasetGazetteer, optional
        Links mentions for axes with ``from_gazetteer: true``.
    """

    def __init__(self, protocol: Protocol, gazetteer: DatasetGazetteer | None = None) -> None:
        self.protocol = protocol
        self.gazetteer = gazetteer
        self.axes: dict[str, Axis] = {a.name: a for a in protocol.taxonomy}
        self._values: dict[str, list[_Value]] = {}
        for axis in protocol.taxonomy:
            vals = []
            for v in axis.values:
                parts = [synonym_regex(s) for s in v.synonyms if s.strip()] + list(v.patterns)
                # one alternation per value: one scan of the text instead of one per pattern
                regexes = (
                    [re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)]
                    if parts
                    else []
                )
                implies = {k: [x] if isinstance(x, str) else list(x) for k, x in v.implies.items()}
                vals.append(_Value(v.name, v.priority, regexes, implies))
            self._values[axis.name] = vals

    # ------------------------------------------------------------------ matching
    @staticmethod
    def _spans(regexes: list[re.Pattern[str]], texts: dict[str, str]) -> list[Span]:
        spans: list[Span] = []
        for fld, text in texts.items():
            if not text:
                continue
            seen: list[tuple[int, int]] = []
            plain = text.translate(_DASHES)
            for rx in regexes:
                for m in rx.finditer(plain):
                    if m.end() == m.start():
                        continue
                    if any(m.start() < e and s < m.end() for s, e in seen):
                        continue
                    seen.append((m.start(), m.end()))
                    spans.append(Span(fld, m.start(), m.end(), text[m.start() : m.end()]))
        return spans

    @staticmethod
    def _confidence(spans: list[Span]) -> float:
        best = max(FIELD_WEIGHT.get(s.field, 0.6) for s in spans)
        distinct = len({s.text.lower() for s in spans})
        return round(min(CAP, best + STEP * (distinct - 1)), 4)

    @staticmethod
    def _evidence(spans: list[Span]) -> list[Span]:
        order = {f: i for i, f in enumerate(FIELD_WEIGHT)}
        return sorted(spans, key=lambda s: (order.get(s.field, 9), s.start or 0))[:MAX_SPANS]

    def label_axis(self, axis: str, texts: dict[str, str]) -> list[Label]:
        """Labels on one axis (before implications)."""
        ax = self.axes[axis]
        if axis not in FULLTEXT_AXES and "fulltext" in texts:
            texts = {k: v for k, v in texts.items() if k != "fulltext"}
        if ax.from_gazetteer:
            return self._gazetteer_labels(axis, texts)
        found: list[tuple[_Value, Label]] = []
        support: dict[str, tuple[bool, int]] = {}
        bounds = {f: sentence_bounds(t) for f, t in texts.items() if f not in HEADLINE_FIELDS}
        background = {f: _background(texts[f], b) for f, b in bounds.items()}
        listing = (
            {f: _task_lists(texts[f], b) for f, b in bounds.items()}
            if axis in TASK_LIST_AXES
            else {}
        )
        where: dict[str, set[tuple[str, int]]] = {}
        all_spans = {v.name: self._spans(v.regexes, texts) for v in self._values[axis]}
        for v in self._values[axis]:
            spans = _yield(axis, v.name, all_spans, texts)
            headline = any(sp.field in HEADLINE_FIELDS for sp in spans)
            sentences: set[tuple[str, int]] = set()
            kept = []
            for sp in spans:
                if sp.field in HEADLINE_FIELDS:
                    kept.append(sp)
                    continue
                i = _sentence_of(bounds[sp.field], sp.start or 0)
                if i in background[sp.field] or _not_own(
                    axis, texts[sp.field], sp, bounds[sp.field][i]
                ):
                    continue
                sentences.add((sp.field, i))
                kept.append(sp)
                headline = headline or i in listing.get(sp.field, ())
            if kept:
                lab = Label(axis, v.name, "rule", self._confidence(kept), self._evidence(kept))
                found.append((v, lab))
                support[v.name] = (headline, len(sentences))
                where[v.name] = sentences
        if ax.multi:
            need = MIN_SENTENCES_BY_AXIS.get(axis, MIN_SENTENCES)
            top = max((n for _, n in support.values()), default=0)
            chosen = {name for name, (head, n) in support.items() if head or n >= need or n == top}
            if axis in COORDINATED_AXES:
                shared = set().union(*(where[name] for name in chosen)) if chosen else set()
                chosen |= {name for name, sents in where.items() if sents & shared}
            return [lab for _, lab in found if lab.value in chosen]
        if len(found) <= 1:
            return [lab for _, lab in found]
        found = _drop_weak_override(found, support)
        top = max(v.priority for v, _ in found)
        rivals = [(v, lab) for v, lab in found if v.priority == top]
        rivals.sort(key=lambda t: -t[1].confidence)
        winner = rivals[0][1]
        if len(rivals) > 1:
            winner.confidence = round(winner.confidence * AMBIGUITY, 4)
        return [winner]

    def _gazetteer_labels(self, axis: str, texts: dict[str, str]) -> list[Label]:
        """Datasets: gazetteer links, then names found by the dataset patterns.

        A mention in a background sentence (see the module docstring) does not count. A
        pattern name the gazetteer knows joins that entity; an unknown one labels the work
        with the name as written (a dataset proposed for the gazetteer).
        """
        spans_by: dict[str, list[Span]] = {}
        for fld, text in texts.items():
            if not text:
                continue
            bounds = sentence_bounds(text) if fld not in HEADLINE_FIELDS else []
            back = _background(text, bounds, data=True) if bounds else set()

            def counts(start: int, fld: str = fld, bounds: list = bounds, back: set = back) -> bool:
                return not bounds or _sentence_of(bounds, start) not in back

            linked: list[tuple[int, int]] = []
            if self.gazetteer is not None:
                for m in self.gazetteer.find(text, fld):
                    s0, e0 = m.span.start or 0, m.span.end or 0
                    linked.append((s0, e0))
                    if counts(s0):
                        spans_by.setdefault(m.entity, []).append(m.span)
            for nm in find_names(text, fld):
                s0, e0 = nm.span.start or 0, nm.span.end or 0
                if any(s0 < e and s < e0 for s, e in linked) or not counts(s0):
                    continue
                entity = self.gazetteer.lookup(nm.name) if self.gazetteer is not None else None
                key = entity or _known_spelling(spans_by, nm.name)
                spans_by.setdefault(key, []).append(nm.span)
        return [
            Label(axis, entity, "rule", self._confidence(spans), self._evidence(spans))
            for entity, spans in spans_by.items()
        ]

    def label(self, texts: dict[str, str], axes: list[str] | None = None) -> list[Label]:
        """Rule labels for one work.

        Parameters
        ----------
        texts : dict
            Field name (``title``, ``abstract``, ``keywords``, ``fulltext``) to text.
        axes : list of str, optional
            Only these axes (default: all of the taxonomy).
        """
        names = axes or list(self.axes)
        labels: list[Label] = []
        for a in names:
            labels += self.label_axis(a, texts)
        have = {(lab.axis, lab.value) for lab in labels}
        values = {a: {v.name: v for v in self._values[a]} for a in self._values}
        implied: dict[tuple[str, str], Label] = {}
        for lab in labels:
            v = values.get(lab.axis, {}).get(lab.value)
            if v is None:
                continue
            for target, vals in v.implies.items():
                if target not in names or target not in self.axes:
                    continue
                for val in vals:
                    key = (target, val)
                    conf = round(lab.confidence * IMPLIED, 4)
                    if key in have or (key in implied and implied[key].confidence >= conf):
                        continue
                    implied[key] = Label(target, val, "rule", conf, list(lab.evidence))
        for (target, _val), lab in implied.items():
            ax = self.axes[target]
            if not ax.multi and any(x.axis == target for x in labels):
                continue  # a single-valued axis keeps its own rule's answer
            labels.append(lab)
        return labels


def _known_spelling(found: dict[str, list[Span]], name: str) -> str:
    """``name``, or the spelling already found for it (up to case and separators)."""
    key = re.sub(r"[\W_]+", "", name).lower()
    for other in found:
        if re.sub(r"[\W_]+", "", other).lower() == key:
            return other
    return name


def _sentence_of(bounds: list[tuple[int, int]], pos: int) -> int:
    for i, (_a, b) in enumerate(bounds):
        if pos < b:
            return i
    return len(bounds) - 1


def work_texts(work: dict[str, object], fulltext: str | None = None) -> dict[str, str]:
    """The fields rules search, from a work (or record) mapping."""
    kw = work.get("keywords") or []
    texts = {
        "title": str(work.get("title") or ""),
        "abstract": str(work.get("abstract") or ""),
        "keywords": "; ".join(str(k) for k in kw) if isinstance(kw, list) else str(kw),
    }
    if fulltext:
        texts["fulltext"] = fulltext
    return {k: v for k, v in texts.items() if v}
