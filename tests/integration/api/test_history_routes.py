"""Performance trends and comparisons, red-team ingestion and analysis, the export."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from storage.models import LabelledPrediction, PerformanceMetric
from storage.service import RedTeamRow

pytestmark = pytest.mark.integration


def metric_row(model, version, when, value, samples=100, metric="accuracy"):
    return dict(event_id=uuid.uuid4(), timestamp=when, model_name=model, model_version=version,
                metric=metric, value=value, reference_value=0.9, sample_size=samples,
                window_start_seq=0, window_end_seq=samples, window_start_time=when - timedelta(minutes=1),
                window_end_time=when)


def test_performance_trends_bucket_by_day_and_version(client, keys, seed, unique, now):
    day = now.replace(hour=12, minute=0, second=0)
    seed(PerformanceMetric, [
        metric_row(unique, "1", day - timedelta(days=1), 0.90),
        metric_row(unique, "1", day - timedelta(days=1, hours=1), 0.80),
        metric_row(unique, "1", day, 0.70),
        metric_row(unique, "2", day, 0.95),
        metric_row(unique, "2", day, 0.5, metric="f1"),
    ])
    r = client.get("/performance/trends", params={"model": unique, "metric": "accuracy", "bucket": "day"},
                   headers=keys.viewer)
    assert r.status_code == 200, r.text
    points = [(p["bucket_start"][:10], p["model_version"], p["windows"], round(p["mean"], 3))
              for p in r.json()]
    yesterday, today = (day - timedelta(days=1)).date().isoformat(), day.date().isoformat()
    assert points == [(yesterday, "1", 2, 0.85), (today, "1", 1, 0.7), (today, "2", 1, 0.95)]
    r = client.get("/performance/trends", params={"model": unique, "metric": "accuracy", "version": "2"},
                   headers=keys.viewer)
    assert [p["model_version"] for p in r.json()] == ["2"]
    assert client.get("/performance/trends", params={"model": unique},
                      headers=keys.viewer).status_code == 422


def test_performance_trends_put_realized_and_estimated_side_by_side(client, keys, seed, unique,
                                                                    now):
    day = now.replace(hour=12, minute=0, second=0)
    estimated = [dict(metric_row(unique, "1", day - timedelta(hours=h), v, samples=500),
                      estimated=True, lower=v - 0.02, upper=v + 0.02)
                 for h, v in ((3, 0.90), (2, 0.80), (1, 0.78))]
    realized = dict(metric_row(unique, "1", day - timedelta(hours=4), 0.91), estimated=False,
                    lower=None, upper=None)  # one executemany: every row names every column
    seed(PerformanceMetric, [realized, *estimated])
    r = client.get("/performance/trends", params={"model": unique, "metric": "accuracy"},
                   headers=keys.viewer)
    assert r.status_code == 200, r.text
    [point] = r.json()
    assert point["windows"] == 1 and point["mean"] == pytest.approx(0.91)  # realized only
    assert point["estimated_windows"] == 3 and point["estimated_samples"] == 1500
    assert point["estimated_mean"] == pytest.approx(0.8267, abs=1e-4)
    assert point["estimated_min"] == pytest.approx(0.78)
    assert point["estimated_lower"] == pytest.approx(0.76)
    assert point["estimated_upper"] == pytest.approx(0.92)
    compared = client.get("/performance/compare", params={"metric": "accuracy", "model": unique},
                          headers=keys.viewer).json()
    assert [(x["windows"], x["latest"]) for x in compared] == [(1, 0.91)]  # estimates left out


def test_performance_compare_versions_side_by_side(client, keys, seed, unique, now):
    other = f"{unique}-b"
    seed(PerformanceMetric, [
        metric_row(unique, "1", now - timedelta(hours=2), 0.8, samples=100),
        metric_row(unique, "1", now - timedelta(hours=1), 0.6, samples=300),
        metric_row(unique, "2", now - timedelta(hours=1), 0.9, samples=50),
        metric_row(other, "7", now - timedelta(hours=1), 0.4, samples=10),
    ])
    r = client.get("/performance/compare", params={"metric": "accuracy", "model": [unique, other]},
                   headers=keys.viewer)
    assert r.status_code == 200, r.text
    rows = {(x["model_name"], x["model_version"]): x for x in r.json()}
    assert set(rows) == {(unique, "1"), (unique, "2"), (other, "7")}
    v1 = rows[(unique, "1")]
    assert v1["windows"] == 2 and v1["samples"] == 400
    assert v1["mean"] == pytest.approx(0.7) and v1["weighted_mean"] == pytest.approx(0.65)
    assert v1["latest"] == pytest.approx(0.6) and v1["min"] == pytest.approx(0.6)
    r = client.get("/performance/compare", params={"metric": "accuracy", "model": unique, "version": "2"},
                   headers=keys.viewer)
    assert [(x["model_version"], x["latest"]) for x in r.json()] == [("2", 0.9)]
    for bad in ({"metric": "accuracy"}, {"metric": "accuracy", "model": "bad name"}):
        assert client.get("/performance/compare", params=bad, headers=keys.viewer).status_code == 422


def attack(model, version, attack_type, success, attack_name=None, **extra):
    return {"model_name": model, "model_version": version, "attack_type": attack_type,
            "attack_name": attack_name, "success": success, "severity": "high", **extra}


def test_red_team_ingest_is_idempotent_and_analysed(client, keys, engine, unique):
    event_id = str(uuid.uuid4())
    when = "2026-11-20T10:00:00+00:00"
    results = [
        attack(unique, "1", "prompt_injection", False, "ignore-previous", event_id=event_id,
               timestamp=when),
        attack(unique, "1", "prompt_injection", False, "ignore-previous"),
        attack(unique, "2", "prompt_injection", True, "ignore-previous"),
        attack(unique, "2", "prompt_injection", False, "ignore-previous"),
        attack(unique, "1", "evasion", True, "fgsm"),
        attack(unique, "2", "evasion", True, "fgsm"),
        attack(unique, "1", "extraction", False),
        attack(unique, "2", "extraction", False),
    ]
    r = client.post("/red-team/results", json={"results": results}, headers=keys.operator)
    assert r.status_code == 201, r.text
    assert r.json()["received"] == 8 and r.json()["inserted"] == 8
    assert str(r.json()["event_ids"][0]) == event_id
    again = client.post("/red-team/results", json={"results": results[:1]}, headers=keys.operator)
    assert again.status_code == 201 and again.json()["inserted"] == 0

    with engine.connect() as conn:
        stored = conn.execute(select(RedTeamRow).where(RedTeamRow.model_name == unique)).all()
    assert len(stored) == 8 and {row.source for row in stored} == {"api"}

    r = client.get("/red-team/results", params={"model": unique, "success": "true", "limit": 2},
                   headers=keys.viewer)
    assert r.status_code == 200 and len(r.json()["items"]) == 2 and r.json()["next_cursor"]
    r2 = client.get("/red-team/results", params={"model": unique, "success": "true",
                                                 "cursor": r.json()["next_cursor"]}, headers=keys.viewer)
    assert len(r2.json()["items"]) == 1

    r = client.get("/red-team/analysis/success-rates", params={"model": unique}, headers=keys.viewer)
    rates = {(x["model_version"], x["attack_type"]): (x["attempts"], x["successes"], x["success_rate"])
             for x in r.json()}
    assert rates[("2", "prompt_injection")] == (2, 1, 0.5)
    assert rates[("1", "evasion")] == (1, 1, 1.0)
    r = client.get("/red-team/analysis/success-rates", params={"model": unique, "bucket": "day"},
                   headers=keys.viewer)
    assert r.status_code == 200 and all(x["bucket_start"] for x in r.json())

    r = client.get("/red-team/analysis/top-attacks", params={"model": unique, "limit": 2},
                   headers=keys.viewer)
    top = [(x["attack_type"], x["success_rate"], x["models"]) for x in r.json()]
    assert top == [("evasion", 1.0, 1), ("prompt_injection", 0.25, 1)]

    r = client.get("/red-team/analysis/regressions",
                   params={"model": unique, "from_version": "1", "to_version": "2"}, headers=keys.viewer)
    assert r.status_code == 200, r.text
    regressions = r.json()["regressions"]
    found = [(x["attack_type"], x["attack_name"], x["from_attempts"], x["to_successes"]) for x in regressions]
    assert found == [("prompt_injection", "ignore-previous", 2, 1)]
    r = client.get("/red-team/analysis/regressions",
                   params={"model": unique, "from_version": "2", "to_version": "2"}, headers=keys.viewer)
    assert r.status_code == 422


@pytest.mark.parametrize("mutate", [
    lambda a: {**a, "success": "yes"},
    lambda a: {**a, "severity": "apocalyptic"},
    lambda a: {**a, "model_name": ""},
    lambda a: {**a, "timestamp": "2026-11-26T10:00:00"},  # no zone
    lambda a: {**a, "unknown": 1},
    lambda a: {k: v for k, v in a.items() if k != "attack_type"},
    lambda a: {**a, "details": {"note": "nul\u0000byte"}},
    lambda a: {**a, "event_id": str(uuid.uuid4())},  # without its timestamp
])
def test_red_team_ingest_rejects_malformed_results(client, keys, unique, mutate):
    r = client.post("/red-team/results", json={"results": [mutate(attack(unique, "1", "evasion", True))]},
                    headers=keys.operator)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][0] == "body"


def test_red_team_ingest_rejects_an_empty_batch_and_bad_json(client, keys):
    assert client.post("/red-team/results", json={"results": []}, headers=keys.operator).status_code == 422
    r = client.post("/red-team/results", content=b"{not json", headers={**keys.operator,
                                                                       "content-type": "application/json"})
    assert r.status_code == 422


@pytest.fixture
def production(seed, unique, now):
    rows = []
    for i in range(20):
        features = {"income": 1000.0 + i, "country": "fr" if i % 2 else "de", "vip": i % 3 == 0}
        if i == 5:
            features["late"] = 1.5  # a feature that appears later in the stream
        rows.append(dict(event_id=uuid.uuid4(), timestamp=now - timedelta(minutes=30 - i),
                         model_name=unique, model_version="1" if i < 15 else "2",
                         label_time=now, prediction=i % 2, probabilities={"0": 0.4, "1": 0.6},
                         features=features, label=(i + 1) % 2))
    seed(LabelledPrediction, rows)
    return rows


def test_export_streams_csv_with_one_column_per_feature(client, keys, production, unique):
    with client.stream("GET", "/export/labelled-predictions", params={"model": unique, "format": "csv"},
                       headers=keys.operator) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        chunks = list(r.iter_bytes())
    table = pacsv.read_csv(io.BytesIO(b"".join(chunks)))
    assert table.num_rows == 20
    assert {"event_id", "timestamp", "prediction", "label", "income", "country", "vip", "late"} <= set(
        table.column_names)
    assert table["income"].to_pylist() == [1000.0 + i for i in range(20)]
    assert table["late"].null_count == 19


def test_export_parquet_keeps_types_and_filters_by_version(client, keys, production, unique):
    r = client.get("/export/labelled-predictions",
                   params={"model": unique, "format": "parquet", "version": "2"}, headers=keys.operator)
    assert r.status_code == 200, r.text
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == 5 and set(table["model_version"].to_pylist()) == {"2"}
    assert str(table.schema.field("income").type) == "double"
    assert str(table.schema.field("vip").type) == "bool"
    assert str(table.schema.field("country").type) == "string"
    assert table["label"].to_pylist() == [(i + 1) % 2 for i in range(15, 20)]


def test_export_errors(client, keys, unique):
    assert client.get("/export/labelled-predictions", params={"model": unique},
                      headers=keys.operator).status_code == 404
    assert client.get("/export/labelled-predictions", params={"model": unique, "format": "xlsx"},
                      headers=keys.operator).status_code == 422
    assert client.get("/export/labelled-predictions", params={"model": unique},
                      headers=keys.viewer).status_code == 403
