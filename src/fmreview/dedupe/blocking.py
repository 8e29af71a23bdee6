"""Candidate pairs: which records are worth comparing.

Every pass sorts the records by a blocking key (ties broken by the normalised title) and
pairs each record with the next ``window`` records *that share its key*; with an empty key
(``key=None``) this is the sorted-neighbourhood method. Pairs per pass are bounded by
``n * window`` whatever the block sizes, so the candidate count stays linear in the number of
records (a block of 10,000 "Editorial"s does not make 50 million pairs).

Passes (:func:`candidate_pairs`):

* identifiers: DOI, arXiv id, PMID, OpenAlex id;
* the full normalised title, and the title sorted from its end (typos at the start);
* sorted neighbourhood over titles;
* a bag of the title's three longest words (word order, subtitles, bracketed translations);
* first author + year; year + volume + first page (translated titles).

Hand-written rather than e.g. recordlinkage's ``SortedNeighbourhood``: that indexer builds
pandas MultiIndexes and is an order of magnitude slower and heavier at a million records.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _window_pairs(
    key: np.ndarray | None, order_by: list[np.ndarray], window: int, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j) of positions within ``window`` of each other in the sort, same key.

    ``key`` and ``order_by`` are integer codes (see :func:`_codes`): sorting integers is
    an order of magnitude faster than sorting strings, and each string column is ranked
    only once however many passes use it.
    """
    n = len(order_by[0])
    idx = np.arange(n) if mask is None else np.flatnonzero(mask)
    if len(idx) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    sort_keys = [o[idx] for o in reversed(order_by)]
    if key is not None:
        sort_keys.append(key[idx])
    order = idx[np.lexsort(sort_keys)]
    codes = None if key is None else key[order]
    a_parts, b_parts = [], []
    for d in range(1, window + 1):
        if d >= len(order):
            break
        if codes is None:
            a_parts.append(order[:-d])
            b_parts.append(order[d:])
        else:
            same = codes[:-d] == codes[d:]
            if not same.any():
                break
            a_parts.append(order[:-d][same])
            b_parts.append(order[d:][same])
    if not a_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(a_parts), np.concatenate(b_parts)


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values. Hand-written because ``np.unique`` in NumPy >= 2.3 takes a
    hash-based path that is ten times slower than sorting for millions of int64 codes."""
    x = np.sort(x)
    if len(x) < 2:
        return x
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def _codes(values: np.ndarray, *, sort: bool = False) -> np.ndarray:
    """Integer codes of a string column (ranks when ``sort``: equal strings, equal codes)."""
    return pd.factorize(values, sort=sort)[0].astype(np.int64)


def _longest_words(title: str, k: int = 3) -> str:
    """The ``k`` longest distinct words (ties: alphabetical), sorted; ``""`` if fewer.

    Sorted alphabetically, then stably by length (``key=len`` runs in C; a stable sort
    keeps alphabetical order among words of one length)."""
    words = sorted(sorted(set(title.split())), key=len, reverse=True)[:k]
    return " ".join(sorted(words)) if len(words) == k else ""


def blocking_keys(keys: pd.DataFrame) -> dict[str, np.ndarray]:
    """The per-record blocking keys used by :func:`candidate_pairs` (object arrays)."""
    title = keys["title"].to_numpy(dtype=object)
    # the last 60 characters, reversed, are enough to sort by the end of the title
    rev = np.array([t[:-61:-1] for t in title], dtype=object)
    year = keys["year"].astype(str).to_numpy(dtype=object)
    fa = keys["first_author"].to_numpy(dtype=object)
    vol = keys["volume"].to_numpy(dtype=object)
    page = keys["page"].to_numpy(dtype=object)
    return {
        "title": title,
        "title_rev": rev,
        "words": np.array([_longest_words(t) for t in title], dtype=object),
        "author_year": np.where(fa != "", fa + "|" + year, ""),
        "vol_page": np.where((page != "") & (vol != ""), year + "|" + vol + "|" + page, ""),
    }


def candidate_pairs(
    keys: pd.DataFrame,
    *,
    window: int = 8,
    subset: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique candidate pairs ``(i, j, source)`` with ``i < j`` (row positions in ``keys``).

    Parameters
    ----------
    keys : DataFrame
        From :func:`fmreview.dedupe.keys.record_keys`.
    window : int
        Neighbours compared per record and pass.
    subset : bool array, optional
        When given, only pairs with at least one record in ``subset`` are kept
        (incremental mode: the new records).

    Returns
    -------
    i, j : int64 arrays
    source : uint8 array, bit mask of the passes that proposed the pair
        (1 ids, 2 title, 4 reversed title, 8 neighbourhood, 16 words, 32 author+year,
        64 volume+page).
    """
    n = len(keys)
    if n < 2:
        e = np.empty(0, np.int64)
        return e, e, np.empty(0, np.uint8)
    # integer codes, one key at a time: the strings behind each key are freed at once
    title = keys["title"].to_numpy(dtype=object)
    has_title = title != ""
    rank = _codes(title, sort=True)
    rev_rank = _codes(np.array([t[:-61:-1] for t in title], dtype=object), sort=True)
    words = np.array([_longest_words(t) for t in title], dtype=object)
    words_code, has_words = _codes(words), words != ""
    del words
    year = keys["year"].to_numpy().astype(np.int64)
    fa = keys["first_author"].to_numpy(dtype=object)
    author_year = _codes(fa) * 4000 + year
    has_author = fa != ""
    vol = keys["volume"].to_numpy(dtype=object)
    page = keys["page"].to_numpy(dtype=object)
    vol_page = (year * (n + 1) + _codes(vol)) * (n + 1) + _codes(page)
    has_vol_page = (vol != "") & (page != "")
    passes: list[tuple[int, np.ndarray | None, list[np.ndarray], int, np.ndarray | None]] = []
    for col in ("doi", "arxiv", "pmid", "openalex"):
        vals = keys[col].to_numpy(dtype=object)
        passes.append((1, _codes(vals), [rank], window, vals != ""))
    passes += [
        (2, rank, [year], window, has_title),
        (4, None, [rev_rank], window, has_title),
        (8, None, [rank], window, has_title),
        (16, words_code, [rank], window, has_words),
        (32, author_year, [rank], window, has_author),
        (64, vol_page, [rank], window, has_vol_page),
    ]
    # merge each pass into the sorted unique pair codes as we go: memory stays at the
    # number of distinct pairs, not the sum over passes
    acc = np.empty(0, np.int64)
    bits = np.empty(0, np.uint8)
    for bit, key, order_by, w, mask in passes:
        a, b = _window_pairs(key, order_by, w, mask)
        if len(a) == 0:
            continue
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keep = lo != hi
        if subset is not None:
            keep &= subset[lo] | subset[hi]
        pc = _sorted_unique(lo[keep].astype(np.int64) * n + hi[keep])
        del a, b, lo, hi, keep
        merged = _sorted_unique(np.concatenate([acc, pc]))
        new_bits = np.zeros(len(merged), dtype=np.uint8)
        new_bits[np.searchsorted(merged, acc)] = bits
        new_bits[np.searchsorted(merged, pc)] |= np.uint8(bit)
        acc, bits = merged, new_bits
    return acc // n, acc % n, bits
