"""The dashboard page and its JSON twin."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from fmreview.web.auth import User
from fmreview.web.context import json_response, page, require_user, web
from fmreview.web.dashboard import dashboard

router = APIRouter()


@router.get("/dashboard")
def dashboard_page(request: Request, user: User = Depends(require_user)) -> Response:
    st = web(request)
    data = dashboard(
        st.store, admin=user.is_admin, blinded=st.queue.blinded_for(is_admin=user.is_admin)
    )
    return page(request, "dashboard.html", d=data, mine=st.queue.progress(user.username))


@router.get("/api/dashboard")
def dashboard_api(request: Request, user: User = Depends(require_user)) -> Response:
    st = web(request)
    return json_response(
        dashboard(
            st.store, admin=user.is_admin, blinded=st.queue.blinded_for(is_admin=user.is_admin)
        )
    )
