"""``fmreview fulltext`` over the store: fetch and read the review's PDFs, re-extract.

The store glue of :mod:`fmreview.extract.fulltext` (which reads PDFs and finds sections),
apart so that the extraction stage can read full texts without an import circle.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa

from fmreview.errors import InputError
from fmreview.extract.fulltext import fetch_pdfs, fulltexts_in
from fmreview.extract.rules import FULLTEXT_AXES
from fmreview.extract.store_io import current_labels, extract_store
from fmreview.progress import NullReporter
from fmreview.status import work_statuses
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store


def fulltext_store(
    store: Store,
    *,
    online: bool = False,
    client: Any = None,
    email: str | None = None,
    reporter: Any = None,
) -> dict[str, Any]:
    """Fetch (``online``) and read the review's PDFs, then re-run extraction with them.

    Works are the active, not excluded ones. PDFs live in the review folder's ``pdfs/``.
    Returns counts: ``works``, ``with_fulltext``, the fetch counts when online, and the
    ``extract`` run's counts; plus ``found``: per work with full text, the modality, task
    and dataset labels its methods/experiments gave, with page and sentence.
    """
    reporter = reporter or NullReporter()
    if store.folder is None:
        raise InputError("full text needs a review folder (the PDFs live in <folder>/pdfs)")
    folder = Path(store.folder) / "pdfs"
    with store.connect() as conn:
        w = schema.works
        works = [
            dict(r._mapping)
            for r in conn.execute(sa.select(w).where(w.c.merged_into.is_(None)).order_by(w.c.id))
        ]
    excluded = {
        wid for wid, st in work_statuses(store).items() if str(st.status).startswith("excluded")
    }
    works = [x for x in works if int(x["id"]) not in excluded]
    out: dict[str, Any] = {"works": len(works)}
    if online:
        if client is None:
            client = httpx.Client(timeout=60.0, follow_redirects=True)
        out["fetch"] = fetch_pdfs(works, folder, client, email=email, reporter=reporter).as_dict()
    texts = fulltexts_in(folder, works) if folder.is_dir() else {}
    out["with_fulltext"] = len(texts)
    with store.run("fulltext", {"online": online, "works": len(works)}) as run:
        counts = extract_store(store, run_id=run.id, reporter=reporter, fulltexts=texts)
        run.counts.update({"with_fulltext": len(texts), **out.get("fetch", {})})
    out["extract"] = counts
    out["found"] = fulltext_findings(store, list(texts))
    return out


def fulltext_findings(store: Store, work_ids: list[int]) -> list[dict[str, Any]]:
    """Current modality/task/dataset labels resting on full-text evidence, per work."""
    if not work_ids:
        return []
    cur = current_labels(store, work_ids=work_ids)
    rows = []
    for r in cur.to_dict("records"):
        if r["axis"] not in FULLTEXT_AXES:
            continue
        spans = [e for e in r["evidence"] or [] if str(e.get("field", "")).startswith("fulltext")]
        if spans:
            rows.append(
                {
                    "work_id": int(r["work_id"]),
                    "axis": r["axis"],
                    "value": r["value"],
                    "page": str(spans[0]["field"]).replace("fulltext p.", ""),
                    "sentence": spans[0].get("text", ""),
                }
            )
    return rows
