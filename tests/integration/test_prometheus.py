"""A real Prometheus (the stack's, as `driftline stack up --with prometheus` starts it)
scraping a real worker and a real `driftline api` while drifted traffic streams through:
driftline's series arrive, every query of the Grafana dashboard returns data (its Prometheus
queries through Prometheus's HTTP API, its PostgreSQL ones on the database the worker
writes), and the drift alert rule goes pending, then firing.

The shipped rule waits 24 h before it fires; the test loads it as shipped (it must go
pending) and beside it a copy of that one rule with ``for: 1s`` (it must fire). Nothing
else about the rules changes.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from cli.traffic import TrafficSpec, feature_events
from stack.prometheus import SHIPPED, Prometheus
from stack.services import StackConfig
from tests.integration.conftest import REPO, produce
from tests.integration.loop_support import HttpProcess, free_port
from tests.integration.test_governed_loop import loop_env, tracking_uri, trainer  # noqa: F401
from tests.integration.test_observability import wait_for
from tests.prometheus.conftest import BUILD_ALLOWANCE, prometheus_bin  # noqa: F401

pytestmark = [pytest.mark.integration, BUILD_ALLOWANCE]

DASHBOARD = REPO / "docker" / "grafana" / "dashboards" / "driftline.json"
SCRAPE_SECONDS = 1.0
#: Grafana's $__rate_interval at its floor: four scrape intervals
RATE_INTERVAL = "4s"
ALERT = "DriftlineDriftAlertFiring"


class Api(HttpProcess):
    """``driftline api`` as a process of its own, like the worker."""

    name = "api"
    health = "/health/live"

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__(env, log, "api", "--host", "127.0.0.1")


def short_for_copy(path: Path) -> Path:
    """The shipped drift alert rule alone, in a group of its own, with ``for: 1s``."""
    rules = yaml.safe_load((SHIPPED / "rules" / "driftline.yml").read_text())
    (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == ALERT]
    path.write_text(yaml.safe_dump(
        {"groups": [{"name": "test-short-for", "rules": [{**rule, "for": "1s"}]}]}))
    return path


class PromApi:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: Any) -> Any:
        reply = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = reply.json()
        assert reply.status_code == 200 and body["status"] == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.get("query", query=expr)["result"]

    def rule_states(self, alert: str) -> dict[str, str]:
        """group name -> the state of ``alert`` in that group."""
        return {group["name"]: rule["state"] for group in self.get("rules")["groups"]
                for rule in group["rules"] if rule.get("name") == alert}

    def firing(self, alert: str) -> list[dict[str, str]]:
        return [a["labels"] for a in self.get("alerts")["alerts"]
                if a["labels"]["alertname"] == alert and a["state"] == "firing"]


@pytest.fixture
def on_exit() -> Iterator[Callable[[Callable[[], Any]], None]]:
    """Stops to run at the end of the test, last registered first."""
    stops: list[Callable[[], Any]] = []
    yield stops.append
    for stop in reversed(stops):
        stop()


def dashboard_targets() -> list[tuple[str, dict[str, Any]]]:
    panels = orjson.loads(DASHBOARD.read_bytes())["panels"]
    return [(f"{p['title']} [{t['refId']}]", t) for p in panels for t in p["targets"]]


def dashboard_start(end: datetime) -> datetime:
    """The start of the dashboard's default time range ("now-6h") for ``end`` as now."""
    match = re.fullmatch(r"now-(\d+)([mhd])", orjson.loads(DASHBOARD.read_bytes())["time"]["from"])
    assert match, "the dashboard's time range is not of the form now-N[mhd]"
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return end - timedelta(**{unit: int(match.group(1))})


def promql(expr: str, model: str) -> str:
    """A panel's query as Grafana sends it: $__rate_interval at its floor, and the ``model``
    variable (picked: the test's model) as Grafana writes a value into a regex matcher."""
    value = re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\\\1", model)
    expr = expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", "1s")
    expr = expr.replace("$model", value)
    assert "$" not in expr, f"a Grafana variable this test does not expand: {expr}"
    return expr


def postgres_sql(sql: str, model: str, start: datetime, end: datetime) -> str:
    """Grafana's PostgreSQL macros as it expands them, for a 1-minute $__interval, the time
    range from ``start`` to ``end`` and the test's model picked in the ``model`` variable."""
    sql = re.sub(r"\$__timeGroupAlias\(([^,]+),\s*\$__interval\)",
                 r'floor(extract(epoch from \1)/60)*60 AS "time"', sql)
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)",
                 rf"\1 BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'", sql)
    sql = sql.replace("$model", "'" + model.replace("'", "''") + "'")
    assert "$" not in sql, f"a Grafana macro this test does not expand: {sql}"
    return sql


