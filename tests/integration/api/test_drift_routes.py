"""Drift history, latest state, analytics and on-demand detection against PostgreSQL."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from storage.models import DriftResult
from tests.integration.api.conftest import drift_row

pytestmark = pytest.mark.integration


@pytest.fixture
def history(seed, unique, now):
    rows = [
        drift_row(unique, now - timedelta(hours=3), feature="income", severity="none", drifted=False),
        drift_row(unique, now - timedelta(hours=2), feature="income", severity="medium"),
        drift_row(unique, now - timedelta(hours=1), feature="income", severity="high"),
        drift_row(unique, now - timedelta(hours=2), feature="age", severity="none", drifted=False),
        drift_row(unique, now - timedelta(hours=1), feature="age", severity="none", drifted=False,
                  model_version="2"),
    ]
    seed(DriftResult, rows)
    return rows


def test_history_filters_and_pages_with_a_cursor(client, keys, history, unique):
    r = client.get("/drift/results", params={"model": unique, "feature": "income", "limit": 2},
                   headers=keys.viewer)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [i["severity"] for i in page["items"]] == ["high", "medium"]  # newest first
    assert page["next_cursor"]
    r = client.get("/drift/results", params={"model": unique, "feature": "income", "limit": 2,
                                             "cursor": page["next_cursor"]}, headers=keys.viewer)
    rest = r.json()
    assert [i["severity"] for i in rest["items"]] == ["none"] and rest["next_cursor"] is None

    def count(**params):
        r = client.get("/drift/results", params={"model": unique, **params}, headers=keys.viewer)
        assert r.status_code == 200, r.text
        return len(r.json()["items"])

    assert count() == 5
    assert count(version="2") == 1
    assert count(severity="high") == 1
    assert count(drifted="true") == 2
    assert count(kind="model_drift") == 0
    first = history[0]["timestamp"]
    assert count(start=(first + timedelta(minutes=1)).isoformat()) == 4
    assert count(end=(first + timedelta(minutes=1)).isoformat()) == 1


@pytest.mark.parametrize("params", [
    {"severity": "catastrophic"}, {"kind": "nope"}, {"model": "has space"}, {"limit": 0},
    {"cursor": "not-a-cursor"}, {"start": "yesterday"},
    {"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
])
def test_history_rejects_bad_parameters_with_422(client, keys, params):
    r = client.get("/drift/results", params=params, headers=keys.viewer)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["request_id"] and isinstance(body["detail"], list) and body["detail"][0]["msg"]


def test_page_size_is_capped_at_the_configured_maximum(client, keys, seed, unique, now):
    seed(DriftResult, [drift_row(unique, now - timedelta(seconds=i), feature=f"f{i}") for i in range(60)])
    r = client.get("/drift/results", params={"model": unique, "limit": 1000}, headers=keys.viewer)
    assert r.status_code == 200 and len(r.json()["items"]) == 50 and r.json()["next_cursor"]


def test_latest_gives_the_newest_result_per_feature(client, keys, history, unique):
    r = client.get("/drift/latest", params={"model": unique}, headers=keys.viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    latest = {row["feature"]: row for row in body["results"]}
    assert set(latest) == {"income", "age"}
    assert latest["income"]["severity"] == "high" and latest["age"]["model_version"] == "2"
    assert body["drifted_features"] == 1
    r = client.get("/drift/latest", params={"model": unique, "version": "1"}, headers=keys.viewer)
    assert {row["feature"]: row["model_version"] for row in r.json()["results"]} == {
        "income": "1", "age": "1"}
    assert client.get("/drift/latest", params={"model": f"{unique}-none"},
                      headers=keys.viewer).status_code == 404
    assert client.get("/drift/latest", headers=keys.viewer).status_code == 422


def test_models_lists_models_with_history(client, keys, history, unique):
    r = client.get("/drift/models", params={"limit": 50}, headers=keys.viewer)
    assert r.status_code == 200
    assert isinstance(r.json(), list)


def test_analytics_counts_by_feature_severity_and_bucket(client, keys, history, unique):
    r = client.get("/analytics/drift/summary", params={"model": unique}, headers=keys.viewer)
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["total_results"] == 5 and summary["drifted_results"] == 2
    counts = {(row["feature"], row["severity"]): (row["results"], row["drifted"]) for row in summary["rows"]}
    assert counts == {("income", "high"): (1, 1), ("income", "medium"): (1, 1),
                      ("income", "none"): (1, 0), ("age", "none"): (2, 0)}
    r = client.get("/analytics/drift/trends", params={"model": unique, "bucket": "hour",
                                                      "feature": "income"}, headers=keys.viewer)
    assert r.status_code == 200, r.text
    points = r.json()
    assert len(points) == 3 and all(p["feature"] == "income" for p in points)
    starts = [p["bucket_start"] for p in points]
    assert starts == sorted(starts) and len(set(starts)) == 3
    assert sum(p["drifted"] for p in points) == 2
    assert client.get("/analytics/drift/trends", params={"bucket": "fortnight"},
                      headers=keys.viewer).status_code == 422


def _tables(seed: int = 0):
    rng = np.random.default_rng(seed)
    reference = pa.table({"x": rng.normal(size=800), "c": rng.choice(["a", "b"], size=800),
                          "same": rng.normal(size=800)})
    current = pa.table({"x": rng.normal(1.5, size=800), "c": rng.choice(["a", "b"], size=800),
                        "same": rng.normal(size=800)})
    return reference, current


def _csv(table: pa.Table) -> bytes:
    import pyarrow.csv as pacsv

    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_detect_on_uploaded_csv_and_parquet_matches_the_drift_core(client, keys):
    from drift import DriftPolicy, build_profile, compare

    reference, current = _tables()
    files = {"reference": ("ref.csv", _csv(reference), "text/csv"),
             "current": ("cur.parquet", _parquet(current), "application/octet-stream")}
    r = client.post("/drift/detect", files=files, data={"alpha": "0.05"}, headers=keys.viewer)
    assert r.status_code == 200, r.text
    report = r.json()
    by_name = {f["name"]: f for f in report["features"]}
    assert by_name["x"]["drifted"] and not by_name["same"]["drifted"]
    assert by_name["c"]["kind"] == "categorical"
    expected = compare(
        {"x": build_profile(reference["x"].to_numpy(), "numeric"),
         "c": build_profile(reference["c"].to_pylist(), "categorical"),
         "same": build_profile(reference["same"].to_numpy(), "numeric")},
        {"x": current["x"].to_numpy(), "c": current["c"].to_pylist(), "same": current["same"].to_numpy()},
        DriftPolicy(alpha=0.05)).to_dict()
    assert report["dataset_drift"] == expected["dataset_drift"]
    assert report["drifted_share"] == pytest.approx(expected["drifted_share"])
    assert by_name["x"]["tests"]["ks"]["statistic"] == pytest.approx(
        expected["features"][0]["tests"]["ks"]["statistic"], rel=1e-6)


def test_detect_with_selected_and_categorical_columns(client, keys):
    reference, current = _tables(1)
    files = {"reference": ("r.csv", _csv(reference)), "current": ("c.csv", _csv(current))}
    r = client.post("/drift/detect", files=files, data={"features": "x,c", "categorical": "x"},
                    headers=keys.viewer)
    assert r.status_code == 200, r.text
    assert [(f["name"], f["kind"]) for f in r.json()["features"]] == [("x", "categorical"),
                                                                     ("c", "categorical")]


@pytest.mark.parametrize("files,data,status", [
    ({"reference": ("r.parquet", b"PAR1garbage"), "current": ("c.csv", b"x\n1\n")}, {}, 422),
    ({"reference": ("r.csv", b"x\n1\n2\n"), "current": ("c.csv", b"y\n1\n2\n")}, {}, 422),
    ({"reference": ("r.csv", b"x\n1\n2\n"), "current": ("c.csv", b"x\n1\n2\n")}, {"features": "nope"}, 422),
    ({"reference": ("r.csv", b"x\n1\n2\n")}, {}, 422),
    ({"reference": ("r.csv", b"x\n1\n2\n"), "current": ("c.csv", b"x\n1\n2\n")}, {"alpha": "2"}, 422),
])
def test_detect_rejects_unusable_uploads(client, keys, files, data, status):
    r = client.post("/drift/detect", files=files, data=data, headers=keys.viewer)
    assert r.status_code == status, r.text
    assert "Traceback" not in r.text


def test_upload_over_the_limit_is_413(client, keys):
    big = b"x\n" + b"1\n" * (1024 * 1024 + 10)  # > 2 MiB upload limit of the fixture
    r = client.post("/drift/detect", files={"reference": ("r.csv", big), "current": ("c.csv", big)},
                    headers=keys.viewer)
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
