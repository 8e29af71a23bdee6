"""The deduplication engine: records in, works (clusters) and explained links out.

Pure: no store, no I/O. :class:`Deduplicator` follows the estimator contract (keyword-only
parameters stored unchanged, ``fit`` returns ``self``, learned state in ``attr_``).

Stages of :meth:`Deduplicator.fit`:

1. keys (:mod:`.keys`) and per-record trap features (:mod:`.traps`);
2. candidate pairs from identifier and title/author/citation blocking (:mod:`.blocking`);
3. field-by-field scores (:mod:`.scoring`) and traps per pair;
4. decisions per pair: ``duplicate`` (score >= ``upper``, no trap), ``version-of``
   (preprint or conference version of a journal paper: same title and authors, different
   kind of venue), uncertain (between ``lower`` and ``upper``: for a person), or no link;
5. union-find over the links, strongest first, refusing merges across cannot-link
   constraints (human "different" decisions and trapped pairs) (:mod:`.cluster`).

Records are processed in the order of their ids (as strings), so the result does not
depend on input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from fmreview.errors import InputError

from .blocking import candidate_pairs
from .cluster import UnionFind
from .keys import record_keys
from .scoring import FIELDS, plain_title_similarity, prefilter, reason, score_pairs
from .traps import HARD, TRAPS, pair_traps, record_flags, title_conflict

Pair = tuple[Any, Any]

#: Minimal title similarity for an automatic version-of link (preprint and published).
VERSION_TITLE = 0.93
#: Minimal title similarity for a version-of proposal to a person (conference paper and
#: its extended or re-titled journal version).
VERSION_REVIEW_TITLE = 0.8
#: Traps are tested on pairs scoring at least this (or with similar titles): below it a
#: pair neither links nor reaches a person whatever the thresholds.
TRAP_FLOOR = 0.05
#: Minimal author similarity (when both sides have authors) for a version-of link.
VERSION_AUTHORS = 0.6
#: Largest year gap between versions.
VERSION_YEARS = 3
#: Representatives per existing cluster in incremental mode (distinct title/DOI variants).
REPRESENTATIVES = 3


def sorted_keys(records: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Comparison keys of ``records`` (:func:`~fmreview.dedupe.keys.record_keys`), sorted by
    id as a string so that results do not depend on input order; ids must be unique.

    Only the keys are kept (not the records): they are all later stages need, and much
    smaller than records with full abstracts.
    """
    keys = record_keys(records)
    ids = keys["id"]
    dup = ids.duplicated(keep=False)
    if dup.any():
        shown = ", ".join(repr(x) for x in ids[dup].unique()[:5])
        raise InputError(
            f"Record ids must be unique; repeated: {shown}. Give every record its own id."
        )
    # trap features once per record; the raw columns they came from are not needed later
    flags = record_flags(keys)
    keys = keys.drop(columns=["issue_raw", "volume_raw", "type", "n_authors", "has_abstract"])
    for col in flags.columns:
        keys[f"flag_{col}"] = flags[col].to_numpy()
    del flags
    order = np.argsort(ids.astype(str).to_numpy(), kind="stable")
    return keys.take(order).reset_index(drop=True)


