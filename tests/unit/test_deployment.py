"""The Docker deployment's configuration: compose, Prometheus and Grafana agree with each
other and with the metric names and tables that exist. (No Docker engine runs here.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

DOCKER = Path(__file__).resolve().parents[2] / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((DOCKER / "grafana" / "dashboards" / "driftline.json").read_text())


def exposed_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name a scrape of ``registry`` can contain."""
    suffixes = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_count", "_sum", "_created"],
                "gauge": [""], "summary": ["_count", "_sum", "_created"]}
    names = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(family.name + s for s in suffixes.get(family.type, [""]))
    return names


def known_metrics() -> set[str]:
    from faust.sensors.prometheus import FaustMetrics

    from api.metrics import HttpMetrics
    from observability.metrics import REGISTRY, ConsumerLag, DriftAlerts

    worker = CollectorRegistry()
    # the worker exposes faust's Prometheus sensor under the "driftline" prefix, beside its own
    FaustMetrics.create(worker, "driftline")
    worker.register(ConsumerLag(None))  # type: ignore[arg-type] - no app: an empty family
    worker.register(DriftAlerts(None))  # type: ignore[arg-type]
    own = {name for name in exposed_names(REGISTRY) if name.startswith("driftline_")}
    return exposed_names(worker) | own | exposed_names(HttpMetrics().registry)


def test_every_service_is_there_with_pinned_images(compose):
    services = compose["services"]
    assert {"kafka", "kafka-ui", "postgres", "mlflow", "mailpit", "migrate", "worker", "api", "trainer",
            "prometheus", "grafana", "jaeger"} <= set(services)
    for name, service in services.items():
        image = service.get("image", "")
        assert image and not image.endswith(":latest") or "build" in service, name
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert services["worker"]["command"][0] == "worker"
    assert services["api"]["command"][0] == "api"
    assert services["trainer"]["command"] == ["trainer"]


def test_start_order_waits_for_health_and_migrations(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            if rule["condition"] == "service_healthy":
                check = services[dependency].get("healthcheck", {})
                uses_image_check = "build" in services[dependency] and not check
                assert (check.get("test") and not check.get("disable")) or uses_image_check, \
                    f"{name} waits for {dependency}, which has no health check"
    for name in ("worker", "api", "trainer"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "--no-migrate" in services[name]["command"] or name == "trainer"
    assert services["migrate"]["command"] == ["db", "upgrade"]


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck():
    text = (DOCKER / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert "uv sync --frozen" in text
    assert re.search(r"^USER driftline$", text, re.M)
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    assert "/health/live" in text


def test_prometheus_scrapes_the_worker_and_the_api_where_compose_puts_them(compose):
    config = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker = jobs["driftline-worker"]["static_configs"][0]["targets"]
    api = jobs["driftline-api"]["static_configs"][0]["targets"]
    env = compose["services"]["worker"]["environment"]
    assert worker == [f"worker:{env['WEB_PORT']}"] and env["WEB_BIND"] == "0.0.0.0"
    assert api == [f"api:{compose['services']['api']['environment']['API__PORT']}"]
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in jobs.values())


def test_grafana_is_provisioned_with_the_datasources_the_dashboard_uses(compose, dashboard):
    provisioned = yaml.safe_load(
        (DOCKER / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text())
    uids = {d["uid"] for d in provisioned["datasources"]}
    used = {p["datasource"]["uid"] for p in dashboard["panels"]}
    used |= {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert used and used <= uids
    mounts = " ".join(compose["services"]["grafana"]["volumes"])
    assert "./grafana/provisioning:/etc/grafana/provisioning" in mounts
    providers = yaml.safe_load(
        (DOCKER / "grafana" / "provisioning" / "dashboards" / "dashboards.yml").read_text())
    assert f"./grafana/dashboards:{providers['providers'][0]['options']['path']}" in mounts


def test_dashboard_panels_cover_drift_throughput_lag_and_retrain_jobs(dashboard):
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("drift", "throughput", "lag", "retrain"):
        assert topic in titles, titles
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_queries_name_metrics_and_tables_that_exist(dashboard):
    import storage.governance  # noqa: F401 - the loop's tables
    import storage.service  # noqa: F401 - the service tables
    from storage.models import Base

    metrics, tables = known_metrics(), set(Base.metadata.tables)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"] if "expr" in t]
    queries = [t["rawSql"] for p in dashboard["panels"] for t in p["targets"] if "rawSql" in t]
    queries += [v["query"] for v in dashboard["templating"]["list"]]
    assert exprs and queries
    for expr in exprs:
        names = set(re.findall(r"\b(driftline_[a-z0-9_]+)", expr))
        assert names, expr
        assert names <= metrics, f"{expr}: unknown {names - metrics}"
    for query in queries:
        referenced = set(re.findall(r"\bFROM\s+([a-z_]+)", query))
        assert referenced and referenced <= tables, f"{query}: unknown {referenced - tables}"


#: the dependency gauge of the fault work (issue 10), which the rules use before it merges
def test_alert_rules_are_loaded_by_compose_and_name_metrics_that_exist(compose):
    config = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["rules/*.yml"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in compose["services"]["prometheus"]["volumes"]
    metrics = known_metrics()
    rules = [rule for path in sorted((DOCKER / "prometheus" / "rules").glob("*.yml"))
             for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]
    assert rules
    for rule in rules:
        names = set(re.findall(r"\b(driftline_[a-z0-9_]+)", rule["expr"]))
        assert names or re.search(r"\bup\{", rule["expr"]), rule["alert"]
        assert names <= metrics, f"{rule['alert']}: unknown {names - metrics}"


def test_a_misspelt_metric_would_be_caught():
    assert "driftline_api_http_requests_total" in known_metrics()
    assert "driftline_api_http_request_total" not in known_metrics()
    assert {"driftline_dead_letters_total", "driftline_consumer_lag"} <= known_metrics()
    assert "driftline_dead_letter_total" not in known_metrics()


def test_the_worker_ships_traces_to_jaeger_over_otlp_http(compose):
    env = compose["services"]["worker"]["environment"]
    assert env["TRACING__ENABLED"] == "true"
    endpoint = env["TRACING__ENDPOINT"]
    assert endpoint.startswith("http://jaeger:") and endpoint.endswith("/v1/traces")
    port = endpoint.split(":")[2].split("/")[0]
    assert any(p.startswith(f"{port}:") for p in compose["services"]["jaeger"]["ports"])
