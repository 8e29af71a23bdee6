"""The review's ``effects`` table: study-level outcomes in, pooled results out.

Users fill it by importing a CSV (``fmreview effects import``) or through extraction; each
row holds one study's data for one outcome in metafor's ``escalc`` column names. Columns
that are not numeric escalc inputs (e.g. ``modality``, ``tp``, ``auc``) are kept in
``moderators`` and handed back to the analysis under their own names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fmreview.errors import InputError, NotFoundError
from fmreview.store import schema

#: The numeric escalc inputs: the effects table's Float columns, in table order (the
#: schema is their one list).
NUMERIC = tuple(c.name for c in schema.effects.columns if isinstance(c.type, sa.Float))
META_KIND = "meta"


def _number(value: Any, *, file: str, line: int, column: str) -> float | None:
    if value is None or str(value).strip() in ("", "NA"):
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(
            f"{file} line {line}: column {column!r} holds {value!r}, expected a number"
        ) from None


def import_effects(
    store: Any,
    path: Path | str,
    *,
    outcome: str | None = None,
    measure: str | None = None,
    source: str | None = None,
) -> int:
    """Add the rows of an effects CSV (one transaction: all rows or none).

    Required: ``study``; ``outcome`` as a column or the ``outcome`` argument. Optional:
    ``work_id`` (links a row to a work of the review), ``measure``, ``subgroup``.
    """
    from fmreview.meta.analysis import read_effects_csv

    path = Path(path)
    rows = read_effects_csv(path)
    out = []
    for i, r in enumerate(rows, start=2):  # line 1 is the header
        study = r.pop("study", None)
        if not study:
            raise InputError(
                f"{path} line {i}: column 'study' is empty or missing; every row names its study"
            )
        oc = r.pop("outcome", None) or outcome
        if not oc:
            raise InputError(
                f"{path} line {i}: no outcome; add an 'outcome' column or pass --outcome"
            )
        work_id = r.pop("work_id", None)
        row: dict[str, Any] = {
            "study": study,
            "outcome": oc,
            "measure": r.pop("measure", None) or measure,
            "subgroup": r.pop("subgroup", None),
            "work_id": int(work_id) if work_id else None,
            "source": source or str(path),
            "created_at": store.clock(),
        }
        for col in NUMERIC:
            row[col] = _number(r.pop(col, None), file=str(path), line=i, column=col)
        row["moderators"] = {k: v for k, v in r.items() if v is not None}
        out.append(row)
    with store.run("effects-import", {"file": str(path), "outcome": outcome}) as run:
        for row in out:
            row["run_id"] = run.id
        with store.begin() as conn:
            conn.execute(sa.insert(schema.effects), out)
        run.counts["rows"] = len(out)
    return len(out)


def outcomes(store: Any) -> list[str]:
    e = schema.effects
    with store.connect() as conn:
        return sorted(set(conn.execute(sa.select(e.c.outcome).distinct()).scalars()))


def effect_rows(store: Any, outcome: str) -> list[dict[str, Any]]:
    """The rows of one outcome in ``meta_analyze`` form (moderators flattened)."""
    e = schema.effects
    with store.connect() as conn:
        rows = conn.execute(sa.select(e).where(e.c.outcome == outcome).order_by(e.c.id)).all()
    if not rows:
        raise NotFoundError(
            f"no effects for outcome {outcome!r}; available: {', '.join(outcomes(store)) or 'none'}"
        )
    out = []
    for row in rows:
        m = dict(row._mapping)
        d: dict[str, Any] = {"study": m["study"]}
        if m["subgroup"] is not None:
            d["subgroup"] = m["subgroup"]
        d.update({k: m[k] for k in NUMERIC if m[k] is not None})
        d.update(m["moderators"] or {})
        out.append(d)
    return out


def meta_store(
    store: Any, *, outcome: str, measure: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Pool one outcome of the effects table and keep the result for the report."""
    from fmreview.meta import meta_analyze

    rows = effect_rows(store, outcome)
    if measure is None:
        e = schema.effects
        with store.connect() as conn:
            measures = set(
                conn.execute(sa.select(e.c.measure).where(e.c.outcome == outcome)).scalars()
            ) - {None}
        if len(measures) != 1:
            raise InputError(
                f"outcome {outcome!r} has measure(s) {sorted(measures) or 'none'} in the effects table; pass --measure"
            )
        measure = measures.pop()
    with store.run("meta", {"outcome": outcome, "measure": measure, **kwargs}) as run:
        result = meta_analyze(rows, measure=measure, **kwargs)
        store.add_artifact(
            META_KIND,
            outcome,
            json.dumps(result).encode(),
            meta={"measure": measure},
            run_id=run.id,
        )
        run.counts.update({"k": result.get("k"), "outcome": outcome})
        run.config = dict(result.get("config", {}))
    return result


def latest_meta_results(store: Any) -> dict[str, dict[str, Any]]:
    """The newest stored result per outcome."""
    a = schema.artifacts
    out: dict[str, dict[str, Any]] = {}
    with store.connect() as conn:
        for row in conn.execute(
            sa.select(a.c.key, a.c.data).where(a.c.kind == META_KIND).order_by(a.c.id)
        ):
            out[row.key] = json.loads(row.data)
    return out
