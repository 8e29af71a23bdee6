"""The web app's pages, one module per area; :func:`register` adds them all."""

from __future__ import annotations

from fastapi import FastAPI

from fmreview.web.routes import account, admin, dashboard, files, human, screening


def register(app: FastAPI) -> None:
    # the screening API first: its two routes take most requests (routes match in order)
    for module in (screening, account, dashboard, human, files, admin):
        app.include_router(module.router)
