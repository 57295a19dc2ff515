"""Bookkeeping for the processes ``driftline stack`` starts: records, liveness, ports.

Everything here is about one rule: ``stack down`` stops only what ``stack up`` started. A
service's record (``<state>/stack/<service>/process.json``) keeps the pid *and* the kernel's
start time of that pid, so a pid the kernel has since handed to another program is never
mistaken for ours. ``proc`` arguments exist so tests can point at a fake ``/proc``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

PROC = Path("/proc")
EXIT_RUNTIME = 1


class StackError(Exception):
    """A service could not be started or stopped: one line that says why (exit code 1 in the
    CLI).

    ``detail`` (e.g. the last lines of a log) is printed above the line, so the last thing
    on the terminal is still the reason.
    """

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, detail: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.detail = list(detail)

    def lines(self) -> list[str]:
        """What the terminal shows: the detail indented, then the reason."""
        return [f"  | {line}" for line in self.detail] + [f"driftline: error: {self.message}"]


class StackConfigError(ValueError):
    """A stack setting is invalid; the message names it (exit code 2 in the CLI)."""


@dataclass(frozen=True)
class Record:
    """What ``up`` remembers about a process it started."""

    service: str
    pid: int
    #: /proc/<pid>/stat field 22 (clock ticks after boot): pid plus this names one process.
    start_time: int
    address: str
    data_dir: str
    log: str
    extra: dict[str, str]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Record | None:
        """The record at ``path``; ``None`` if there is none or it is unreadable."""
        try:
            raw = json.loads(path.read_text())
            return cls(
                service=str(raw["service"]),
                pid=int(raw["pid"]),
                start_time=int(raw["start_time"]),
                address=str(raw["address"]),
                data_dir=str(raw["data_dir"]),
                log=str(raw["log"]),
                extra={str(k): str(v) for k, v in dict(raw.get("extra", {})).items()},
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _stat_fields(pid: int, proc: Path = PROC) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    _, _, rest = text.rpartition(")")
    return rest.split()


def start_time(pid: int, proc: Path = PROC) -> int | None:
    """The start time of a live (non-zombie) process, or ``None`` if there is none."""
    fields = _stat_fields(pid, proc)
    # fields[0] is field 3 (state); field 22 (starttime) is fields[19].
    if fields is None or len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_alive(record: Record, proc: Path = PROC) -> bool:
    """Whether the process the record names still runs (same pid, same start time)."""
    return record.pid > 0 and start_time(record.pid, proc) == record.start_time


def group_members(pgid: int, proc: Path = PROC) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``."""
    members = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name), proc)
            # fields[0] is the state, fields[2] the process group (stat fields 3 and 5).
            if fields and len(fields) > 2 and fields[0] not in ("Z", "X") \
                    and fields[2] == str(pgid):
                members.append(int(entry.name))
    return members


def command_name(pid: int, proc: Path = PROC) -> str:
    try:
        return (proc / str(pid) / "comm").read_text().strip() or "?"
    except OSError:
        return "?"


# -- ports ---------------------------------------------------------------------------------


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (as Kafka and PostgreSQL do, with
    SO_REUSEADDR, so a TIME_WAIT left by our own last run does not count as taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            # cols: sl, local "HEXADDR:HEXPORT", remote, state (0A = LISTEN), ..., inode (9)
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    return inodes


def port_owners(port: int, proc: Path = PROC) -> list[tuple[int, str]]:
    """(pid, command) of the processes listening on ``port``, as far as /proc tells."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port, proc)}
    owners: list[tuple[int, str]] = []
    if not wanted:
        return owners
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in wanted:
                    owners.append((int(entry.name), command_name(int(entry.name), proc)))
                    break
            except OSError:
                continue
    return sorted(owners)


def port_taken_message(service: str, port: int, owners: Sequence[tuple[int, str]]) -> str:
    if owners:
        who = ", ".join(f"pid {pid} {name}" for pid, name in owners)
    else:
        who = "owner unknown"
    return f"{service}: port {port} is taken by another process ({who})"


def require_free_port(service: str, host: str, port: int, proc: Path = PROC) -> None:
    if not port_is_free(host, port):
        raise StackError(port_taken_message(service, port, port_owners(port, proc)))


# -- starting and stopping -------------------------------------------------------------------


def spawn(argv: Sequence[str], output: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached from this terminal in a session (and process group) of its own,
    so ``down`` can stop it with all its children and Ctrl-C here does not reach it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - argv is built by us, never by a shell
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
            cwd=cwd,
        )


def record_for(service: str, process: subprocess.Popen[bytes], *, address: str, data_dir: Path,
               log: Path, extra: dict[str, str] | None = None) -> Record:
    started = start_time(process.pid)
    if started is None:
        code = process.poll()
        raise StackError(f"{service}: exited at once (exit code {code}); see {log}",
                         tail(log))
    return Record(service, process.pid, started, address, str(data_dir), str(log), extra or {})


def terminate(record: Record, timeout: float = 30.0, proc: Path = PROC) -> bool:
    """Stop the recorded process and its process group: SIGTERM, then SIGKILL after
    ``timeout``. Returns False if it was not running (nothing was signalled)."""
    if not is_alive(record, proc):
        return False
    try:
        group = os.getpgid(record.pid)
    except ProcessLookupError:
        return False
    # Signal the whole group only when the process leads it (we started it with
    # start_new_session), and then wait for all of it: MLflow's workers hold its port too.
    leads = group == record.pid
    kill = os.killpg if leads else os.kill

    def gone() -> bool:
        return not is_alive(record, proc) and not (leads and group_members(record.pid, proc))

    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            kill(record.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if gone():
                return True
            time.sleep(0.1)
    return gone()


def tail(path: Path, lines: int = 15) -> list[str]:
    """The last ``lines`` non-empty lines of a text file (none if it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block, so two
    ``stack up`` runs on one state dir (or one jar cache) do not race each other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
