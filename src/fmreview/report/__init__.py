"""The review as a publication (issue 9): PRISMA 2020 flow from the store, methods,
figures, tables, exports and a self-contained HTML report.

Public surface::

    build_report(store, *, reporter=None, out_dir=None) -> dict    everything, into DIR/report/
    prisma_counts(store) -> PrismaCounts                          the flow numbers (+ .invariants())
    methods_sections(store, *, analysis=None) / methods_text(...)  PRISMA items 6-13
    export_all(store, folder)                                      RIS/BibTeX/CSV, extraction, RevMan

Import the submodules for the rest; this module imports lazily so ``import fmreview.report``
stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PrismaCounts",
    "build_report",
    "export_all",
    "methods_sections",
    "methods_text",
    "prisma_counts",
]


def __getattr__(name: str) -> Any:
    if name == "build_report":
        from fmreview.report.build import build_report

        return build_report
    if name in ("prisma_counts", "PrismaCounts"):
        from fmreview.report import prisma

        return getattr(prisma, name)
    if name in ("methods_sections", "methods_text"):
        from fmreview.report import methods

        return getattr(methods, name)
    if name == "export_all":
        from fmreview.report.exports import export_all

        return export_all
    raise AttributeError(f"module 'fmreview.report' has no attribute {name!r}")
