"""Error responses: clear JSON for the caller's mistakes, nothing internal for ours.

Every error body is ``{"detail": ..., "request_id": ...}``; a 500 never carries a stack
trace or SQL, only the request id to find the log line with.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    detail: str
    request_id: str | None = None


def error_response(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


#: documented on every authenticated router
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: error_response("No API key, or an unknown or revoked one."),
    403: error_response("The key's role is below what the route needs."),
    429: error_response("Rate limit of the key exceeded; see Retry-After."),
    503: error_response("The database is unavailable."),
}


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _body(request: Request, detail: Any) -> dict[str, Any]:
    return {"detail": detail, "request_id": request_id(request)}


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(_body(request, exc.detail), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is left out: it may be large, or personal data.
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    return JSONResponse(_body(request, jsonable_encoder(errors)), status_code=422)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable (request %s): %s", request_id(request), exc.__class__.__name__)
    return JSONResponse(_body(request, "database unavailable"), status_code=503)


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error (request %s)", request_id(request), exc_info=exc)
    return JSONResponse(_body(request, "internal server error"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(Exception, internal_error)


def invalid(where: tuple[str | int, ...], message: str) -> RequestValidationError:
    """A 422 in FastAPI's own shape, for checks a type annotation cannot express."""
    return RequestValidationError([{"loc": list(where), "msg": message, "type": "value_error"}])
