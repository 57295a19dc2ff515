"""Dependencies as ``Annotated`` aliases: settings, the database, and who is calling.

Authentication (``Authorization: Bearer <token>`` or ``X-API-Key: <token>``) happens in
:class:`api.gate.Gate`, before routing; the dependencies here read its verdict. Roles
are ordered viewer < operator < admin; a route states the least role it needs by taking
``ViewerDep``, ``OperatorDep`` or ``AdminDep``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from settings import Settings
from storage.keys import Principal

ROLE_RANK = {"viewer": 1, "operator": 2, "admin": 3}

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key token.")
_bearer = HTTPBearer(auto_error=False, description="An API key token as a bearer token.")


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def get_session(engine: EngineDep) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def current_principal(
    request: Request,
    # declared for the OpenAPI document; the key itself is checked by api.gate.Gate before
    # the request is routed (and before its body is read)
    api_key: Annotated[str | None, Security(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise HTTPException(401, "an API key is required (Authorization: Bearer <key>)",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


def require(role: str) -> Callable[[Principal], Principal]:
    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if ROLE_RANK.get(principal.role, 0) < ROLE_RANK[role]:
            raise HTTPException(403, f"this needs the {role} role; the key has {principal.role}")
        return principal

    return check


ViewerDep = Annotated[Principal, Depends(require("viewer"))]
OperatorDep = Annotated[Principal, Depends(require("operator"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]
