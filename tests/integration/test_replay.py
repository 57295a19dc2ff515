"""`driftline replay` against the real broker: good lines are sent keyed by model, bad ones
are reported by line number and the command exits 2."""

from __future__ import annotations

import orjson
import pytest

from cli.traffic import TrafficSpec, feature_events
from tests.integration.conftest import consume, run_cli

pytestmark = pytest.mark.integration


def test_replay_sends_good_lines_and_reports_bad_ones(base_env, broker, unique, tmp_path):
    model = f"{unique}-replay"
    good = [orjson.dumps(e) for e in feature_events(TrafficSpec(model_name=model), 50)]
    lines = good[:20] + [b"{broken", b""] + good[20:40] + [b'{"event_id": "x"}'] + good[40:]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = run_cli(base_env, "replay", str(path), "--topic", "features", check=False)
    assert result.returncode == 2
    assert "sent 50 event(s)" in result.stdout and "2 bad line(s) skipped" in result.stdout
    assert f"{path}: line 21: not valid JSON" in result.stderr
    assert f"{path}: line 43: event_id: 'x' is not a UUID" in result.stderr
    messages = consume(broker, f"{unique}-features", lambda m: len(m) >= 50, timeout=60)
    assert len(messages) == 50
    assert {m.key for m in messages} == {model.encode()}
    assert sorted(m.value for m in messages) == sorted(good)


def test_replay_of_a_missing_file_is_a_one_line_error(base_env, tmp_path):
    result = run_cli(base_env, "replay", str(tmp_path / "none.jsonl"), "--topic", "features",
                     check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"driftline: error: {tmp_path / 'none.jsonl'}: no such file"
