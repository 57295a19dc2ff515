"""`driftline stack` commands up to the point where a real service would start: option
parsing, env output, status, refusals with one-line reasons, and the idempotence
bookkeeping (with a stand-in process where noted)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.stack import stack
from stack import processes, services
from stack.manager import parse_only
from stack.processes import Record


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated state dir and non-default ports; no .env of the developer's is read."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("KAFKA__BROKER", "kafka://127.0.0.1:39092")
    monkeypatch.setenv("STACK__POSTGRES_PORT", "55999")
    monkeypatch.setenv("STACK__MLFLOW_PORT", "15999")
    monkeypatch.setenv("STACK__SMTP_PORT", "11999")
    return tmp_path / "state" / "stack"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(stack, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_only_keeps_start_order_and_rejects_unknown_names() -> None:
    assert parse_only(None) == ["kafka", "postgres", "mlflow", "smtp"]
    assert parse_only("smtp, kafka") == ["kafka", "smtp"]
    code, _, err = run("up", "--only", "kafka,redis")
    assert code == 2
    assert err.strip() == ("driftline: error: --only: unknown service redis; "
                           "choose from kafka,postgres,mlflow,smtp")


def test_env_prints_exports_for_the_configured_ports(state: Path) -> None:
    code, out, _ = run("env")
    assert code == 0
    assert out.splitlines() == [
        "export KAFKA__BROKER=kafka://127.0.0.1:39092",
        "export DATABASE__URL=postgresql+psycopg://driftline:driftline@127.0.0.1:55999/driftline",
        "export MLFLOW__TRACKING_URI=http://127.0.0.1:15999",
        "export SMTP__HOST=127.0.0.1",
        "export SMTP__PORT=11999",
    ]
    assert run("env", "--only", "smtp")[1].splitlines() == [
        "export SMTP__HOST=127.0.0.1", "export SMTP__PORT=11999"]


@pytest.mark.parametrize(("name", "value", "message"), [
    ("STACK__SMTP_PORT", "70000", "STACK__SMTP_PORT: Input should be less than or equal to 65535"),
    ("KAFKA__BROKER", "nohostport", "KAFKA__BROKER: Value error, KAFKA__BROKER must look like "
                                    "kafka://host:port[,host:port]"),
])
def test_bad_settings_are_one_line_bad_input(state: Path, monkeypatch: pytest.MonkeyPatch,
                                             name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    code, _, err = run("status")
    assert code == 2
    assert err.splitlines() == [f"driftline: error: {message}"]


def test_status_with_nothing_started_says_stopped_with_addresses_and_data_dirs(state: Path) -> None:
    code, out, _ = run("status", "--only", "kafka,mlflow,smtp")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["SERVICE", "STATE", "PID", "ADDRESS", "DATA"]
    assert lines[1].split() == ["kafka", "stopped", "-", "127.0.0.1:39092",
                                str(state / "kafka" / "data")]
    assert lines[2].split() == ["mlflow", "stopped", "-", "127.0.0.1:15999", str(state / "mlflow")]
    assert lines[3].split() == ["smtp", "stopped", "-", "127.0.0.1:11999", str(state / "smtp")]


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_up_on_a_taken_port_fails_in_one_line_naming_the_holder(
        state: Path, listener: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACK__SMTP_PORT", str(listener))
    code, out, err = run("up", "--only", "smtp")
    assert code == 1
    me = f"pid {os.getpid()} {processes.command_name(os.getpid())}"
    assert err.splitlines() == [
        f"driftline: error: smtp: port {listener} is taken by another process ({me})"]
    assert not (state / "smtp" / "process.json").exists()


def test_kafka_refuses_a_broker_address_off_loopback(
        state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA__BROKER", "kafka://10.1.2.3:9092")
    code, _, err = run("up", "--only", "kafka")
    assert code == 1
    assert err.splitlines() == ["driftline: error: kafka: KAFKA__BROKER host '10.1.2.3' is not "
                                "127.0.0.1 or localhost; the local stack listens on loopback only"]


def test_mlflow_missing_is_a_one_line_failure(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = services.importlib.util.find_spec
    monkeypatch.setattr(services.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlflow" else real(name, *a))
    code, _, err = run("up", "--only", "mlflow")
    assert code == 1
    assert len(err.splitlines()) == 1
    assert err.startswith("driftline: error: mlflow: the mlflow package is not installed")


@pytest.fixture
def stand_in() -> Iterator[subprocess.Popen[bytes]]:
    """A real process that plays a service we started (bookkeeping tests only)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             start_new_session=True)
    yield child
    child.kill()
    child.wait()


def save_record(state: Path, service: str, pid: int, start: int,
                address: str = "127.0.0.1:11999") -> Path:
    path = state / service / "process.json"
    Record(service, pid, start, address, str(state / service), "/dev/null", {}).save(path)
    return path