def test_prometheus_scrapes_worker_and_api_serves_the_dashboard_and_fires_the_drift_alert(
        worker_factory, loop_env, trainer, engine, unique, broker, tmp_path: Path,  # noqa: F811
        on_exit, prometheus_bin) -> None:  # noqa: F811
    begun = datetime.now(UTC)
    model, topic = f"{unique}-model", f"{unique}-features"
    web_port = free_port()
    worker_factory(**{**loop_env, "WEB_ENABLED": "true", "WEB_PORT": str(web_port),
                      "TRAINER__URL": trainer.url, "DRIFT__REFERENCE_SIZE": "200",
                      "DRIFT__WINDOW_SIZE": "100"})
    api = Api(loop_env, tmp_path / "api.log")
    on_exit(api.stop)
    api.wait_ready(timeout=90)

    config = dataclasses.replace(
        StackConfig.load(), stack_dir=tmp_path / "stack", prometheus_port=free_port(),
        prometheus_scrape_seconds=SCRAPE_SECONDS, worker_web_port=web_port, api_port=api.port)
    prometheus = Prometheus(config, lambda _: None, rule_files=[
        SHIPPED / "rules" / "*.yml", short_for_copy(tmp_path / "short_for.yml")])
    on_exit(lambda: prometheus.down(purge=True))
    prometheus.up()
    prom = PromApi(prometheus.url)

    def jobs_up() -> bool:
        up = {r["metric"]["job"]: r["value"][1] for r in prom.query("up")}
        return up.get("driftline-worker") == "1" and up.get("driftline-api") == "1"

    # before any traffic, so Prometheus sees every counter start (from 0 where it can)
    wait_for("both targets scraped", jobs_up, timeout=60)

    # a model whose income and channel shift after the reference: every window drifts
    spec = TrafficSpec(model_name=model, numeric=("income", "age"), categorical=("channel",),
                       shifted=("income",), mass_shifted=("channel",), shift_at=200,
                       shift_sigma=2.0, mass_shift=0.3, seed=16,
                       start=begun - timedelta(minutes=5), spacing=timedelta(milliseconds=100))
    key = model.encode()
    produce(broker, topic, [(key, orjson.dumps(e)) for e in feature_events(spec, 600)]
            + [(key, b"{not json")])
    for path in ("/health/live", "/health/live", "/drift/results"):  # the last one is a 401
        httpx.get(f"{api.url}{path}", timeout=10)

    states = wait_for("the drift alert: shipped rule pending, its short copy firing",
                      lambda: (s := prom.rule_states(ALERT)).get("test-short-for") == "firing" and s)
    assert states == {"driftline-models": "pending", "test-short-for": "firing"}
    (labels,) = [a for a in prom.firing(ALERT) if a["model"] == model]
    assert labels == {"alertname": ALERT, "model": model, "kind": "data_drift",
                      "severity": "warning"}
    (active,) = prom.query(f'driftline_drift_alerts_active{{model="{model}"}}')
    assert (active["metric"]["version"], active["metric"]["kind"]) == ("1", "data_drift")
    assert float(active["value"][1]) >= 2  # income and channel, the shifted ones
    # the drift alert asked for a retrain; the real trainer fails it (no labelled rows for
    # this model), and the shipped rule (no `for:`) fires on the first failure
    failed = wait_for("the failed training job's alert", lambda: [
        a for a in prom.firing("DriftlineTrainingJobsFailing")
        if a["instance"] == f"127.0.0.1:{web_port}"], timeout=120)
    assert failed[0]["job"] == "driftline-worker"

    # driftline's own series, from both targets, through a Prometheus 3 scrape
    def names(job: str) -> set[str]:
        return {r["metric"]["__name__"] for r in
                prom.query(f'count by (__name__) ({{job="{job}", __name__=~"driftline_.+"}})')}

    assert {"driftline_events_processed_total", "driftline_consumer_lag",
            "driftline_dead_letters_total", "driftline_drift_alerts_active",
            "driftline_messages_received_per_topic_total", "driftline_batch_duration_seconds_bucket",
            "driftline_training_jobs_total", "driftline_emails_total"} <= names("driftline-worker")
    assert {"driftline_api_http_requests_total", "driftline_api_http_request_duration_seconds_bucket",
            "driftline_api_http_requests_in_progress"} <= names("driftline-api")
    assert prom.query(f'driftline_dead_letters_total{{topic="{topic}", reason="not_json"}}')[0][
        "value"][1] == "1"

    # every query of the dashboard returns data: Prometheus's over the test's time (there is
    # no older data), PostgreSQL's over the dashboard's default range
    end = datetime.now(UTC)
    empty = []
    for name, target in dashboard_targets():
        if "expr" in target:
            result = prom.get("query_range", query=promql(target["expr"], model),
                              start=begun.timestamp(), end=end.timestamp(), step="1s")["result"]
            values = [float(v) for series in result for _, v in series["values"]]
            if not any(math.isfinite(v) for v in values):
                empty.append(name)
        else:
            with engine.connect() as conn:
                sql = postgres_sql(target["rawSql"], model, dashboard_start(end), end)
                rows = conn.exec_driver_sql(sql).all()
            if not rows:
                empty.append(name)
    assert empty == [], f"dashboard queries without data: {empty}"
    with engine.connect() as conn:  # the model variable offers the test's model
        variable = orjson.loads(DASHBOARD.read_bytes())["templating"]["list"][0]["query"]
        assert (model,) in conn.exec_driver_sql(variable).all()
