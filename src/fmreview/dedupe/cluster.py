"""Clustering accepted links into works, honouring cannot-link constraints.

Links are applied strongest first (human "same" decisions, then by score); a link is
skipped when it would put two records with a cannot-link constraint (a human "different"
decision, or a trap) into one cluster. This is union-find with constraint sets carried by
the roots; it is hand-written because scipy's ``connected_components`` has no constraints.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class UnionFind:
    """Union-find over ``0..n-1`` with cannot-link constraints between records.

    Parameters
    ----------
    n : int
        Number of elements.
    cannot : iterable of (int, int)
        Pairs that must never end up in the same set.
    """

    def __init__(self, n: int, cannot: Iterable[tuple[int, int]] = ()) -> None:
        self.parent = np.arange(n, dtype=np.int64)
        self.size = np.ones(n, dtype=np.int64)
        # root -> elements with which it may not be merged (any member's constraints)
        self.cannot: dict[int, set[int]] = {}
        for a, b in cannot:
            if a == b:
                continue
            self.cannot.setdefault(int(a), set()).add(int(b))
            self.cannot.setdefault(int(b), set()).add(int(a))

    def find(self, x: int) -> int:
        parent = self.parent
        root = int(x)
        while parent[root] != root:
            root = int(parent[root])
        while parent[x] != root:  # path compression
            parent[x], x = root, int(parent[x])
        return root

    def allowed(self, a: int, b: int) -> bool:
        """Whether the sets of ``a`` and ``b`` may be merged."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ca, cb = self.cannot.get(ra), self.cannot.get(rb)
        if not ca and not cb:
            return True
        if ca and cb and len(cb) < len(ca):
            ca, cb, ra, rb = cb, ca, rb, ra
        if ca:
            return all(self.find(x) != rb for x in ca)
        return all(self.find(x) != ra for x in cb or ())

    def union(self, a: int, b: int) -> bool:
        """Merge the sets of ``a`` and ``b`` if allowed; True if they are (now) one set."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if not self.allowed(ra, rb):
            return False
        self.join(ra, rb)
        return True

    def join(self, a: int, b: int) -> int:
        """Merge the sets of ``a`` and ``b`` unconditionally; returns the new root."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        cb = self.cannot.pop(rb, None)
        if cb:
            self.cannot.setdefault(ra, set()).update(cb)
        return ra

    def labels(self) -> np.ndarray:
        """The root of every element (a cluster label), by pointer jumping in NumPy (a few
        vectorised steps instead of one ``find`` per element); compresses every path."""
        parent = self.parent
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
        self.parent = parent.copy()
        return parent


def cluster_links(
    n: int,
    a: np.ndarray,
    b: np.ndarray,
    strength: np.ndarray,
    cannot: Iterable[tuple[int, int]] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ``n`` records from links ``(a[k], b[k])`` applied in decreasing ``strength``.

    Returns ``(labels, accepted)``: a cluster label per record (the smallest member
    position, so labels do not depend on link order) and a boolean per link telling
    whether it was applied (False when a cannot-link constraint refused it).
    """
    uf = UnionFind(n, cannot)
    order = np.lexsort((b, a, -np.asarray(strength, dtype=np.float64)))
    accepted = np.zeros(len(a), dtype=bool)
    if not uf.cannot:
        # no constraints: plain union-find, accepted always True
        for k in order:
            uf.union(int(a[k]), int(b[k]))
        accepted[:] = True
    else:
        for k in order:
            accepted[k] = uf.union(int(a[k]), int(b[k]))
    roots = uf.labels()
    # relabel each cluster by its smallest member position
    first = np.full(n, n, dtype=np.int64)
    np.minimum.at(first, roots, np.arange(n))
    return first[roots], accepted
