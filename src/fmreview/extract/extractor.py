"""The extractor: rules, gazetteer and classifiers together, on plain texts (no store).

``store_io`` runs it over a review's works; ``benchmarks/extraction.py`` runs it on held-out
studies. Candidates from every method are kept (they become label rows); ``combine`` picks
the work's labels by the documented policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fmreview.extract.classifier import TaxonomyClassifier, classifier_text
from fmreview.extract.combine import combine, thresholds_for
from fmreview.extract.constraints import Violation, check
from fmreview.extract.gazetteer import DatasetGazetteer
from fmreview.extract.label import Label, Span
from fmreview.extract.rules import RuleSet
from fmreview.protocol.model import Protocol

#: Model labels below this probability are not stored at all (they would only be noise).
MODEL_FLOOR = 0.2
#: Axes the classifier labels by default. Only ``fm_type``: every eligible work is one of
#: its two values, and a title settles it often enough (leave-one-list-out macro-F1 in
#: ``benchmarks/extraction.py``). On modality, task, architecture or paradigm a classifier
#: trained on titles guesses where the text says nothing (it gave "multi_modality" to 272
#: works and "image-text contrastive" to SAM papers), so those axes come from rule spans
#: and lists only, and stay unlabelled when the text does not support a value.
MODEL_AXES = ("fm_type",)


#: Words that say nothing about a label: a model's evidence never consists of them alone.
GENERIC_WORDS = frozenset(
    {
        "image",
        "images",
        "imaging",
        "medical",
        "model",
        "models",
        "learning",
        "based",
        "using",
        "via",
        "analysis",
        "deep",
        "network",
        "networks",
        "data",
        "study",
        "approach",
        "method",
        "methods",
        "towards",
        "toward",
        "new",
        "novel",
        "framework",
        "task",
        "tasks",
        "clinical",
        "large",
        "foundation",
        "efficient",
        "effective",
        "improving",
        "enhancing",
        "general",
        "domain",
        "multi",
        "application",
        "applications",
        "evaluation",
        "benchmark",
    }
)


def informative(term: str) -> bool:
    """Whether a model's evidence term says something (not only stop or generic words)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = [w for w in re.split(r"[\s\-]+", term.lower()) if w]
    return any(len(w) > 2 and w not in ENGLISH_STOP_WORDS and w not in GENERIC_WORDS for w in words)


class Extractor:
    """Label works on a protocol's taxonomy.

    Parameters
    ----------
    protocol : Protocol
    gazetteer : DatasetGazetteer, optional
    methods : sequence of str, optional
        Automatic methods to run: ``rule``, ``model`` (default: the protocol's
        ``extraction.methods`` minus ``list`` and ``llm``, which need a store or a server).
    classifier_params : dict, optional
        Parameters of :class:`TaxonomyClassifier` (C, ngram_range, char, random_state).
    explain : bool
        Give model labels evidence: the words of the text that weigh most for the value.
    model_axes : sequence of str, optional
        Axes the classifier learns and labels (default :data:`MODEL_AXES`).
    """

    def __init__(
        self,
        protocol: Protocol,
        *,
        gazetteer: DatasetGazetteer | None = None,
        methods: Sequence[str] | None = None,
        classifier_params: dict[str, Any] | None = None,
        explain: bool = True,
        model_axes: Sequence[str] | None = None,
    ) -> None:
        self.protocol = protocol
        self.explain = explain
        self.gazetteer = gazetteer
        self.methods = list(methods if methods is not None else protocol.extraction.methods)
        self.rules = RuleSet(protocol, gazetteer)
        self.axes = {a.name: a.multi for a in protocol.taxonomy}
        # the gazetteer axis is linked, not learned: a classifier cannot invent dataset names
        wanted = set(MODEL_AXES if model_axes is None else model_axes)
        self.learned_axes = {
            a.name: a.multi for a in protocol.taxonomy if not a.from_gazetteer and a.name in wanted
        }
        self.classifier_params = dict(classifier_params or {})
        self.classifier: TaxonomyClassifier | None = None
        self.thresholds = thresholds_for(protocol.extraction.min_confidence)

    def fit(
        self, texts: Sequence[dict[str, str]], labels: Sequence[Mapping[str, Sequence[str]]]
    ) -> Extractor:
        """Train the classifiers on labelled works (``labels``: axis -> values per work)."""
        if "model" in self.methods:
            docs = [classifier_text(t) for t in texts]
            self.classifier = TaxonomyClassifier(axes=self.learned_axes, **self.classifier_params)
            self.classifier.fit(docs, labels)
        return self

    def candidates(self, texts: Sequence[dict[str, str]]) -> list[list[Label]]:
        """Every automatic candidate label (rule and model) per work."""
        out: list[list[Label]] = [[] for _ in texts]
        if "rule" in self.methods:
            for i, t in enumerate(texts):
                out[i] += self.rules.label(t)
        if "model" in self.methods and self.classifier is not None:
            X = self.classifier.transform([classifier_text(t) for t in texts])
            if X is None:
                return out
            X = X.tocsr()
            explain_from = self.thresholds["model"]  # only labels that can be chosen get evidence
            for i, per_axis in enumerate(self.classifier.proba_features(X)):
                row = X[i]
                for axis, pv in per_axis.items():
                    for value, p in pv.items():
                        if p < MODEL_FLOOR:
                            continue
                        explain = self.explain and p >= explain_from
                        ev = self._model_evidence(texts[i], row, axis, value) if explain else []
                        out[i].append(Label(axis, value, "model", round(p, 4), ev))
        return out

    def _model_evidence(self, texts: dict[str, str], row: Any, axis: str, value: str) -> list[Span]:
        """Spans of the words that weigh most for a model label."""
        assert self.classifier is not None
        spans: list[Span] = []
        for term in self.classifier.evidence_terms(row, axis, value):
            if not informative(term):
                continue
            rx = re.compile(
                r"(?<!\w)" + r"\W+".join(re.escape(t) for t in term.split()) + r"(?!\w)", re.I
            )
            for fld in ("title", "keywords", "abstract", "fulltext"):
                m = rx.search(texts.get(fld, ""))
                if m:
                    spans.append(Span(fld, m.start(), m.end(), m.group(0)))
                    break
        return spans

    def extract(
        self, texts: Sequence[dict[str, str]], extra: Sequence[list[Label]] | None = None
    ) -> list[dict[str, list[Label]]]:
        """The combined labels per work (``extra``: further candidates, e.g. list or human)."""
        return [labels for labels, _ in self.extract_checked(texts, extra)]

    def extract_checked(
        self, texts: Sequence[dict[str, str]], extra: Sequence[list[Label]] | None = None
    ) -> list[tuple[dict[str, list[Label]], list[Violation]]]:
        """:meth:`extract` with each work's constraint violations (see :mod:`.constraints`)."""
        cands = self.candidates(texts)
        if extra is not None:
            cands = [c + list(e) for c, e in zip(cands, extra, strict=True)]
        return [check(combine(c, self.axes, thresholds=self.thresholds)) for c in cands]
