"""The worker's readiness: ``GET /health/ready`` on its web server (``WEB_PORT``).

503 while an agent holds work waiting for a dependency (PostgreSQL, MLflow, the training
service, SMTP, the broker), naming it — the same state as
``driftline_dependency_up{dependency=...}`` — so an orchestrator or an operator sees the
backpressure; 200 otherwise. ``GET /health/live`` answers as long as the event loop does.
"""

from __future__ import annotations

from typing import Any

from faust import Sensor
from faust.web import Request, Response, View

from faust_app import app
from resilience import backpressure


class HeldWorkYieldsToRebalances(Sensor):
    """faust's rebalance waits until every agent has finished the events it holds (before it
    even signals ``on_partitions_revoked``); an agent holding a batch for a dependency that is
    down would stall the rebalance, and the whole group with it. At the rebalance's start
    held work is given up unacknowledged, so the partitions' next owner reads it again."""

    def on_rebalance_start(self, app: Any) -> dict[str, Any]:
        backpressure.interrupt()
        return super().on_rebalance_start(app)  # type: ignore[no-any-return]

    def on_rebalance_end(self, app: Any, state: dict[str, Any]) -> None:
        backpressure.rebalanced()
        super().on_rebalance_end(app, state)


app.sensors.add(HeldWorkYieldsToRebalances())


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
