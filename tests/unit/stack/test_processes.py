"""Pid records, liveness, port ownership: the bookkeeping behind `stack down` stopping only
what `stack up` started. A fake /proc where the kernel's answer matters; real sockets and
real (tiny) processes where they are cheap."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from stack import processes
from stack.processes import Record, StackError


def fake_proc(root: Path, pid: int, *, comm: str = "java", state: str = "S",
              start: int = 4242, fds: dict[str, str] | None = None) -> None:
    d = root / str(pid)
    (d / "fd").mkdir(parents=True)
    # Field 2 may hold spaces and parentheses; field 22 is the start time.
    fields = [state] + ["0"] * 18 + [str(start)] + ["0"] * 10
    (d / "stat").write_text(f"{pid} ({comm} (x) y) {' '.join(fields)}\n")
    (d / "comm").write_text(comm + "\n")
    for name, target in (fds or {}).items():
        os.symlink(target, d / "fd" / name)


def record(pid: int = 77, start: int = 4242) -> Record:
    return Record("kafka", pid, start, "127.0.0.1:19092", "/d", "/d/server.log", {})


def test_record_round_trips_and_a_corrupt_record_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "kafka" / "process.json"
    rec = Record("kafka", 12, 34, "127.0.0.1:1", "/data", "/log", {"cluster": "c"})
    rec.save(path)
    assert Record.load(path) == rec
    assert not list(path.parent.glob(".*"))  # the temporary file was renamed away
    path.write_text("{not json")
    assert Record.load(path) is None
    assert Record.load(tmp_path / "missing.json") is None


def test_start_time_reads_field_22_even_with_parentheses_in_the_name(tmp_path: Path) -> None:
    fake_proc(tmp_path, 77, comm="weird ) name", start=987654)
    assert processes.start_time(77, tmp_path) == 987654
    assert processes.start_time(78, tmp_path) is None


def test_a_zombie_is_not_alive(tmp_path: Path) -> None:
    fake_proc(tmp_path, 77, state="Z")
    assert processes.start_time(77, tmp_path) is None
    assert not processes.is_alive(record(77), tmp_path)


def test_a_reused_pid_is_not_our_process(tmp_path: Path) -> None:
    fake_proc(tmp_path, 77, start=5000)  # same pid, started later: someone else's
    assert not processes.is_alive(record(77, start=4242), tmp_path)
    assert processes.is_alive(record(77, start=5000), tmp_path)


def test_port_owners_maps_a_listening_socket_to_its_process(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt" \
             "   uid  timeout inode\n"
    rest = "00000000:00000000 00:00000000 00000000     0        0"
    # 0x4A64 = 19044 LISTEN (0A) inode 111; 0x4A65 = 19045 ESTABLISHED (01) inode 222
    (tmp_path / "net" / "tcp").write_text(
        header
        + f"   0: 0100007F:4A64 00000000:0000 0A {rest} 111 1\n"
        + f"   1: 0100007F:4A65 0100007F:9C40 01 {rest} 222 1\n")
    (tmp_path / "net" / "tcp6").write_text(header)
    fake_proc(tmp_path, 1234, comm="java", fds={"95": "socket:[111]"})
    fake_proc(tmp_path, 999, comm="bash", fds={"3": "socket:[222]", "4": "/dev/null"})
    assert processes.port_owners(19044, tmp_path) == [(1234, "java")]
    assert processes.port_owners(19045, tmp_path) == []  # connected, not listening


def test_port_taken_message_is_one_line_naming_the_process() -> None:
    message = processes.port_taken_message("kafka", 19092, [(1234, "java")])
    assert message == "kafka: port 19092 is taken by another process (pid 1234 java)"
    assert processes.port_taken_message("smtp", 25, []) == \
        "smtp: port 25 is taken by another process (owner unknown)"


def test_require_free_port_names_the_real_listener() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not processes.port_is_free("127.0.0.1", port)
        with pytest.raises(StackError) as caught:
            processes.require_free_port("smtp", "127.0.0.1", port)
        assert caught.value.message == (
            f"smtp: port {port} is taken by another process "
            f"(pid {os.getpid()} {processes.command_name(os.getpid())})")
    assert processes.port_is_free("127.0.0.1", port)


def test_terminate_stops_our_process_group(tmp_path: Path) -> None:
    # A shell whose child would outlive a plain kill of the shell alone.
    child = processes.spawn(["sh", "-c", "sleep 60 & wait"], tmp_path / "out.log")
    rec = processes.record_for("x", child, address="-", data_dir=tmp_path, log=tmp_path / "l")
    assert processes.is_alive(rec)
    assert processes.terminate(rec, timeout=5)
    child.wait(timeout=5)
    assert not processes.is_alive(rec)
    # The orphaned `sleep` got the signal too. (It may linger as a zombie where PID 1 does
    # not reap orphans, as in some containers; a zombie holds no port and no memory.)
    states = subprocess.run(["ps", "-o", "stat=", "-g", str(rec.pid)], capture_output=True,
                            text=True).stdout.split()
    assert all(state.startswith("Z") for state in states)
    assert processes.group_members(rec.pid) == []


def test_terminate_leaves_a_process_alone_when_the_start_time_differs(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = processes.start_time(child.pid)
        assert started is not None
        stranger = Record("x", child.pid, started + 1, "-", "-", "-", {})  # pid reused
        assert processes.terminate(stranger, timeout=1) is False
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_tail_skips_blank_lines_and_missing_files(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n\n" for i in range(40)))
    assert processes.tail(log, 3) == ["line 37", "line 38", "line 39"]
    assert processes.tail(tmp_path / "nope.log") == []


def test_stack_error_shows_detail_then_one_line_and_exits_1() -> None:
    error = StackError("kafka: did not become ready", ["FATAL boom", "more"])
    assert error.exit_code == 1
    assert error.lines() == ["  | FATAL boom", "  | more",
                             "driftline: error: kafka: did not become ready"]


def test_the_stack_command_prints_a_stack_error_and_exits_1(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    import cli.stack

    def broken(*args: object, **kwargs: object) -> object:
        raise StackError("postgres: pg_ctlcluster 15 driftline start failed", ["FATAL: no"])

    monkeypatch.setattr(cli.stack, "build", broken)
    monkeypatch.setenv("STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(cli.stack.stack, ["status"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "  | FATAL: no", "driftline: error: postgres: pg_ctlcluster 15 driftline start failed"]


def test_crash_reason_is_the_last_error_line_not_a_stack_frame() -> None:
    from stack.services import crash_reason

    tail = ["[x] INFO shutting down",
            "[x] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)",
            "java.lang.RuntimeException: Error: node ID not found in /d",
            "\tat kafka.server.KafkaRaftServer$.initializeLogDirs(KafkaRaftServer.scala:157)",
            "\tat kafka.Kafka.main(Kafka.scala)"]
    assert crash_reason(tail) == ": java.lang.RuntimeException: Error: node ID not found in /d"
    assert crash_reason(["all fine"]) == ""
