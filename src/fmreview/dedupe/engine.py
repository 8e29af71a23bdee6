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
from .scoring import FIELDS, prefilter, reason, score_pairs
from .traps import TRAPS, pair_traps, record_flags

Pair = tuple[Any, Any]

#: Minimal title similarity for a version-of link.
VERSION_TITLE = 0.93
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
    keys = keys.drop(
        columns=["issue", "issue_raw", "volume_raw", "type", "n_authors", "has_abstract"]
    )
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
        Pairs scoring at or above this merge as duplicates.
    lower : float
        Pairs scoring in ``[lower, upper)`` are uncertain: reported in ``uncertain_`` for a
        person to decide, not merged.
    link_versions : bool
        Link preprint ↔ published and conference ↔ journal versions (same title and
        authors) as ``version-of`` into one work.
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
        Pairs between ``lower`` and ``upper`` whose records ended in different clusters:
        ``a``, ``b``, ``score``, ``reason``.
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
        upper: float = 0.9,
        lower: float = 0.75,
        link_versions: bool = True,
        merge_conference_abstracts: bool = False,
        window: int = 8,
    ) -> None:
        self.upper = upper
        self.lower = lower
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
        return _with_reasons(self._uncertain, ["a", "b", "score"])

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
        n = len(keys)
        ids = keys["id"].to_numpy(dtype=object)
        same, different = list(same), list(different)
        # position of each id, only when there are human decisions to place
        pos = {x: k for k, x in enumerate(ids)} if (same or different) else {}
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
        # traps matter only for pairs that could link
        relevant = np.flatnonzero((score >= self.lower) | (tsim >= VERSION_TITLE))
        trap = np.full(len(i), -1, dtype=np.int8)
        trap[relevant] = pair_traps(
            keys,
            flags,
            i[relevant],
            j[relevant],
            tsim[relevant],
            merge_conference_abstracts=self.merge_conference_abstracts,
        )
        kind = flags["kind"].to_numpy(dtype=object)
        kinds_differ = kind[i] != kind[j]
        preprint = (kind[i] == "preprint") | (kind[j] == "preprint")
        # a version pair is not a duplicate even when it scores like one
        venue_sim = sc["venue"].to_numpy()
        year_code = sc["year"].to_numpy()
        versionish = kinds_differ & (
            preprint | (year_code != 1) | ~(np.nan_to_num(venue_sim, nan=1.0) >= 0.85)
        )
        # without a title (and no shared identifier) a person decides
        titled = (keys["title"].to_numpy(dtype=object)[i] != "") & (
            keys["title"].to_numpy(dtype=object)[j] != ""
        )
        no_title = ~titled & (sc["ids"].to_numpy() != 1)
        dup = (score >= self.upper) & (trap < 0) & ~versionish & ~no_title
        authors = sc["authors"].to_numpy()
        years = keys["year"].to_numpy()
        dy = np.abs(years[i] - years[j])
        version = np.zeros(len(i), dtype=bool)
        if self.link_versions:
            version = (
                ~dup
                & kinds_differ
                & (sc["title"].to_numpy() >= VERSION_TITLE)
                & (np.isnan(authors) | (np.nan_to_num(authors) >= VERSION_AUTHORS))
                & ((trap < 0) | (trap == TRAPS.index("series")))
                & ((years[i] == 0) | (years[j] == 0) | (dy <= VERSION_YEARS))
            )
        unsure = ~dup & ~version & (score >= self.lower) & (trap < 0)
        # pairs a trap (not a human) keeps apart, that would otherwise have linked
        trapped = (trap >= 0) & (score >= self.lower) & ~version

        cannot: list[tuple[int, int]] = [
            (int(a), int(b)) for a, b in zip(i[trapped], j[trapped], strict=True)
        ]
        for a, b in different:
            if a in pos and b in pos:
                cannot.append((pos[a], pos[b]))
        human_same = [(pos[a], pos[b]) for a, b in same if a in pos and b in pos]

        uf = UnionFind(n, cannot)
        # existing clusters: pre-union their representatives, and never merge two of them
        old_root: dict[int, int] = {}
        for k in np.flatnonzero(state >= 0):
            c = int(state[k])
            old_root[c] = uf.join(old_root[c], int(k)) if c in old_root else int(k)
        has_old = np.zeros(n, dtype=bool)
        has_old[[uf.find(r) for r in old_root.values()]] = True

        def union(a: int, b: int) -> bool:
            ra, rb = uf.find(a), uf.find(b)
            if ra == rb:
                return True
            if has_old[ra] and has_old[rb]:
                return False
            if not uf.union(ra, rb):
                return False
            has_old[uf.find(ra)] = has_old[ra] or has_old[rb]
            return True

        # links as compact columns; reason dicts are built only when links_ is read
        la: list[int] = []
        lb: list[int] = []
        lkind: list[str] = []
        lk: list[int] = []  # row in sc, -1 for a human decision
        for a, b in human_same:
            if union(a, b):
                la.append(a)
                lb.append(b)
                lkind.append("same")
                lk.append(-1)
        link_idx = np.flatnonzero(dup | version)
        # strongest first; ties by position (ids order) for determinism
        order = link_idx[np.lexsort((j[link_idx], i[link_idx], -score[link_idx]))]
        for k in order:
            a, b = int(i[k]), int(j[k])
            if uf.find(a) != uf.find(b) and union(a, b):
                la.append(a)
                lb.append(b)
                lkind.append("version-of" if version[k] else "duplicate")
                lk.append(int(k))
        roots = np.array([uf.find(k) for k in range(n)], dtype=np.int64)
        first = np.full(n, n, dtype=np.int64)
        np.minimum.at(first, roots, np.arange(n))
        labels = first[roots]
        unc = np.flatnonzero(unsure)
        unc = unc[labels[i[unc]] != labels[j[unc]]]
        links = _compact(
            sc,
            ids,
            np.asarray(la, dtype=np.int64),
            np.asarray(lb, dtype=np.int64),
            np.asarray(lk, dtype=np.int64),
            lkind,
        )
        uncertain = _compact(sc, ids, i[unc], j[unc], unc, ["uncertain"] * len(unc))
        self.traps_ = {name: int((trap == c).sum()) for c, name in enumerate(TRAPS)}
        return labels, links, uncertain, n_candidates


_SC_COLUMNS = (*FIELDS, *(f"w_{f}" for f in FIELDS), "logit", "score")


def _compact(
    sc: pd.DataFrame, ids: np.ndarray, a: np.ndarray, b: np.ndarray, k: np.ndarray, kinds: list[str]
) -> pd.DataFrame:
    """Links as columns: ids, link type, and the pair's field scores (NaN for humans)."""
    out = pd.DataFrame(
        {"a": ids[a] if len(a) else [], "b": ids[b] if len(b) else [], "link": kinds}
    )
    human = k < 0
    for c in _SC_COLUMNS:
        col = (
            sc[c].to_numpy()[np.where(human, 0, k)]
            if len(k) and len(sc)
            else np.full(len(k), np.nan)
        )
        out[c] = np.where(human, np.nan, col).astype(np.float32 if c != "score" else np.float64)
    out.loc[human, "score"] = 1.0
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
            reasons.append(why)
    out = table[columns].reset_index(drop=True).copy()
    out["reason"] = reasons
    return out


def _empty_links() -> pd.DataFrame:
    return pd.DataFrame({"a": [], "b": [], "link": [], **{c: [] for c in _SC_COLUMNS}})
