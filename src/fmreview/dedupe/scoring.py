"""Field comparisons and the pair score, with the reasons that produced it.

The score follows Fellegi and Sunter (1969): every field adds a log-likelihood-ratio weight
(agreement adds, disagreement subtracts, a missing value adds nothing) and the summed
weight is mapped to (0, 1) by the logistic function. Weights are set by hand from what a
field's agreement means bibliographically and then tuned on the labelled benchmark sets
(``benchmarks/dedupe.py``); they are module constants so the tuning is visible.

String similarities come from rapidfuzz (``process.cpdist`` compares the two sides of many
pairs element-wise in C, on all cores).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from .keys import normalize_text, parse_pages

#: Pairs whose titles' Levenshtein ratio is below this (and share no identifier or
#: volume/page) are dropped before scoring.
PREFILTER_RATIO = 0.5
#: Prior log-odds that a candidate pair is a duplicate.
PRIOR = -7.0
#: Title similarity → weight (piecewise linear).
TITLE_SIM = (0.0, 0.5, 0.7, 0.8, 0.88, 0.93, 0.97, 1.0)
TITLE_W = (-8.0, -7.0, -4.0, -1.5, 1.5, 4.0, 6.5, 7.5)
#: An (almost) identical title of at least this many characters is rarer still.
LONG_TITLE, LONG_TITLE_W = 50, 1.5
#: Author similarity → weight.
AUTHOR_SIM = (0.0, 0.4, 0.6, 0.8, 0.9, 1.0)
AUTHOR_W = (-4.0, -3.0, -1.0, 1.0, 2.0, 2.5)
YEAR_SAME, YEAR_ONE_OFF, YEAR_FAR = 1.0, -0.5, -4.0
ID_SAME, ID_DIFFERENT = 9.0, -5.0
PAGE_SAME, PAGE_DIFFERENT, PAGE_NEAR, PAGE_NUMBERING = 2.0, -5.5, -1.0, -2.5
VOLUME_SAME, VOLUME_DIFFERENT = 1.0, -2.0
VENUE_SAME, VENUE_DIFFERENT = 1.0, -3.0
#: Another year *and* another volume: a different publication, not an export error.
YEAR_AND_VOLUME = -1.5
ABSTRACT_SAME, ABSTRACT_DIFFERENT = 2.0, -1.5
#: Year, volume and first page all equal (and an author agrees): jointly they identify an
#: article in a journal, so this carries translated or badly mangled titles.
CITATION_SAME = 5.0
CITATION_TITLE_FLOOR = -3.0

FIELDS = ("title", "authors", "year", "ids", "page", "volume", "venue", "abstract", "citation")

_VENUE_STOP = {
    "of",
    "the",
    "and",
    "in",
    "for",
    "de",
    "la",
    "le",
    "des",
    "du",
    "der",
    "und",
    "on",
    "j",
    "a",
    "an",
    "y",
    "e",
}


def _interp(x: np.ndarray, xs: tuple[float, ...], ws: tuple[float, ...]) -> np.ndarray:
    return np.interp(x, xs, ws)


#: Pairs per rapidfuzz call: bounds the memory of its internal string buffers.
CHUNK = 200_000
#: Pairs from which a rapidfuzz call uses all cores.
PARALLEL_MIN = 50_000


def _cpdist(a: np.ndarray, b: np.ndarray, scorer: Any, cutoff: float | None = None) -> np.ndarray:
    """Element-wise similarity in [0, 1]; below ``cutoff`` reported as 0 (and computed faster)."""
    out = np.empty(len(a), dtype=np.float64)
    for start in range(0, len(a), CHUNK):
        stop = start + CHUNK
        out[start:stop] = process.cpdist(
            list(a[start:stop]),
            list(b[start:stop]),
            scorer=scorer,
            # threads pay off only on long inputs (and cost latency on a busy machine)
            workers=-1 if min(stop, len(a)) - start >= PARALLEL_MIN else 1,
            score_cutoff=None if cutoff is None else cutoff * 100.0,
        )
    return out / 100.0


#: Title similarity of two titles that differ only by a subtitle, series prefix or
#: section label present in one source ("Can liver-kidney transplantation cure aHUS?" and
#: "Thrombotic microangiopathy: can liver-kidney ..."): as close as a typo.
#: Set from what the difference means (not searched over a grid; the benchmark's
#: leave-one-set-out tunes the thresholds only): 0.95 is the title weight of a typo.
SUBTITLE_SIM = 0.95
#: Title similarity when the shorter title is a prefix or suffix of the longer one but not
#: at a word boundary (a title cut at a field length, or glued to its subtitle).
TRUNCATED_SIM = 0.9


def _affix_similarity(x: str, y: str) -> float:
    """:data:`SUBTITLE_SIM` when the shorter of two normalised titles (three words and 15
    characters or more) is the first or last whole words of the longer,
    :data:`TRUNCATED_SIM` when it is a prefix or suffix cut inside a word, else 0."""
    if len(x) > len(y):
        x, y = y, x
    if x.count(" ") < 2 or len(x) < 15 or len(x) == len(y):
        return 0.0
    if y.startswith(x):
        return SUBTITLE_SIM if y[len(x)] == " " else TRUNCATED_SIM
    if y.endswith(x):
        return SUBTITLE_SIM if y[-len(x) - 1] == " " else TRUNCATED_SIM
    return 0.0


def title_similarity(a: np.ndarray, b: np.ndarray, ratio: np.ndarray | None = None) -> np.ndarray:
    """Element-wise title similarity in [0, 1] (0 when either title is empty).

    The larger of the normalised Levenshtein ratio and the token-sort ratio (word order),
    and :func:`_affix_similarity` when the shorter title is the start or end of the longer
    one (a subtitle, series prefix or section label in one source only; a truncated
    title). ``ratio`` may pass the Levenshtein ratios when already computed.
    """
    sim = _cpdist(a, b, fuzz.ratio) if ratio is None else ratio.astype(np.float64)
    # Only a pair whose Levenshtein (indel) ratio is exactly 2|x| / (|x| + |y|) can have
    # one title start or end the other (the indel distance is then |y| - |x|), or one
    # whose ratio fell below the prefilter's cutoff (reported as 0): the rest are not
    # looked at one by one.
    la = np.fromiter((len(x) for x in a), dtype=np.float64, count=len(a))
    lb = np.fromiter((len(x) for x in b), dtype=np.float64, count=len(b))
    affix = 2.0 * np.minimum(la, lb) / np.maximum(la + lb, 1.0)
    maybe = (sim < SUBTITLE_SIM) & (
        (np.abs(sim - affix) < 1e-4) | ((sim == 0.0) & (affix < PREFILTER_RATIO))
    )
    redo = np.flatnonzero((sim < 0.95) & (sim >= 0.4))
    if len(redo):
        sim[redo] = np.maximum(sim[redo], _cpdist(a[redo], b[redo], fuzz.token_sort_ratio))
    for n in np.flatnonzero(maybe):
        sim[n] = max(sim[n], _affix_similarity(a[n], b[n]))
    empty = (a == "") | (b == "")
    sim[empty] = 0.0
    return sim


def plain_title_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Title similarity without the affix rule: the larger of the Levenshtein and the
    token-sort ratio, in [0, 1] (0 when either title is empty)."""
    if len(a) == 0:
        return np.zeros(0, dtype=np.float64)
    sim = np.maximum(_cpdist(a, b, fuzz.ratio), _cpdist(a, b, fuzz.token_sort_ratio))
    sim[(a == "") | (b == "")] = 0.0
    return sim


