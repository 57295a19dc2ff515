"""The worker's readiness: ``GET /health/ready`` on its web server (``WEB_PORT``).

503 while an agent holds work waiting for a dependency (PostgreSQL, MLflow, the training
service, SMTP, the broker), naming it — the same state as
``driftline_dependency_up{dependency=...}`` — so an orchestrator or an operator sees the
backpressure; 200 otherwise. ``GET /health/live`` answers as long as the event loop does.
"""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response, View

from faust_app import app
from resilience import backpressure


@app.page("/health/ready")
class Ready(View):
    async def get(self, request: Request, **kwargs: Any) -> Response:
        down = backpressure.down()
        body = {"status": "unavailable" if down else "ok", "waiting_for": down}
        return self.json(body, status=503 if down else 200)


@app.page("/health/live")
class Live(View):
    async def get(self, request: Request, **kwargs: Any) -> Response:
        return self.json({"status": "ok"})
