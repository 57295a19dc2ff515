"""Request bodies: a size limit per kind of body, and JSON checked as the Kafka path checks it.

Plain ASGI, so a body can be refused before (or while) it is read.
"""

from __future__ import annotations

import json

import orjson
from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import MUTATING, refuse
from schemas.spec import MAX_DEPTH, InvalidEvent, check_json

#: a request body may nest a little deeper than the free-form objects inside it
MAX_BODY_DEPTH = MAX_DEPTH + 8


class BodySizeLimit:
    """413 for bodies over the limit: refused on Content-Length, or cut off while streaming.

    Multipart uploads get their own, larger limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int) -> None:
        self.app, self.max_bytes, self.max_upload_bytes = app, max_bytes, max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        upload = headers.get("content-type", "").startswith("multipart/form-data")
        limit = self.max_upload_bytes if upload else self.max_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await refuse(scope, send, 413, f"request body larger than {limit} bytes")
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # HTTPException passes through FastAPI's body parsing as itself.
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, counting_receive, send)




def _is_json(headers: Headers) -> bool:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


class JsonBodyGuard:
    """JSON bodies parsed the way the worker parses events (orjson: no NaN or Infinity, no
    number that overflows to infinity, no lone surrogate) and checked for depth and NUL
    before any route sees them, so a record the API accepts is one the worker accepts and
    nothing downstream meets a value it cannot store. A refusal is a 422 in FastAPI's shape.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in MUTATING
                or not _is_json(Headers(scope=scope))):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body.strip():
            try:
                check_json(orjson.loads(body), "body", max_depth=MAX_BODY_DEPTH)
            except (orjson.JSONDecodeError, InvalidEvent) as exc:
                reason = exc.reason if isinstance(exc, InvalidEvent) else f"not valid JSON: {exc}"
                await _unprocessable(scope, send, reason)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _unprocessable(scope: Scope, send: Send, reason: str) -> None:
    rid = scope.get("state", {}).get("request_id")
    body = json.dumps({"detail": [{"loc": ["body"], "msg": reason[:300], "type": "value_error"}],
                       "request_id": rid}).encode()
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