class Deduplicator:
    """Group bibliographic records into works.

    Parameters
    ----------
    upper : float
        Pairs scoring at or above this merge as duplicates (when no trap contradicts).
        The defaults of ``upper`` and ``title_min`` are those chosen on the six shared
        labelled sets (least missed duplicates + 10 x false merges; the leave-one-set-out
        figures are in ``benchmarks/dedupe.py``).
    lower : float
        Pairs scoring in ``[lower, upper)``, and pairs at or above ``upper`` that lack
        evidence (a generic title, titles that differ beyond a typo), are uncertain:
        reported in ``uncertain_`` for a person to decide, never merged.
    title_min : float
        Titles less similar than this differ beyond a typo: such a pair never merges
        automatically, whatever else agrees (:func:`~fmreview.dedupe.traps.title_conflict`).
    link_versions : bool
        Link a preprint and its published version (same title and authors) as
        ``version-of`` into one work. A conference paper and its journal version are only
        proposed to a person (``uncertain_`` with link ``version-of?``).
    merge_conference_abstracts : bool
        Treat a conference abstract and the full paper with the same title as duplicates
        (the protocol setting ``dedupe.merge_conference_abstracts``); off: never merged.
    window : int
        Neighbours compared per record in each blocking pass.

    Attributes
    ----------
    clusters_ : dict
        Record id → cluster id (the id of the cluster's first record by id order, or of
        the existing cluster a new record joined).
    links_ : DataFrame
        Applied links: ``a``, ``b`` (record ids), ``link`` (``duplicate``, ``version-of``,
        ``same`` for a human decision), ``score``, ``reason`` (dict: fields with their
        similarity and weight, traps, the rule).
    uncertain_ : DataFrame
        Pairs for a person (see ``lower``) whose records ended in different clusters:
        ``a``, ``b``, ``score``, ``link`` (``uncertain`` or ``version-of?``), ``reason``
        (with ``trap`` when a trap held the pair back).
    n_pairs_ : int
        Candidate pairs proposed by blocking in the last call (before the cheap title
        prefilter).
    traps_ : dict
        Trap name → number of candidate pairs it caught in the last call (among pairs
        that could have linked).
    """

    def __init__(
        self,
        *,
        upper: float = 0.8,
        lower: float = 0.75,
        title_min: float = 0.9,
        link_versions: bool = True,
        merge_conference_abstracts: bool = False,
        window: int = 8,
    ) -> None:
        self.upper = upper
        self.lower = lower
        self.title_min = title_min
        self.link_versions = link_versions
        self.merge_conference_abstracts = merge_conference_abstracts
        self.window = window

    # ------------------------------------------------------------------ public API
    def fit(
        self,
        records: pd.DataFrame | Iterable[Mapping[str, Any]],
        *,
        same: Iterable[Pair] = (),
        different: Iterable[Pair] = (),
    ) -> Deduplicator:
        """Cluster ``records`` from scratch.

        ``same`` / ``different`` are human decisions on pairs of record ids: a "same" pair
        is always linked, a "different" pair never ends up in one cluster.
        """
        self._check_params()
        keys = sorted_keys(records)
        state = np.full(len(keys), -1, dtype=np.int64)
        labels, links, uncertain, npairs = self._run(keys, state, same, different)
        ids = keys["id"].tolist()
        self.clusters_ = {ids[k]: ids[labels[k]] for k in range(len(ids))}
        self._links = links
        self._uncertain = uncertain
        self.n_pairs_ = npairs
        self._keys = keys
        return self

    def partial_fit(
        self,
        records: pd.DataFrame | Iterable[Mapping[str, Any]],
        *,
        existing: pd.DataFrame | None = None,
        same: Iterable[Pair] = (),
        different: Iterable[Pair] = (),
    ) -> Deduplicator:
        """Add new records: compared only with existing clusters' representatives and
        with each other. Existing clusters are never split or merged with each other.

        Parameters
        ----------
        records
            The new records.
        existing : DataFrame, optional
            Records already clustered, with a ``cluster`` column (e.g. read from the
            store). Defaults to what earlier ``fit``/``partial_fit`` calls learned.
        """
        self._check_params()
        new = sorted_keys(records)
        if existing is None:
            if not hasattr(self, "clusters_"):
                return self.fit(records, same=same, different=different)
            old = self._keys.copy()
            old["cluster"] = [self.clusters_[x] for x in old["id"]]
            prev_clusters = dict(self.clusters_)
            prev_links = self._links
        else:
            if "cluster" not in existing.columns:
                raise InputError(
                    "partial_fit(existing=...) needs a 'cluster' column; pass the work id of each record."
                )
            old = sorted_keys(existing)
            prev_clusters = dict(zip(existing["id"], existing["cluster"], strict=True))
            old["cluster"] = [prev_clusters[x] for x in old["id"]]
            prev_links = _empty_links()
        clash = set(new["id"]) & set(prev_clusters)
        if clash:
            shown = ", ".join(repr(x) for x in list(clash)[:5])
            raise InputError(
                f"Records already clustered were passed again as new: {shown}. Pass only new records."
            )
        same, different = list(same), list(different)
        reps = self._representatives(old)
        # records named in human decisions always take part, so that the decisions hold
        mentioned = {x for pair in (*same, *different) for x in pair}
        if mentioned:
            extra = old[old["id"].isin(mentioned) & ~old["id"].isin(reps["id"])]
            if len(extra):
                reps = pd.concat([reps, extra], ignore_index=True)
        keys = pd.concat([reps.drop(columns=["cluster"]), new], ignore_index=True)
        cluster_codes, uniques = pd.factorize(reps["cluster"])
        state = np.concatenate(
            [cluster_codes.astype(np.int64), np.full(len(new), -1, dtype=np.int64)]
        )
        labels, links, uncertain, npairs = self._run(keys, state, same, different)
        ids = keys["id"].tolist()
        clusters = dict(prev_clusters)
        # cluster label -> existing cluster id if the cluster holds a representative
        label_cluster: dict[int, Any] = {}
        for k in range(len(reps)):
            label_cluster[int(labels[k])] = uniques[cluster_codes[k]]
        for k in range(len(reps), len(ids)):
            lab = int(labels[k])
            clusters[ids[k]] = label_cluster.get(lab, ids[lab])
        self.clusters_ = clusters
        self._links = (
            pd.concat([prev_links, links], ignore_index=True) if len(prev_links) else links
        )
        self._uncertain = uncertain
        self.n_pairs_ = npairs
        self._keys = pd.concat([old.drop(columns=["cluster"]), new], ignore_index=True)
        return self

    @property
    def links_(self) -> pd.DataFrame:  # noqa: D401 - a learned attribute
        """Applied links with reasons (see the class docstring)."""
        if not hasattr(self, "_links"):
            raise AttributeError("links_ is set by fit(); call fit() or partial_fit() first")
        return _with_reasons(self._links, ["a", "b", "link", "score"])

    @property
    def uncertain_(self) -> pd.DataFrame:
        """Uncertain pairs with reasons (see the class docstring)."""
        if not hasattr(self, "_uncertain"):
            raise AttributeError("uncertain_ is set by fit(); call fit() or partial_fit() first")
        return _with_reasons(self._uncertain, ["a", "b", "score", "link"])

    def clusters_frame(self) -> pd.DataFrame:
        """``clusters_`` as a DataFrame with columns ``id``, ``cluster``."""
        return pd.DataFrame({"id": list(self.clusters_), "cluster": list(self.clusters_.values())})

    # ------------------------------------------------------------------ internals
    def _check_params(self) -> None:
        if not 0.0 <= self.lower <= self.upper <= 1.0:
            raise InputError(
                f"Dedupe thresholds must satisfy 0 <= lower <= upper <= 1; got lower={self.lower}, upper={self.upper}."
            )

    def _representatives(self, old: pd.DataFrame) -> pd.DataFrame:
        """Up to :data:`REPRESENTATIVES` keys per existing cluster, distinct title/DOI/year."""
        variant = old["title"] + "|" + old["doi"] + "|" + old["year"].astype(str)
        reps = old.assign(_variant=variant.to_numpy()).drop_duplicates(
            subset=["cluster", "_variant"]
        )
        reps = reps.groupby("cluster", sort=False, group_keys=False).head(REPRESENTATIVES)
        return reps.drop(columns=["_variant"]).reset_index(drop=True)

    def _run(
        self,
        keys: pd.DataFrame,
        state: np.ndarray,
        same: Iterable[Pair],
        different: Iterable[Pair],
    ) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame, int]:
        """Cluster the records of ``keys``; ``state[k]`` is record k's existing cluster
        code, -1 if new."""
        cand = self._candidates(keys, state)
        self._cand = (keys, state, cand)
        return self._decide(keys, state, cand, same, different)

    def _candidates(self, keys: pd.DataFrame, state: np.ndarray) -> dict[str, Any]:
        """Candidate pairs, their field scores and the traps that do not depend on the
        thresholds (stage 2 and 3 of :meth:`fit`)."""
        flags = keys[[c for c in keys.columns if c.startswith("flag_")]].rename(
            columns=lambda c: c[5:]
        )
        incremental = bool((state >= 0).any())
        subset = state < 0 if incremental else None
        i, j, _src = candidate_pairs(keys, window=self.window, subset=subset)
        if incremental:
            # two representatives of existing clusters are never compared again
            keep = (state[i] < 0) | (state[j] < 0)
            i, j = i[keep], j[keep]
        n_candidates = len(i)
        keep, ratio = prefilter(keys, i, j)
        i, j = i[keep], j[keep]
        sc = score_pairs(keys, i, j, ratio[keep])
        score = sc["score"].to_numpy()
        tsim = sc["title"].to_numpy()
        # traps matter only for pairs that could link or reach a person
        relevant = np.flatnonzero((score >= TRAP_FLOOR) | (tsim >= VERSION_REVIEW_TITLE))
        trap = np.full(len(i), -1, dtype=np.int8)
        trap[relevant] = pair_traps(
            keys,
            flags,
            i[relevant],
            j[relevant],
            tsim[relevant],
            page_code=sc["page"].to_numpy()[relevant],
            venue_sim=sc["venue"].to_numpy()[relevant],
            merge_conference_abstracts=self.merge_conference_abstracts,
        )
        generic = flags["generic"].to_numpy()
        conf_abs = flags["conf_abstract"].to_numpy()
        return {
            "abstract": conf_abs[i] | conf_abs[j],
            "i": i,
            "j": j,
            "sc": sc,
            "trap": trap,
            "kind": flags["kind"].to_numpy(dtype=object),
            "generic": generic[i] | generic[j],
            "n_candidates": n_candidates,
        }

    def _decide(
        self,
        keys: pd.DataFrame,
        state: np.ndarray,
        cand: dict[str, Any],
        same: Iterable[Pair],
        different: Iterable[Pair],
    ) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame, int]:
        """Decisions per pair and clustering (stages 4 and 5 of :meth:`fit`)."""
        n = len(keys)
        ids = keys["id"].to_numpy(dtype=object)
        same, different = list(same), list(different)
        # position of each id, only when there are human decisions to place
        pos = {x: k for k, x in enumerate(ids)} if (same or different) else {}
        i, j, sc = cand["i"], cand["j"], cand["sc"]
        score = sc["score"].to_numpy()
        d = self._pair_decisions(keys, cand)
        human_same = [(pos[a], pos[b]) for a, b in same if a in pos and b in pos]
        human_pairs = {(min(a, b), max(a, b)) for a, b in human_same}
        trapped = np.flatnonzero(d["trapped"])
        cannot: list[tuple[int, int]] = [
            (a, b)
            for a, b in zip(i[trapped].tolist(), j[trapped].tolist(), strict=True)
            if (a, b) not in human_pairs
        ]
        cannot += [(pos[a], pos[b]) for a, b in different if a in pos and b in pos]
        link_idx = np.flatnonzero(d["dup"] | d["version"])
        # strongest first; ties by position (ids order) for determinism
        order = link_idx[np.lexsort((j[link_idx], i[link_idx], -score[link_idx]))]
        labels, la, lb, lk = _cluster(n, state, cannot, human_same, i[order], j[order], order)
        lkind = [
            "same" if k < 0 else ("version-of" if d["version"][k] else "duplicate") for k in lk
        ]
        unc = _one_question_per_pair_of_works(np.flatnonzero(d["unsure"]), labels, i, j, score)
        trap = d["trap"]
        extra = {"trap": trap, "generic": cand["generic"], "title_min": self.title_min}
        lk_arr = np.asarray(lk, dtype=np.int64)
        links = _compact(
            sc,
            ids,
            np.asarray(la, dtype=np.int64),
            np.asarray(lb, dtype=np.int64),
            lk_arr,
            lkind,
            extra,
        )
        review_kind = np.where(d["propose"][unc], "version-of?", "uncertain").tolist()
        uncertain = _compact(sc, ids, i[unc], j[unc], unc, review_kind, extra)
        self.traps_ = {name: int((trap == c).sum()) for c, name in enumerate(TRAPS)}
        return labels, links, uncertain, int(cand["n_candidates"])

    def _pair_decisions(self, keys: pd.DataFrame, cand: dict[str, Any]) -> dict[str, np.ndarray]:
        """Per candidate pair (bool arrays): ``dup`` (merge), ``version`` (version-of
        link), ``propose`` (a version-of question), ``unsure`` (for a person),
        ``trapped`` (kept apart by a trap); and ``trap`` (the trap code, -1 none)."""
        i, j, sc = cand["i"], cand["j"], cand["sc"]
        score = sc["score"].to_numpy()
        tsim = sc["title"].to_numpy()
        trap = cand["trap"].copy()
        conflict = (trap < 0) & title_conflict(
            keys, i, j, tsim, self.title_min, sc["citation"].to_numpy()
        )
        trap[conflict] = TRAPS.index("title_conflict")
        hard = np.isin(trap, [TRAPS.index(t) for t in HARD])
        kind = cand["kind"]
        kinds_differ = kind[i] != kind[j]
        preprint = (kind[i] == "preprint") | (kind[j] == "preprint")
        # a version pair is not a duplicate even when it scores like one
        venue_sim = sc["venue"].to_numpy()
        year_code = sc["year"].to_numpy()
        versionish = kinds_differ & (
            preprint | (year_code != 1) | ~(np.nan_to_num(venue_sim, nan=1.0) >= 0.85)
        )
        # without a title (and no shared identifier) a person decides
        titles = keys["title"].to_numpy(dtype=object)
        no_title = ((titles[i] == "") | (titles[j] == "")) & (sc["ids"].to_numpy() != 1)
        authors = sc["authors"].to_numpy()
        # Without authors on a side, the title is the only evidence of identity, so it must
        # be the same title up to a typo: one title inside the other (which scores like a
        # typo when authors agree) is not enough ("ASAM: Anatomy-Encoded Segment Anything
        # Model for Medical Images" is a newer work named after "Segment Anything Model for
        # Medical Images?").
        title_only = np.isnan(authors) & (tsim >= min(self.title_min, VERSION_TITLE))
        plain = tsim.copy()
        plain[title_only] = plain_title_similarity(titles[i[title_only]], titles[j[title_only]])
        affix_only = title_only & (plain < self.title_min)
        dup = (score >= self.upper) & (trap < 0) & ~versionish & ~no_title & ~affix_only
        years = keys["year"].to_numpy()
        dy = np.abs(years[i] - years[j])
        could_be_version = (
            ~dup
            & kinds_differ
            & (np.isnan(authors) | (np.nan_to_num(authors) >= VERSION_AUTHORS))
            & ((trap < 0) | (trap == TRAPS.index("series")))
            & ((years[i] == 0) | (years[j] == 0) | (dy <= VERSION_YEARS))
        )
        # a preprint and its published version: one study, linked automatically;
        # a conference paper and its (extended, re-titled) journal version: a person decides
        version = np.zeros(len(i), dtype=bool)
        if self.link_versions:
            version = could_be_version & preprint & (plain >= VERSION_TITLE)
        # (a meeting abstract is not a version: merge_conference_abstracts decides those)
        propose = could_be_version & ~version & (tsim >= VERSION_REVIEW_TITLE) & ~cand["abstract"]
        return {
            "dup": dup,
            "version": version,
            "propose": propose,
            "unsure": ~dup & ~version & (((score >= self.lower) & ~hard) | propose),
            # pairs a trap (not a human) keeps apart, that would otherwise have linked
            "trapped": (trap >= 0) & ((score >= self.lower) | (tsim >= VERSION_TITLE)) & ~version,
            "trap": trap,
        }

    def rethreshold(
        self,
        *,
        upper: float | None = None,
        lower: float | None = None,
        title_min: float | None = None,
    ) -> Deduplicator:
        """Re-decide the last :meth:`fit` with other thresholds, reusing its candidate pairs
        and field scores (for tuning: scoring is most of the time of a fit).

        Only after :meth:`fit` without human decisions; returns ``self``.
        """
        if not hasattr(self, "_cand"):
            raise AttributeError("rethreshold() needs a fit() first")
        keys, state, cand = self._cand
        if (state >= 0).any():
            raise InputError("rethreshold() works after fit(), not after partial_fit().")
        if upper is not None:
            self.upper = upper
        if lower is not None:
            self.lower = lower
        if title_min is not None:
            self.title_min = title_min
        self._check_params()
        labels, links, uncertain, npairs = self._decide(keys, state, cand, (), ())
        ids = keys["id"].tolist()
        self.clusters_ = {ids[k]: ids[labels[k]] for k in range(len(ids))}
        self._links = links
        self._uncertain = uncertain
        self.n_pairs_ = npairs
        return self


