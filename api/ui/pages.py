"""The model pages: ``/ui/models`` (every model and its alert state) and
``/ui/models/{model}`` (drift heatmap, performance, alerts, the governed loop).

A model's name may hold ``/`` (``team/churn``), so every route that names a model takes it
as the *last* part of its path (``{model:path}``): the page at ``/ui/models/{model}``, the
latest window's report at ``/ui/report/{model}``, the export at ``/ui/export/{model}``, the
operator forms at ``/ui/retrain/{model}`` and ``/ui/cancel/{model}``. A suffix after the
name (``/ui/models/{model}/report``) could not tell the report of ``a`` from the page of a
model called ``a/report``.

HTML rendered on the server from the same tables the JSON routes read, charts as inline
SVG (:mod:`reports.svg`), one stylesheet and one small script served from here: the pages
load nothing from elsewhere, and their Content-Security-Policy says so. Sessions and CSRF
are in :mod:`api.ui.sessions`; operator actions reuse the JSON routes' own functions, so a
form and an API call take the same path (publishing, auditing, refusing).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api.deps import ROLE_RANK
from api.query import TimeRange
from api.ratelimit import client_key
from api.ui import queries, sessions, views
from reports.style import CHART_CSS
from schemas.spec import NAME_PATTERN
from storage.keys import authenticate

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/ui", include_in_schema=False)
_NAME = re.compile(NAME_PATTERN)
STATIC = {
    "ui.css": ((HERE / "static" / "ui.css").read_text(encoding="utf-8"), "text/css"),
    "ui.js": ((HERE / "static" / "ui.js").read_text(encoding="utf-8"), "text/javascript"),
    "charts.css": (CHART_CSS, "text/css"),
    "favicon.svg": ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><path d="M1 12 '
                    'L5 7 L8 10 L15 3" fill="none" stroke="#f58518" stroke-width="2.5"/></svg>',
                    "image/svg+xml"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; script-src 'self'; "
                                "img-src 'self'; connect-src 'self'; form-action 'self'; "
                                "base-uri 'none'; frame-ancestors 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: under it browsers send "Origin: null" with form posts, which the
    # cross-site check must refuse
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: seconds between the model page's refreshes of itself
REFRESH_SECONDS = 15


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _error(request: Request, status: int, message: str,
           session: sessions.UiSession | None = None) -> HTMLResponse:
    return _page(request, "error.html", status, message=message, session=session,
                 title=f"{status}")


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a page of this UI: never another host (``//evil``), never a backslash trick."""
    if target and target.startswith("/ui/") and "//" not in target and "\\" not in target:
        return target
    return "/ui/models"


def _model(name: str) -> str:
    if len(name) > 128 or not _NAME.fullmatch(name):
        raise HTTPException(404, "no such model")
    return name


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, "no such file")
    body, media = STATIC[name]
    return Response(body, media_type=media, headers={"Cache-Control": "max-age=300",
                                                     "X-Content-Type-Options": "nosniff"})


@router.get("")
@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/models", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
    if sessions.current(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _page(request, "login.html", next=_safe_next(next), error=None, title="Sign in")


@router.post("/login")
async def login(request: Request, key: Annotated[str, Form(max_length=256)] = "",
                next: Annotated[str, Form(max_length=2048)] = "") -> Response:  # noqa: A002
    sessions.same_origin(request)
    # failed sign-ins are throttled like failed API keys: per client address, in the gate's
    # buckets, and an address that used them up gets no key lookup at all
    buckets = request.app.state.client_buckets
    address = client_key(request.client.host if request.client else None)
    if buckets.wait(address) > 0:
        return _page(request, "login.html", 429, next=_safe_next(next), title="Sign in",
                     error="Too many attempts; wait a minute and try again.")
    principal = await run_in_threadpool(authenticate, request.app.state.engine, key.strip())
    if principal is None:
        buckets.take(address)
        return _page(request, "login.html", 401, next=_safe_next(next), title="Sign in",
                     error="Unknown or revoked API key.")
    request.state.principal = principal
    response = RedirectResponse(_safe_next(next), status_code=303)
    sessions.start(request, response, principal)
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=256)] = "") -> Response:
    sessions.same_origin(request)
    session = await run_in_threadpool(sessions.current, request)
    if session is not None:
        sessions.check_csrf(session, csrf)
    response = RedirectResponse("/ui/login", status_code=303)
    sessions.end(request, response, session)
    return response


@router.get("/models")
async def models_page(request: Request) -> Response:
    session = await run_in_threadpool(sessions.current, request)
    if session is None:
        return _to_login(request)
    rows = await run_in_threadpool(queries.models, request.app.state.engine)
    return _page(request, "models.html", session=session, models=rows, title="Models",
                 refresh=REFRESH_SECONDS, fmt_time=views.fmt_time)


