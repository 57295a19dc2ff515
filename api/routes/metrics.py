"""Prometheus exposition of the API's own metrics (unauthenticated, like /health)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, summary="Prometheus metrics of this API process",
            responses={200: {"content": {"text/plain": {}}, "description": "Text exposition format."}})
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics
    return Response(registry.render(), media_type=registry.content_type)