def _cluster(
    n: int,
    state: np.ndarray,
    cannot: list[tuple[int, int]],
    human_same: list[tuple[int, int]],
    a: np.ndarray,
    b: np.ndarray,
    rows: np.ndarray,
) -> tuple[np.ndarray, list[int], list[int], list[int]]:
    """Union-find over ``n`` records: human "same" pairs first, then the links ``(a, b)``
    in the order given (``rows``: their rows in the scores), never across ``cannot``
    and never joining two existing clusters (``state`` >= 0: the record's cluster).

    Returns a label per record (the smallest position in its cluster) and the applied
    links as three lists: ``a``, ``b`` and the score row (-1 for a human decision)."""
    uf = UnionFind(n, cannot)
    # existing clusters: pre-union their representatives, and never merge two of them
    old_root: dict[int, int] = {}
    for k in np.flatnonzero(state >= 0).tolist():
        c = int(state[k])
        old_root[c] = uf.join(old_root[c], k) if c in old_root else k
    has_old = np.zeros(n, dtype=bool)
    has_old[[uf.find(r) for r in old_root.values()]] = True

    def union(x: int, y: int) -> bool:
        rx, ry = uf.find(x), uf.find(y)
        if rx == ry:
            return True
        if (has_old[rx] and has_old[ry]) or not uf.union(rx, ry):
            return False
        has_old[uf.find(rx)] = has_old[rx] or has_old[ry]
        return True

    la: list[int] = []
    lb: list[int] = []
    lk: list[int] = []
    for x, y in human_same:
        if union(x, y):
            la.append(x)
            lb.append(y)
            lk.append(-1)
    for x, y, k in zip(a.tolist(), b.tolist(), rows.tolist(), strict=True):
        if uf.find(x) != uf.find(y) and union(x, y):
            la.append(x)
            lb.append(y)
            lk.append(k)
    roots = uf.labels()
    first = np.full(n, n, dtype=np.int64)
    np.minimum.at(first, roots, np.arange(n))
    return first[roots], la, lb, lk


