"""API keys over HTTP (admin only); ``driftline keys`` does the same from a shell."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request

from api.deps import AdminDep, EngineDep
from api.errors import AUTH_RESPONSES, error_response
from api.models import KEY_NAME_PATTERN, KeyCreatedOut, KeyCreateIn, KeyOut
from storage.keys import ApiKeyError, create_key, list_keys, revoke_key

router = APIRouter(prefix="/keys", tags=["keys"], responses=AUTH_RESPONSES)
KeyName = Annotated[str, Path(pattern=KEY_NAME_PATTERN)]


@router.get("", response_model=list[KeyOut], summary="Every key, revoked ones included")
def index(engine: EngineDep, _: AdminDep) -> list[KeyOut]:
    return [KeyOut.model_validate(k) for k in list_keys(engine)]


@router.post("", status_code=201, response_model=KeyCreatedOut,
             responses={409: error_response("A key of that name exists."),
                        201: {"description": "The key, with its token.", "links": {
                            "RevokeKey": {"operationId": "revoke_key",
                                          "parameters": {"name": "$response.body#/name"}}}}},
             summary="Create a key; the token is in this response only")
def create(request: Request, body: KeyCreateIn, engine: EngineDep, _: AdminDep) -> KeyCreatedOut:
    try:
        key, token = create_key(engine, body.name, body.role)
    except ApiKeyError as exc:
        raise HTTPException(409, str(exc)) from None
    request.state.audit_details = {"key": body.name, "role": body.role}
    return KeyCreatedOut(**KeyOut.model_validate(key).model_dump(), token=token)


@router.delete("/{name}", response_model=KeyOut, operation_id="revoke_key",
               responses={404: error_response("No key of that name.")},
               summary="Revoke a key (kept, for the audit trail)")
def revoke(request: Request, name: KeyName, engine: EngineDep, _: AdminDep) -> KeyOut:
    try:
        key = revoke_key(engine, name)
    except ApiKeyError as exc:
        raise HTTPException(404, str(exc)) from None
    request.state.audit_details = {"key": name}
    return KeyOut.model_validate(key)
