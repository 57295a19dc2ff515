"""The default a new user meets: no DATABASE__URL. A real worker on the stack's Kafka writes
its embedded SQLite store, and the API on the same file answers every read route."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cli.traffic import TrafficSpec, feature_events
from storage.models import DriftResult
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.integration


def test_worker_and_api_on_the_sqlite_default(store, worker_factory, base_env, broker, unique,
                                              tmp_path: Path):
    if store != "sqlite":
        pytest.skip("the default store's run; on PostgreSQL test_walking_skeleton covers the worker")
    from api.main import create_app
    from settings import DatabaseSettings, Settings
    from storage.keys import create_key

    del base_env["DATABASE__URL"]  # the worker falls back to STATE_DIR/driftline.sqlite3
    model = f"{unique}-model"
    spec = TrafficSpec(model_name=model, numeric=("income", "age"), categorical=("region",),
                       shifted=("income",), shift_at=2000, shift_sigma=1.0, seed=5)
    path = tmp_path / "traffic.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in feature_events(spec, 4000)) + b"\n")
    worker_factory()
    run_cli(base_env, "replay", str(path), "--topic", "features")

    # no URL, as for the worker (the test process's own DATABASE__URL is the stack's)
    settings = Settings(state_dir=tmp_path / "state-0", kafka={"broker": broker}, database=DatabaseSettings(),
                        api={"client_rate_limit_burst": 1000})
    assert settings.database_url.startswith("sqlite:///")
    app = create_app(settings)
    engine = app.state.engine
    deadline = time.monotonic() + 180
    windows = 0
    while time.monotonic() < deadline and windows < 9:  # 3 windows x 3 features
        time.sleep(1)
        try:
            with engine.connect() as conn:
                windows = conn.execute(select(func.count()).where(
                    DriftResult.model_name == model, DriftResult.test.in_(("ks", "chi2")))).scalar_one()
        except Exception:  # noqa: BLE001 - the worker has not migrated the file yet
            windows = 0
    assert windows == 9, windows

    _, token = create_key(engine, f"{unique}-admin", "admin")
    headers = {"X-API-Key": token}
    with TestClient(app, raise_server_exceptions=False) as client:
        latest = client.get("/drift/latest", params={"model": model}, headers=headers)
        assert latest.status_code == 200, latest.text
        results = latest.json()["results"]
        pairs = [(r["kind"], r["feature"]) for r in results]
        assert len(pairs) == len(set(pairs))  # one row per kind and feature
        tested = [r for r in results if r["test"] in ("ks", "chi2")]
        assert {r["feature"] for r in tested} == {"income", "age", "region"}
        assert {r["window_start_seq"] for r in tested} == {3000}  # from the last window
        for path, params in (("/drift/results", {"model": model}), ("/drift/models", {}),
                             ("/analytics/drift/summary", {"model": model}),
                             ("/analytics/drift/trends", {"model": model, "bucket": "hour"}),
                             ("/performance/trends", {"model": model, "metric": "accuracy"}),
                             ("/performance/compare", {"model": model, "metric": "accuracy"}),
                             ("/red-team/results", {}), ("/retrain/requests", {}),
                             ("/retrain/jobs", {}), ("/promotions", {}), ("/audit", {})):
            r = client.get(path, params=params, headers=headers)
            assert r.status_code == 200, (path, r.text)
        trends = client.get("/analytics/drift/trends", params={"model": model, "bucket": "day"},
                            headers=headers).json()
        assert sum(p["results"] for p in trends) >= 9