def _one_question_per_pair_of_works(
    unc: np.ndarray, labels: np.ndarray, i: np.ndarray, j: np.ndarray, score: np.ndarray
) -> np.ndarray:
    """The uncertain pairs ``unc`` whose records ended in different clusters, one per
    pair of clusters (its best-scoring pair), sorted."""
    unc = unc[labels[i[unc]] != labels[j[unc]]]
    if not len(unc):
        return unc
    lo = np.minimum(labels[i[unc]], labels[j[unc]])
    hi = np.maximum(labels[i[unc]], labels[j[unc]])
    by = np.lexsort((-score[unc], hi, lo))
    first_of = np.ones(len(by), dtype=bool)
    first_of[1:] = (lo[by][1:] != lo[by][:-1]) | (hi[by][1:] != hi[by][:-1])
    return np.sort(unc[by[first_of]])


_SC_COLUMNS = (*FIELDS, *(f"w_{f}" for f in FIELDS), "logit", "score")


def _compact(
    sc: pd.DataFrame,
    ids: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    k: np.ndarray,
    kinds: list[str],
    extra: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Links as columns: ids, link type, the pair's field scores (NaN for humans), the
    trap code (-1 none), whether a title is generic, and the title threshold used."""
    human = k < 0
    rows = np.where(human, 0, k)
    # built as a dict and made a DataFrame once (inserting columns one by one costs more
    # than the data)
    out: dict[str, Any] = {
        "a": ids[a] if len(a) else [],
        "b": ids[b] if len(b) else [],
        "link": kinds,
    }
    for c in _SC_COLUMNS:
        col = sc[c].to_numpy()[rows] if len(k) and len(sc) else np.full(len(k), np.nan)
        out[c] = np.where(human, np.nan, col).astype(np.float32 if c != "score" else np.float64)
    out["score"][human] = 1.0
    extra = extra or {}
    for c, fill in (("trap", -1), ("generic", False)):
        col = extra.get(c)
        vals = col[rows] if col is not None and len(k) and len(col) else np.full(len(k), fill)
        out[c] = np.where(human, fill, vals)
    out["title_min"] = np.full(len(k), float(extra.get("title_min", np.nan)))
    return pd.DataFrame(out)


def evidence(row: Mapping[str, Any]) -> dict[str, str]:
    """The evidence weighed for one pair, in words: each contradiction check and its
    outcome (identifiers, pages, title, generic title), from a compact link row."""
    ids = int(row.get("ids", 0) or 0)
    page = int(row.get("page", 0) or 0)
    title = row.get("title")
    tmin = row.get("title_min")
    out = {
        "identifiers": {1: "same DOI or id", -1: "different ids (a known version pattern)"}.get(
            ids, "not both present"
        ),
        "pages": {
            1: "same first page",
            2: "near (an export error)",
            -1: "different ranges",
            -2: "different numbering (supplement or article number)",
        }.get(page, "not both present"),
    }
    if title is not None and not (isinstance(title, float) and np.isnan(title)):
        limit = float("nan") if tmin is None else float(tmin)
        within = np.isnan(limit) or float(title) >= limit
        out["title"] = f"similarity {float(title):.3f}" + (
            " (within a typo)" if within else f" (below {limit:.2f}: differ)"
        )
    if row.get("generic"):
        out["generic_title"] = (
            "generic title: merged only on hard evidence (same DOI, or same page and issue)"
        )
    trap = int(row.get("trap", -1))
    if trap >= 0:
        out["trap"] = TRAPS[trap]
    return out


def _with_reasons(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The public view of a compact link table: ``columns`` plus a ``reason`` dict per row."""
    reasons = []
    for row in table.to_dict("records"):
        if row["link"] == "same":
            reasons.append({"rule": "human decision: same"})
        else:
            why = reason(row)
            why["rule"] = row["link"]
            why["evidence"] = evidence(row)
            trap = int(row.get("trap", -1))
            if trap >= 0:
                why["trap"] = TRAPS[trap]
            reasons.append(why)
    out = table[columns].reset_index(drop=True).copy()
    out["reason"] = reasons
    return out


def _empty_links() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": [],
            "b": [],
            "link": [],
            **{c: [] for c in _SC_COLUMNS},
            "trap": [],
            "generic": [],
            "title_min": [],
        }
    )
