"""`driftline replay` before and without Kafka: a binary file is refused with one message,
a broker that is down is named with the command that starts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DRIFTLINE = str(Path(sys.executable).parent / "driftline")


def _run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DRIFTLINE, "replay", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120, check=False, cwd=cwd)


def test_a_binary_file_stops_after_a_few_lines_with_one_summary(tmp_path: Path) -> None:
    binary = tmp_path / "dump.jsonl"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage\n" * 5000)
    result = _run(str(binary), "--topic", "features", KAFKA__BROKER="kafka://127.0.0.1:1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"driftline: error: {binary}: not a JSON-lines text file: lines 1, 2, 3, 4, "
                     "5 are not UTF-8 text; stopped after 5 such lines without sending anything"]


def test_kafka_down_is_named_with_the_way_to_start_it(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"model_name": "m"}\n', encoding="utf-8")
    on_path = f"{Path(DRIFTLINE).parent}:/usr/bin:/bin"
    result = _run(str(events), "--topic", "other", KAFKA__BROKER="kafka://127.0.0.1:1",
                  PATH=on_path)
    assert result.returncode == 1
    assert result.stderr.startswith("driftline: error: Kafka is not reachable at 127.0.0.1:1 "
                                    "— start it with `driftline stack up`"), result.stderr
    assert "Traceback" not in result.stderr
    assert "Unable connect" not in result.stderr  # aiokafka's own line is not repeated
    # not on PATH (as after scripts/demo): the command names the driftline that ran
    result = _run(str(events), "--topic", "other", cwd=tmp_path,
                  KAFKA__BROKER="kafka://127.0.0.1:1", PATH="/usr/bin:/bin")
    assert f"start it with `{DRIFTLINE} stack up`" in result.stderr, result.stderr


def test_a_stray_undecodable_line_is_a_bad_line_not_a_crash() -> None:
    from cli.replay import check_line

    key, reason = check_line(b'{"x": "\xff"}', None, None)
    assert key is None and reason == "not UTF-8 text (byte 0xff at position 7)"


def test_a_sharded_models_lines_go_straight_to_their_shard() -> None:
    """Replay sends a sharded model's event where the worker would put it (the shard of the
    canonical event_id), an unsharded model's by its key alone."""
    import orjson

    from cli.replay import shard_target
    from settings import Settings
    from streams.shards import placement

    settings = Settings(kafka={"partitions": 4}, drift={"models": {"hot": {"shards": 3}}})
    event_id = "6F1C7A3E-1D2B-4C5D-8E9F-0A1B2C3D4E5F"
    line = orjson.dumps({"event_id": event_id, "model_name": "hot"})
    assert shard_target(settings, line, b"hot") == placement("hot", event_id.lower(), 3, 4)
    assert shard_target(settings, line, b"cold") == (b"cold", None)
    bad = orjson.dumps({"event_id": 7, "model_name": "hot"})
    assert shard_target(settings, bad, b"hot") == (b"hot", None)
