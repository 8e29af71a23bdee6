"""Dataset utilization: works per dataset, top datasets per modality and task, share of
works using a public dataset, pretraining vs evaluation use, and the co-usage network.

A dataset label is *public* when the gazetteer names it (its ``name`` or one of its
``aliases``, ``;``-separated, compared case- and punctuation-insensitively).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

import networkx as nx
import pandas as pd
from networkx.algorithms import community as nx_community

from .frame import AnalysisFrame

DATASET_AXIS = "datasets"


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.lower())


def gazetteer_index(gazetteer: pd.DataFrame | None) -> dict[str, dict[str, object]]:
    """Normalised name/alias -> gazetteer row (as a dict)."""
    if gazetteer is None or "name" not in gazetteer.columns:
        return {}
    index: dict[str, dict[str, object]] = {}
    for row in gazetteer.to_dict("records"):
        names = [str(row["name"])]
        aliases = row.get("aliases")
        if isinstance(aliases, str):
            names += [a for a in re.split(r"\s*;\s*", aliases) if a]
        for n in names:
            index.setdefault(_key(n), row)
    return index


@dataclass
class DatasetTables:
    """All dataset-utilization tables (tidy DataFrames) and notes."""

    usage: pd.DataFrame
    per_year: pd.DataFrame
    top_by: pd.DataFrame
    public_share: pd.DataFrame
    roles: pd.DataFrame
    nodes: pd.DataFrame
    edges: pd.DataFrame
    communities: pd.DataFrame
    modularity: float | None
    notes: list[str] = field(default_factory=list)

    def named(self) -> dict[str, pd.DataFrame]:
        """The tables by the names an analysis result stores them under."""
        return {name: getattr(self, attr) for attr, name in _RESULT_NAMES}


#: DatasetTables attribute -> table name in :class:`~fmreview.analysis.results.AnalysisResult`.
_RESULT_NAMES = (
    ("usage", "dataset_usage"),
    ("per_year", "dataset_per_year"),
    ("top_by", "dataset_top"),
    ("public_share", "dataset_public_share"),
    ("roles", "dataset_roles"),
    ("nodes", "dataset_nodes"),
    ("edges", "dataset_edges"),
    ("communities", "dataset_communities"),
)


_USAGE_COLUMNS = [
    "dataset",
    "n_works",
    "share_of_works",
    "share_of_users",
    "public",
    "gazetteer_name",
    "modality",
    "body_region",
    "small",
]


def dataset_tables(
    frame: AnalysisFrame, *, axis: str = DATASET_AXIS, by: tuple[str, ...] = ("modality", "task")
) -> DatasetTables:
    """Build every dataset table from the ``datasets`` axis of ``frame``."""
    s = frame.settings
    notes: list[str] = []
    lab = frame.labels[frame.labels["axis"] == axis][["work_id", "value"]].rename(
        columns={"value": "dataset"}
    )
    gaz = gazetteer_index(s.gazetteer)
    if s.gazetteer is None:
        notes.append("no gazetteer: public-dataset share not computed")
    usage = _usage_table(frame, lab, gaz)
    per_year = _per_year_table(frame, lab, usage["dataset"])
    top_by = _top_by_table(frame, lab, by)
    public_share = _public_share_table(frame, lab, gaz)
    roles = _roles_table(frame, axis)
    if roles is None:
        notes.append("no dataset roles in the labels: pretraining vs evaluation use not known")
        roles = pd.DataFrame(columns=["dataset", "role", "n_works"])
    nodes, edges, comms, modularity = co_usage_network(lab, min_cell=s.min_cell)
    return DatasetTables(
        usage, per_year, top_by, public_share, roles, nodes, edges, comms, modularity, notes
    )


def _usage_table(
    frame: AnalysisFrame, lab: pd.DataFrame, gaz: dict[str, dict[str, object]]
) -> pd.DataFrame:
    """Works per dataset, overall, with its gazetteer entry; most used first."""
    n_all = len(frame.works)
    users = lab["work_id"].nunique()
    rows = []
    for ds, grp in lab.groupby("dataset"):
        row = gaz.get(_key(str(ds)))
        n = grp["work_id"].nunique()
        rows.append(
            {
                "dataset": ds,
                "n_works": int(n),
                "share_of_works": n / n_all if n_all else None,
                "share_of_users": n / users if users else None,
                "public": (row is not None) if gaz else None,
                "gazetteer_name": row.get("name") if row else None,
                "modality": row.get("modality") if row else None,
                "body_region": row.get("body_region") if row else None,
                "small": n < frame.settings.min_cell,
            }
        )
    usage = pd.DataFrame(rows, columns=_USAGE_COLUMNS)
    if len(usage):
        usage = usage.sort_values(["n_works", "dataset"], ascending=[False, True]).reset_index(
            drop=True
        )
    return usage


def _per_year_table(frame: AnalysisFrame, lab: pd.DataFrame, datasets: pd.Series) -> pd.DataFrame:
    """Works per dataset and year, every year of the frame (zeros included)."""
    min_cell = frame.settings.min_cell
    dated = lab.merge(frame.dated[["work_id", "year"]], on="work_id")
    cnt = dated.groupby(["dataset", "year"])["work_id"].nunique()
    return pd.DataFrame(
        [
            {
                "dataset": ds,
                "year": y,
                "n_works": int(cnt.get((ds, y), 0)),
                "partial": frame.is_partial_year(y),
                "small": int(cnt.get((ds, y), 0)) < min_cell,
            }
            for ds in datasets
            for y in frame.all_years
        ],
        columns=["dataset", "year", "n_works", "partial", "small"],
    )


def _top_by_table(frame: AnalysisFrame, lab: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    """The ``top_n`` datasets per value of each axis in ``by`` (e.g. per modality)."""
    s = frame.settings
    rows = []
    for other in by:
        if other not in frame.axes:
            continue
        for value in frame.values(other):
            ids = frame.work_ids(other, value)
            sub = lab[lab["work_id"].isin(ids)]
            counts = sub.groupby("dataset")["work_id"].nunique().sort_values(ascending=False)
            counts = counts.reset_index().sort_values(
                ["work_id", "dataset"], ascending=[False, True]
            )
            for rank, (ds, n) in enumerate(
                zip(counts["dataset"], counts["work_id"], strict=True), start=1
            ):
                if rank > s.top_n:
                    break
                rows.append(
                    {
                        "axis": other,
                        "value": value,
                        "rank": rank,
                        "dataset": ds,
                        "n_works": int(n),
                        "share": n / len(ids) if ids else None,
                        "small": n < s.min_cell,
                    }
                )
    return pd.DataFrame(
        rows, columns=["axis", "value", "rank", "dataset", "n_works", "share", "small"]
    )


def _public_share_table(
    frame: AnalysisFrame, lab: pd.DataFrame, gaz: dict[str, dict[str, object]]
) -> pd.DataFrame:
    """Share of works using any (and a public) dataset, per year and overall."""
    public_ids = {
        w for w, ds in zip(lab["work_id"], lab["dataset"], strict=True) if _key(str(ds)) in gaz
    }
    any_ids = set(lab["work_id"])
    rows = []
    periods: list[tuple[str | int, set[int]]] = [
        (y, set(frame.dated.loc[frame.dated["year"] == y, "work_id"])) for y in frame.all_years
    ]
    periods.append(("all", set(frame.works["work_id"])))
    for period, ids in periods:
        n = len(ids)
        n_any = len(ids & any_ids)
        n_pub = len(ids & public_ids) if gaz else None
        rows.append(
            {
                "period": str(period),
                "n_works": n,
                "n_any_dataset": n_any,
                "share_any_dataset": n_any / n if n else None,
                "n_public_dataset": n_pub,
                "share_public_dataset": (n_pub / n if n else None) if n_pub is not None else None,
                "partial": period != "all" and frame.is_partial_year(int(period)),
                "small": n < frame.settings.min_cell,
            }
        )
    return pd.DataFrame(rows)


def _roles_table(frame: AnalysisFrame, axis: str) -> pd.DataFrame | None:
    """Works per dataset and role (pretraining vs evaluation); None when no label row
    of ``axis`` carried a role."""
    r = frame.roles[frame.roles["axis"] == axis]
    if not len(r):
        return None
    return (
        r.groupby(["value", "role"])["work_id"]
        .nunique()
        .reset_index()
        .rename(columns={"value": "dataset", "work_id": "n_works"})
        .sort_values(["dataset", "role"])
        .reset_index(drop=True)
    )


def co_usage_graph(lab: pd.DataFrame) -> nx.Graph:
    """Datasets as nodes (``n_works``), edges weighted by the works using both."""
    g = nx.Graph()
    per_work = lab.groupby("work_id")["dataset"].apply(lambda s: sorted(set(s)))
    node_counts: Counter[str] = Counter()
    edge_counts: Counter[tuple[str, str]] = Counter()
    for dsets in per_work:
        node_counts.update(dsets)
        edge_counts.update(itertools.combinations(dsets, 2))
    for ds, n in sorted(node_counts.items()):
        g.add_node(ds, n_works=n)
    for (a, b), w in sorted(edge_counts.items()):
        g.add_edge(a, b, weight=w)
    return g


def co_usage_network(
    lab: pd.DataFrame, *, min_cell: int = 5
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, float | None]:
    """(nodes, edges, communities, modularity) of the dataset co-usage network.

    Communities come from ``networkx`` greedy modularity maximisation (Clauset, Newman &
    Moore 2004) on edge weights; it is deterministic, so the same data give the same
    communities. Community ids are numbered by size (0 = largest).
    """
    g = co_usage_graph(lab)
    node_cols = ["dataset", "n_works", "degree", "strength", "community"]
    if g.number_of_nodes() == 0:
        return (
            pd.DataFrame(columns=node_cols),
            pd.DataFrame(columns=["source", "target", "weight", "small"]),
            pd.DataFrame(columns=["community", "size", "members"]),
            None,
        )
    if g.number_of_edges():
        comms = nx_community.greedy_modularity_communities(g, weight="weight")
        modularity = float(nx_community.modularity(g, comms, weight="weight"))
    else:
        comms = [frozenset([n]) for n in g.nodes]
        modularity = None
    ordered = sorted((sorted(c) for c in comms), key=lambda c: (-len(c), c[0]))
    member = {n: i for i, c in enumerate(ordered) for n in c}
    nodes = pd.DataFrame(
        [
            {
                "dataset": n,
                "n_works": int(d["n_works"]),
                "degree": int(g.degree(n)),
                "strength": int(g.degree(n, weight="weight")),
                "community": member[n],
            }
            for n, d in g.nodes(data=True)
        ],
        columns=node_cols,
    )
    edges = pd.DataFrame(
        [
            {"source": a, "target": b, "weight": int(d["weight"]), "small": d["weight"] < min_cell}
            for a, b, d in g.edges(data=True)
        ],
        columns=["source", "target", "weight", "small"],
    )
    communities = pd.DataFrame(
        [{"community": i, "size": len(c), "members": c} for i, c in enumerate(ordered)],
        columns=["community", "size", "members"],
    )
    return nodes, edges, communities, modularity