def test_up_again_leaves_the_running_one_alone(
        state: Path, stand_in: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    start = processes.start_time(stand_in.pid)
    assert start is not None
    save_record(state, "smtp", stand_in.pid, start)
    monkeypatch.setattr(services.MailSink, "probe", lambda self: True)
    monkeypatch.setattr(services, "spawn", lambda *a, **k: pytest.fail("spawned a second one"))
    code, out, _ = run("up", "--only", "smtp")
    assert code == 0
    assert out.splitlines()[0] == \
        f"smtp      already running (pid {stand_in.pid}) at 127.0.0.1:11999"
    assert run("status", "--only", "smtp")[1].splitlines()[1].split()[:3] == \
        ["smtp", "running", str(stand_in.pid)]


def test_up_refuses_when_the_running_one_was_started_for_another_port(
        state: Path, stand_in: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    start = processes.start_time(stand_in.pid)
    assert start is not None
    save_record(state, "smtp", stand_in.pid, start, address="127.0.0.1:11000")
    monkeypatch.setattr(services, "spawn", lambda *a, **k: pytest.fail("spawned a second one"))
    code, _, err = run("up", "--only", "smtp")
    assert code == 1
    assert err.splitlines() == [
        f"driftline: error: smtp: running at 127.0.0.1:11000 (pid {stand_in.pid}), not at the "
        "configured 127.0.0.1:11999; run `driftline stack down --only smtp` first"]
    # status shows where it really listens
    assert run("status", "--only", "smtp")[1].splitlines()[1].split()[:4] == \
        ["smtp", "running", str(stand_in.pid), "127.0.0.1:11000"]


def test_down_stops_the_recorded_process(state: Path, stand_in: subprocess.Popen[bytes]) -> None:
    start = processes.start_time(stand_in.pid)
    assert start is not None
    path = save_record(state, "smtp", stand_in.pid, start)
    code, out, _ = run("down", "--only", "smtp")
    assert code == 0
    assert out.splitlines() == [f"smtp      stopped (pid {stand_in.pid})"]
    assert stand_in.wait(timeout=5) is not None
    assert not path.exists()


def test_down_never_signals_a_pid_that_now_belongs_to_someone_else(
        state: Path, stand_in: subprocess.Popen[bytes]) -> None:
    start = processes.start_time(stand_in.pid)
    assert start is not None
    path = save_record(state, "smtp", stand_in.pid, start - 1)  # our process died; pid reused
    code, out, _ = run("down", "--only", "smtp")
    assert code == 0
    assert out.splitlines() == ["smtp      not running"]
    assert stand_in.poll() is None  # untouched
    assert not path.exists()  # the stale record is gone


def test_a_stale_record_does_not_count_as_running(state: Path) -> None:
    save_record(state, "smtp", 2**22 + 12345, 1)  # above pid_max's default: never alive
    code, out, _ = run("status", "--only", "smtp")
    assert out.splitlines()[1].split()[:3] == ["smtp", "stopped", "-"]


def test_mailbox_prints_messages_and_json(state: Path) -> None:
    assert run("mailbox")[0] == 0
    state.mkdir(parents=True)
    mail = {"received_at": "2026-01-01T00:00:00+00:00", "mail_from": "a@x", "rcpt_tos": ["b@y"],
            "subject": "Drift!", "text": "PSI 0.3\nseverity high", "html": ""}
    (state / "mailbox.jsonl").write_text(json.dumps(mail) + "\n")
    code, out, _ = run("mailbox")
    assert code == 0
    assert out.splitlines() == ["#1 2026-01-01T00:00:00+00:00  a@x -> b@y", "   Subject: Drift!",
                                "   PSI 0.3", "   severity high",
                                f"1 message(s) in {state / 'mailbox.jsonl'}"]
    assert run("mailbox", "--json")[1] == json.dumps(mail) + "\n"


def test_a_service_that_never_answers_times_out_with_its_log_tail(
        state: Path, stand_in: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACK__START_TIMEOUT", "1")
    sink = services.MailSink(services.StackConfig.load(), lambda text: None)
    sink.home.mkdir(parents=True)
    sink.log.write_text("starting\nstill starting\n")
    monkeypatch.setattr(services.MailSink, "probe", lambda self: False)
    start = processes.start_time(stand_in.pid)
    assert start is not None
    record = Record("smtp", stand_in.pid, start, sink.address, "-", str(sink.log), {})
    with pytest.raises(processes.StackError) as caught:
        sink.wait_ready(record, deadline=0.0, started=True)
    assert caught.value.message == \
        f"smtp: did not become ready within 1 s; see {sink.log}"
    assert caught.value.detail == ["starting", "still starting"]
