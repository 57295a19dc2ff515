"""JSON log lines: one object per record, with the trace and the event being worked on."""

from __future__ import annotations

import json
import logging
import logging.config

import pytest

from observability import tracing
from observability.logs import JsonFormatter, correlated, logging_config


def record(message: str, *args: object, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    rec = logging.getLogger("agents.features").makeRecord(
        "agents.features", level, __file__, 1, message, args, None, extra=extra or None)
    return rec


def test_a_record_is_one_json_line_with_the_basics():
    line = JsonFormatter().format(record("mailed %s alert for %s", "drift", "m1", model="m1"))
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["message"] == "mailed drift alert for m1"
    assert doc["level"] == "INFO" and doc["logger"] == "agents.features"
    assert doc["timestamp"].endswith("+00:00") and "T" in doc["timestamp"]
    assert doc["model"] == "m1"
    assert "trace_id" not in doc and "span_id" not in doc and "event_id" not in doc


def test_records_in_a_span_carry_its_ids_and_the_event_id(spans):
    with tracing.span("process features") as span, correlated("8f1c-event"):
        doc = json.loads(JsonFormatter().format(record("dead letter")))
    ctx = span.get_span_context()
    assert doc["trace_id"] == format(ctx.trace_id, "032x")
    assert doc["span_id"] == format(ctx.span_id, "016x")
    assert doc["event_id"] == "8f1c-event"
    after = json.loads(JsonFormatter().format(record("later")))
    assert "trace_id" not in after and "event_id" not in after


def test_exceptions_keep_their_traceback():
    try:
        raise ValueError("bad window")
    except ValueError:
        rec = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "failed", (),
                                                exc_info=__import__("sys").exc_info())
    doc = json.loads(JsonFormatter().format(rec))
    assert "ValueError: bad window" in doc["exception"] and "Traceback" in doc["exception"]


def test_text_format_leaves_logging_alone():
    assert logging_config("info", "text") is None


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:], level = saved
    root.setLevel(level)


def test_the_json_config_turns_every_logger_into_json_lines(capsys, spans, restore_logging):
    logging.config.dictConfig(logging_config("warn", "json", loggers=("uvicorn.access",)))
    logging.getLogger("faust.worker").info("hidden: below warn")
    logging.getLogger("faust.worker").warning("[^Worker]: %s", "Ready")
    with tracing.span("request") as span:
        logging.getLogger("uvicorn.access").warning("GET /metrics 200")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["message"] for d in lines] == ["[^Worker]: Ready", "GET /metrics 200"]
    assert lines[1]["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert "trace_id" not in lines[0]
