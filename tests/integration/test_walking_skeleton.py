"""Events in, drift events out, on the real broker and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.traffic import TrafficSpec, feature_events
from storage.models import DriftResult
from tests.integration.conftest import consume, produce, read_to_end, run_cli

pytestmark = pytest.mark.integration


def _drift(messages, windows_only=True):
    """Drift events from messages; by default only window tests (not online detectors)."""
    events = [orjson.loads(m.value) for m in messages]
    return [e for e in events if e["test"] in ("ks", "chi2")] if windows_only else events


def _windows(n):
    return lambda messages: len(_drift(messages)) >= n


def test_shift_after_2000_events_is_detected_and_stored(
    worker_factory, base_env, broker, engine, unique, tmp_path: Path
):
    spec = TrafficSpec(model_name=f"{unique}-model", numeric=("income", "age"), categorical=(),
                       shifted=("income",), shift_at=2000, shift_sigma=1.0, seed=11)
    events = list(feature_events(spec, 4000))
    path = tmp_path / "traffic.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")

    worker_factory()
    result = run_cli(base_env, "replay", str(path), "--topic", "features")
    assert "sent 4000 event(s)" in result.stdout

    # reference = events 0..999, then windows [1000,2000), [2000,3000), [3000,4000), 2 features
    messages = consume(broker, f"{unique}-drift-events", _windows(6))
    drift = _drift(messages)
    assert len(drift) == 6, drift
    # the online detectors noticed the shift too, after it started
    detections = [d for d in _drift(messages, windows_only=False) if d["test"] == "adwin"]
    assert any(d["feature"] == "income" for d in detections)
    assert all(d["window_start_seq"] >= 2000 for d in detections if d["feature"] == "income")
    by_feature = {name: [d for d in drift if d["feature"] == name] for name in ("income", "age")}
    assert sorted(d["window_start_seq"] for d in by_feature["income"]) == [1000, 2000, 3000]
    assert all(d["test"] == "ks" and d["reference_size"] == 1000 and d["current_size"] == 1000
               for d in drift)

    drifted_income = [d for d in by_feature["income"] if d["drifted"]]
    assert drifted_income, by_feature["income"]
    assert all(d["window_start_seq"] >= 2000 for d in drifted_income)
    assert all(d["p_value"] < 0.05 and d["severity"] in ("medium", "high") for d in drifted_income)
    assert not any(d["drifted"] for d in by_feature["age"]), by_feature["age"]

    # the same events, as rows in PostgreSQL (the sink may lag the topic by a batch)
    import time

    deadline = time.monotonic() + 60
    rows = []
    while time.monotonic() < deadline:
        with Session(engine) as session:
            rows = list(session.scalars(
                select(DriftResult).where(DriftResult.model_name == spec.model_name)))
        if {d["event_id"] for d in drift} <= {str(r.event_id) for r in rows}:
            break
        time.sleep(0.5)
    stored = {str(r.event_id): r for r in rows}
    assert {d["event_id"] for d in drift} <= set(stored)
    # the sink stores what the topic holds: an online detector may have published after
    # the consume above stopped, so compare with the topic as it is now
    everything = {orjson.loads(m.value)["event_id"]
                  for m in read_to_end(broker, f"{unique}-drift-events")}
    assert set(stored) <= everything
    for d in drift:
        row = stored[d["event_id"]]
        assert row.drifted == d["drifted"] and row.feature == d["feature"]
        assert row.window_start_seq == d["window_start_seq"]
        assert row.statistic == pytest.approx(d["statistic"])


def _malformed(unique: str, i: int) -> bytes | None:
    good = next(feature_events(TrafficSpec(model_name=f"{unique}-model"), 1, first=10_000 + i))
    kinds = [
        lambda: b"{not json",
        lambda: b"\xff\xfe\x00binary",
        lambda: json.dumps({**good, "event_id": "nope"}).encode(),
        lambda: json.dumps({k: v for k, v in good.items() if k != "timestamp"}).encode(),
        lambda: json.dumps({**good, "timestamp": "2026-11-26 10:00"}).encode(),
        lambda: json.dumps(good).replace('"income": ', '"income": NaN, "x": ').encode(),
        lambda: json.dumps({**good, "features": {}}).encode(),
        lambda: json.dumps({**good, "features": {f"f{j}": j for j in range(600)}}).encode(),
        lambda: json.dumps({**good, "schema_version": 99}).encode(),
        lambda: b"[1,2,3]",
    ]
    return kinds[i % len(kinds)]()


def test_malformed_events_go_to_dead_letters_and_the_worker_keeps_going(
    worker_factory, base_env, broker, unique
):
    env = {"DRIFT__REFERENCE_SIZE": "250", "DRIFT__WINDOW_SIZE": "250"}
    worker = worker_factory(**env)
    model = f"{unique}-model"
    good = [orjson.dumps(e) for e in feature_events(TrafficSpec(model_name=model), 1000)]
    bad = [_malformed(unique, i) for i in range(100)]
    items: list[tuple[bytes | None, bytes | None]] = []
    for i, value in enumerate(good):
        items.append((model.encode(), value))
        if i % 10 == 5:
            items.append((model.encode(), bad[i // 10]))
    assert len(items) == 1100
    produce(broker, f"{unique}-features", items)

    letters = [orjson.loads(m.value) for m in
               consume(broker, f"{unique}-dead-letters", lambda m: len(m) >= 100, timeout=120)]
    assert len(letters) == 100
    assert all(letter["reason"] and letter["topic"] == f"{unique}-features" for letter in letters)
    import base64

    assert sorted(base64.b64decode(x["value_b64"]) for x in letters) == sorted(bad)
    reasons = {x["reason"] for x in letters}
    assert any("not valid JSON" in r for r in reasons)
    assert any("event_id" in r for r in reasons)
    assert any("more than 500" in r for r in reasons)

    # 1,000 good events: reference 0..249, then three 250-event windows ending at 1000
    drift = _drift(consume(broker, f"{unique}-drift-events", _windows(9)))
    assert sorted({d["window_end_seq"] for d in drift}) == [500, 750, 1000]
    assert worker.alive

    # and it still processes what comes next
    more = [orjson.dumps(e) for e in feature_events(TrafficSpec(model_name=model), 250, first=1000)]
    produce(broker, f"{unique}-features", [(model.encode(), v) for v in more])
    drift = _drift(consume(broker, f"{unique}-drift-events", _windows(12)))
    assert max(d["window_end_seq"] for d in drift) == 1250
    assert len(drift) == 12
    assert worker.alive
    # nothing of the run was written twice
    assert len({d["event_id"] for d in drift}) == 12
    assert uuid.UUID(drift[0]["event_id"])