def prefilter(keys: pd.DataFrame, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop pairs that cannot reach any threshold, cheaply: returns ``(keep, title_ratio)``.

    A pair is kept when its titles' Levenshtein ratio is at least :data:`PREFILTER_RATIO`,
    or it shares an identifier, or the same volume and first page (translated titles).
    """
    title = keys["title"].to_numpy(dtype=object)
    ratio = np.empty(len(i), dtype=np.float32)
    for start in range(0, len(i), CHUNK):
        sl = slice(start, start + CHUNK)
        ratio[sl] = _cpdist(title[i[sl]], title[j[sl]], fuzz.ratio, cutoff=PREFILTER_RATIO)
    keep = ratio >= PREFILTER_RATIO
    for c in ("doi", "pmid", "openalex", "arxiv"):
        v = keys[c].to_numpy(dtype=object)
        keep |= (v[i] == v[j]) & (v[i] != "")
    vol = keys["volume"].to_numpy(dtype=object)
    page = keys["page"].to_numpy(dtype=object)
    keep |= (vol[i] == vol[j]) & (page[i] == page[j]) & (page[i] != "")
    return keep, ratio


def author_similarity(
    a: np.ndarray,
    b: np.ndarray,
    first: tuple[np.ndarray, np.ndarray],
    words: tuple[np.ndarray, np.ndarray] | None = None,
    check: np.ndarray | None = None,
) -> np.ndarray:
    """Element-wise author similarity in [0, 1], NaN when either side has no authors.

    ``a``/``b`` are the space-joined surnames of each side, ``first`` the first authors'
    of each side. Mean of the token-set ratio of the surname lists (tolerates "et al."
    truncation and order) and the first authors' ratio. With ``words`` (every word of the
    names of each side, :func:`~fmreview.dedupe.keys.name_words`), a pair below
    :data:`SWAPPED_SIM` whose
    surnames on one side are (almost) all words of the other side's names scores
    :data:`SWAPPED_SIM`: one source swapped family and given names ("Andrea, C." for
    "Carignani, Andrea"). ``check`` (bool per pair) limits that test to the pairs where
    it can matter.
    """
    tset = _cpdist(a, b, fuzz.token_set_ratio)
    sim = 0.5 * tset + 0.5 * _cpdist(first[0], first[1], fuzz.ratio)
    if words is not None:
        wa, wb = words
        low = sim < SWAPPED_SIM
        if check is not None:
            low &= check
        for n in np.flatnonzero(low):
            if _contained(a[n], wb[n]) or _contained(b[n], wa[n]):
                sim[n] = SWAPPED_SIM
    sim[(a == "") | (b == "")] = np.nan
    return sim


#: Author similarity given to names one source swapped (see :func:`author_similarity`).
SWAPPED_SIM = 0.85
#: Share of one side's surnames that must be words of the other side's names.
SWAPPED_SHARE = 0.8


def _contained(surnames: str, words: str) -> bool:
    sa, sw = surnames.split(), set(words.split())
    if not sa or not sw:
        return False
    return sum(x in sw for x in sa) >= SWAPPED_SHARE * len(sa)


def _abbreviates(short: list[str], long: list[str]) -> bool:
    """Every word of ``short`` is a prefix of a word of ``long``, in order (a one-word
    ``short`` must be the start of ``long``: "Stroke" is not "Topics in Stroke Rehabilitation")."""
    if (
        not short
        or len(short) > len(long)
        or (len(short) == 1 and not long[0].startswith(short[0]))
    ):
        return False
    k = 0
    for w in short:
        while k < len(long) and not long[k].startswith(w):
            k += 1
        if k == len(long):
            return False
        k += 1
    return True


@lru_cache(maxsize=200_000)
def venue_similarity(a: str, b: str) -> float:
    """Similarity of two normalised venue names in [0, 1], abbreviation-aware.

    ``"curr opin lipidol"`` and ``"current opinion in lipidology"`` score 0.95: every word
    of the shorter name is a prefix of the next non-stopword of the longer, in order.
    """
    if not a or not b:
        return float("nan")
    if a == b:
        return 1.0
    ta = [w for w in a.split() if w not in _VENUE_STOP]
    tb = [w for w in b.split() if w not in _VENUE_STOP]
    if ta == tb:
        return 1.0
    if _abbreviates(ta, tb) or _abbreviates(tb, ta):
        return 0.95
    sa, sb = "".join(ta), "".join(tb)
    if sa and sa == sb:
        return 1.0
    return fuzz.ratio(a, b) / 100.0


def page_agreement(a: str, b: str) -> int:
    """Compare two raw page fields whose first numbers differ (scoring applies the same
    rule vectorised, to the parsed fields of the keys).

    Returns -1 (different articles), -2 (different numbering: ``"S359"`` vs ``"623-629"``,
    ``"e12724"`` vs ``"1-6"``: a supplement or an electronic article number), 0 (not
    comparable: a mangled field such as ``"Suppl-29"``), or 2 (close enough to be an
    export error: starts within two pages, or the same last page).
    """
    pa, pb = parse_pages(a), parse_pages(b)
    if pa is None or pb is None:
        return 0
    if pa[0] != pb[0]:
        return -2
    if abs(pa[1] - pb[1]) <= 2 or pa[2] == pb[2]:
        return 2
    return -1


def _codes_weights(code: np.ndarray, weights: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """``(code, weight)``: the weight of each agreement code (0 for codes not listed)."""
    w = np.zeros(len(code), dtype=np.float64)
    for c, value in weights.items():
        w[code == c] = value
    return code, w


def _title_field(
    title: np.ndarray, i: np.ndarray, j: np.ndarray, ratio: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Title similarity and weight (a long, near-identical title weighs more)."""
    t = title_similarity(title[i], title[j], ratio)
    tl = np.fromiter((len(x) for x in title), dtype=np.int64, count=len(title))
    tlen = np.minimum(tl[i], tl[j])
    w = np.where(t > 0, _interp(t, TITLE_SIM, TITLE_W), 0.0) + np.where(
        (t >= 0.97) & (tlen >= LONG_TITLE), LONG_TITLE_W, 0.0
    )
    return t, w


