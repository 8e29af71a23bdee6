"""The web app's pages, one module per area; :func:`register` adds them all."""

from __future__ import annotations

from fastapi import FastAPI


def register(app: FastAPI) -> None:
    from fmreview.web.routes import account, admin, dashboard, files, human, screening

    for module in (account, dashboard, screening, human, files, admin):
        app.include_router(module.router)