def _operator(session: sessions.UiSession) -> bool:
    return ROLE_RANK.get(session.principal.role, 0) >= ROLE_RANK["operator"]


@router.get("/models/{model:path}")
async def model_page(request: Request, model: str) -> Response:
    session = await run_in_threadpool(sessions.current, request)
    if session is None:
        return _to_login(request)
    try:
        name = _model(model)
    except HTTPException:
        return _error(request, 404, "No such model.", session)
    history = await run_in_threadpool(queries.model_history, request.app.state.engine, name)
    if history is None:
        return _error(request, 404, f"driftline has no history of a model called {name!r}.",
                      session)
    return _page(request, "model.html", session=session, model=name, h=history,
                 view=views.model_view(history), operator=_operator(session),
                 notice=request.query_params.get("notice"), title=name,
                 refresh=REFRESH_SECONDS, fmt_time=views.fmt_time)


@router.get("/report/{model:path}")
async def window_report(request: Request, model: str) -> Response:
    session = await run_in_threadpool(sessions.current, request)
    if session is None:
        return _to_login(request)
    try:
        name = _model(model)
    except HTTPException:
        return _error(request, 404, "No such model.", session)
    engine = request.app.state.engine
    latest = await run_in_threadpool(queries.latest_window, engine, name)
    if latest is None:
        return _error(request, 404, f"No drift window of {name!r} yet.", session)
    history = await run_in_threadpool(queries.model_history, engine, name)
    html = views.window_report(name, *latest, history.heatmap if history else None,
                               request.app.state.settings.drift)
    response = HTMLResponse(html)
    response.headers.update(SECURITY_HEADERS)
    # the report is the same self-contained file detect writes: its styles are inline
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; "
                                                   "frame-ancestors 'none'")
    return response


@router.get("/export/{model:path}")
async def export(request: Request, model: str) -> Response:
    from api.routes import export as export_route

    session = await run_in_threadpool(sessions.current, request)
    if session is None:
        return _to_login(request)
    if not _operator(session):
        return _error(request, 403, "Exports need the operator role.", session)
    try:
        name = _model(model)
        return await run_in_threadpool(
            export_route.labelled_predictions, request=request, engine=request.app.state.engine,
            settings=request.app.state.settings, _=session.principal,
            window=TimeRange(None, None), model=name, version=None, format="csv")
    except HTTPException as exc:
        return _error(request, exc.status_code, str(exc.detail), session)


async def _action(request: Request, model: str, csrf: str) -> tuple[sessions.UiSession, str] | Response:
    """The checks every operator form passes: same site, a session, its CSRF token, the role."""
    sessions.same_origin(request)
    session = await run_in_threadpool(sessions.current, request)
    if session is None:
        return _error(request, 401, "Your session has ended; sign in again.")
    sessions.check_csrf(session, csrf)
    if not _operator(session):
        return _error(request, 403, "This action needs the operator role.", session)
    try:
        return session, _model(model)
    except HTTPException:
        return _error(request, 404, "No such model.", session)


def _back(model: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/ui/models/{quote(model)}?notice={quote(notice)}", status_code=303)


@router.post("/retrain/{model:path}")
async def request_retrain(request: Request, model: str,
                          csrf: Annotated[str, Form(max_length=256)] = "",
                          reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    from api.models import RetrainTriggerIn
    from api.routes import retrain

    checked = await _action(request, model, csrf)
    if isinstance(checked, Response):
        return checked
    session, name = checked
    body = RetrainTriggerIn(model_name=name, reason=reason.strip() or "requested on the model page")
    try:
        out = await retrain.trigger_retrain(request, Response(), body, session.principal,
                                            request.app.state.settings, request.app.state.engine)
    except HTTPException as exc:
        return _error(request, exc.status_code, str(exc.detail), session)
    return _back(name, f"Retrain requested (decision {out.decision_id}); the retrain agent "
                       "decides it under the usual cooldown and daily limit.")


@router.post("/cancel/{model:path}")
async def cancel_job(request: Request, model: str,
                     csrf: Annotated[str, Form(max_length=256)] = "",
                     job_id: Annotated[str, Form(max_length=256)] = "") -> Response:
    from api.routes import retrain

    checked = await _action(request, model, csrf)
    if isinstance(checked, Response):
        return checked
    session, name = checked
    if len(job_id) > 128 or not _NAME.fullmatch(job_id):
        return _error(request, 404, "No such job.", session)
    try:
        job = await retrain.cancel_job(request, job_id, session.principal,
                                       request.app.state.settings, request.app.state.engine)
    except HTTPException as exc:
        return _error(request, exc.status_code, str(exc.detail), session)
    return _back(name, f"Job {job_id} is {job.status}.")