def _author_field(
    keys: pd.DataFrame,
    col: dict[str, np.ndarray],
    i: np.ndarray,
    j: np.ndarray,
    t: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Author similarity (NaN = not comparable) and weight."""
    words = None
    if "name_words" in keys.columns:
        # records keep name words only where they add to the surnames
        words = keys["name_words"].to_numpy(dtype=object)
        words = np.where(words == "", col["authors"], words)
    au = author_similarity(
        col["authors"][i],
        col["authors"][j],
        (col["first_author"][i], col["first_author"][j]),
        None if words is None else (words[i], words[j]),
        t >= 0.8,
    )
    w = np.where(np.isnan(au), 0.0, _interp(np.nan_to_num(au), AUTHOR_SIM, AUTHOR_W))
    return au, w


def _year_field(keys: pd.DataFrame, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Year code (1 same, -1 one apart, -2 further, 0 unknown) and weight."""
    year = keys["year"].to_numpy()
    ya, yb = year[i], year[j]
    dy = np.abs(ya - yb)
    code = np.where((ya <= 0) | (yb <= 0), 0, np.where(dy == 0, 1, np.where(dy == 1, -1, -2)))
    return _codes_weights(code, {1: YEAR_SAME, -1: YEAR_ONE_OFF, -2: YEAR_FAR})


def _id_field(keys: pd.DataFrame, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Identifier code (1 one shared, -1 both present and all differ, 0 unknown), weight."""
    same_id = np.zeros(len(i), dtype=bool)
    diff_id = np.zeros(len(i), dtype=bool)
    for c in ("doi", "pmid", "openalex", "arxiv"):
        v = keys[c].to_numpy(dtype=object)
        vi, vj = v[i], v[j]
        both = (vi != "") & (vj != "")
        same = vi == vj
        same_id |= both & same
        diff_id |= both & ~same
    code = np.where(same_id, 1, np.where(diff_id, -1, 0))
    return _codes_weights(code, {1: ID_SAME, -1: ID_DIFFERENT})


def _same_or_not(v: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """1 same, -1 different, 0 when either is empty."""
    vi, vj = v[i], v[j]
    return np.where((vi == "") | (vj == ""), 0, np.where(vi == vj, 1, -1))


def _page_field(
    keys: pd.DataFrame, col: dict[str, np.ndarray], i: np.ndarray, j: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Page code (:func:`page_agreement` for different first pages) and weight."""
    code = _same_or_not(col["page"], i, j)
    differ = np.flatnonzero(code == -1)
    if len(differ):
        # page_agreement, vectorised over the parsed fields of the keys
        a, b = i[differ], j[differ]
        pre = keys["page_prefix"].to_numpy(dtype=object)
        lo, hi = keys["page_first"].to_numpy(), keys["page_last"].to_numpy()
        code[differ] = np.select(
            [
                (lo[a] < 0) | (lo[b] < 0),
                pre[a] != pre[b],
                (np.abs(lo[a] - lo[b]) <= 2) | (hi[a] == hi[b]),
            ],
            [0, -2, 2],
            -1,
        )
    return _codes_weights(
        code, {1: PAGE_SAME, -1: PAGE_DIFFERENT, 2: PAGE_NEAR, -2: PAGE_NUMBERING}
    )


def _band_weight(
    sim: np.ndarray, same: tuple[float, float], different: tuple[float, float]
) -> np.ndarray:
    """``same[1]`` where ``sim >= same[0]``, ``different[1]`` where ``sim <
    different[0]``, 0 between and where ``sim`` is NaN (not compared)."""
    w = np.zeros(len(sim), dtype=np.float64)
    w[sim >= same[0]] = same[1]
    w[sim < different[0]] = different[1]
    return w


def _venue_field(
    col: dict[str, np.ndarray], i: np.ndarray, j: np.ndarray, need: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Venue similarity (NaN = not compared) and weight, for the pairs in ``need``."""
    vs = np.full(len(i), np.nan)
    va, vb = col["venue"][i], col["venue"][j]
    for n in np.flatnonzero(need & (va != "") & (vb != "")):
        vs[n] = venue_similarity(va[n], vb[n])
    return vs, _band_weight(vs, (0.85, VENUE_SAME), (0.7, VENUE_DIFFERENT))


def _abstract_field(
    col: dict[str, np.ndarray], i: np.ndarray, j: np.ndarray, need: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Abstract similarity (NaN = not compared) and weight, for the pairs in ``need``."""
    ab = np.full(len(i), np.nan)
    raw = col["abstract"]
    sel = np.flatnonzero(need & (raw[i] != "") & (raw[j] != ""))
    if len(sel):
        # each record's abstract normalised once, however many pairs it is in
        norm = {int(r): normalize_text(raw[r]) for r in np.unique(np.concatenate([i[sel], j[sel]]))}
        na = np.array([norm[int(r)] for r in i[sel]], dtype=object)
        nb = np.array([norm[int(r)] for r in j[sel]], dtype=object)
        ab[sel] = _cpdist(na, nb, fuzz.ratio)
    return ab, _band_weight(ab, (0.85, ABSTRACT_SAME), (0.5, ABSTRACT_DIFFERENT))


def _citation(
    keys: pd.DataFrame, out: dict[str, np.ndarray], i: np.ndarray, j: np.ndarray
) -> np.ndarray:
    """Year, volume and first page all equal, over a real range, and an author agrees:
    jointly they identify an article in a journal."""
    citation = (out["year"] == 1) & (out["volume"] == 1) & (out["page"] == 1)
    aut = np.nan_to_num(out["authors"], nan=0.0)
    # a range of three or more pages, or the same range of two (not a one-page meeting
    # abstract: many share a page)
    span = keys["page_span"].to_numpy()
    citation &= (span[i] >= 2) | (span[j] >= 2) | ((span[i] == span[j]) & (span[i] >= 1))
    venue_ok = np.nan_to_num(out["venue"], nan=1.0) >= 0.85
    return citation & ((aut >= 0.9) | ((aut >= 0.7) & (out["title"] >= 0.5) & venue_ok))


def _empty_scores(i: np.ndarray, j: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame({"i": i, "j": j})
    for c in (*FIELDS, *(f"w_{f}" for f in FIELDS), "logit", "score"):
        out[c] = np.empty(0)
    return out


def score_pairs(
    keys: pd.DataFrame, i: np.ndarray, j: np.ndarray, title_ratio: np.ndarray | None = None
) -> pd.DataFrame:
    """Compare the records of each pair field by field and score the pair.

    Returns a DataFrame aligned with ``i``/``j``: similarities (``title``, ``authors``,
    ``venue``, ``abstract``; NaN = not comparable), agreement codes for ``year``, ``ids``,
    ``page``, ``volume`` (1 same, 0 unknown, -1 different, and for year -2 far apart), the
    weight of every field in ``w_<field>``, the summed ``logit`` and ``score`` in (0, 1).
    """
    if len(i) == 0:
        return _empty_scores(i, j)
    col = {
        c: keys[c].to_numpy(dtype=object)
        for c in ("title", "authors", "first_author", "venue", "volume", "page", "abstract")
    }
    out: dict[str, np.ndarray] = {"i": i, "j": j}
    out["title"], out["w_title"] = _title_field(col["title"], i, j, title_ratio)
    out["authors"], out["w_authors"] = _author_field(keys, col, i, j, out["title"])
    out["year"], out["w_year"] = _year_field(keys, i, j)
    out["ids"], out["w_ids"] = _id_field(keys, i, j)
    out["page"], out["w_page"] = _page_field(keys, col, i, j)
    out["volume"], out["w_volume"] = _codes_weights(
        _same_or_not(col["volume"], i, j), {1: VOLUME_SAME, -1: VOLUME_DIFFERENT}
    )
    # venue and abstract only where they can still change the outcome (saves time at scale)
    partial = np.full(len(i), PRIOR)
    for f in ("title", "authors", "year", "ids", "page", "volume"):
        partial += out[f"w_{f}"]
    need = partial > -8.0
    out["venue"], out["w_venue"] = _venue_field(col, i, j, need)
    # another year *and* another volume: a different publication, not an export error
    out["w_year"] = out["w_year"] + np.where(
        (out["year"] < 0) & (out["volume"] == -1), YEAR_AND_VOLUME, 0.0
    )
    out["abstract"], out["w_abstract"] = _abstract_field(col, i, j, need)
    citation = _citation(keys, out, i, j)
    out["citation"] = citation
    out["w_citation"] = np.where(citation, CITATION_SAME, 0.0)
    # the same year/volume/first page make a translated title or a mangled venue noise
    out["w_title"] = np.where(
        citation, np.maximum(out["w_title"], CITATION_TITLE_FLOOR), out["w_title"]
    )
    out["w_venue"] = np.where(citation, np.maximum(out["w_venue"], 0.0), out["w_venue"])
    logit = np.full(len(i), PRIOR)
    for f in FIELDS:
        logit += out[f"w_{f}"]
    # compact: agreement codes as int8, similarities and weights as float32
    for f in ("year", "ids", "page", "volume", "citation"):
        out[f] = out[f].astype(np.int8)
    for c in ("title", "authors", "venue", "abstract", *(f"w_{f}" for f in FIELDS)):
        out[c] = out[c].astype(np.float32)
    out["logit"] = logit.astype(np.float32)
    out["score"] = 1.0 / (1.0 + np.exp(-logit))
    return pd.DataFrame(out)


def reason(row: pd.Series | dict[str, Any]) -> dict[str, Any]:
    """The explanation of one scored pair: each compared field's similarity and weight.

    >>> sorted(reason({"title": 1.0, "w_title": 7.5, "logit": 3.0, "score": 0.95}))
    ['fields', 'logit', 'prior', 'score']
    """
    fields: dict[str, dict[str, float | None]] = {}
    for f in FIELDS:
        w = float(row.get(f"w_{f}", 0.0))
        if w == 0.0:
            continue
        v = row.get(f)
        fields[f] = {
            "value": None
            if v is None or (isinstance(v, float) and np.isnan(v))
            else round(float(v), 4),
            "weight": round(w, 3),
        }
    return {
        "prior": PRIOR,
        "fields": fields,
        "logit": round(float(row.get("logit", 0.0)), 3),
        "score": round(float(row.get("score", 0.0)), 5),
    }
