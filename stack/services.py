"""The services of the local stack and how each one is started, probed and stopped.

A service started as a child process (Kafka, MLflow, the SMTP sink) is a :class:`Spawned`:
it renders its config, starts detached, is recorded at once (so ``down`` can stop it even if
``up`` is interrupted), and counts as up only when its probe passes. PostgreSQL is a Debian
cluster instead (``stack/pgcluster.py``). Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import abc
import importlib.util
import os
import shutil
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from stack.processes import (
    Record,
    StackConfigError,
    StackError,
    is_alive,
    record_for,
    require_free_port,
    spawn,
    tail,
    terminate,
)

HOST = "127.0.0.1"
LOOPBACK_NAMES = {"127.0.0.1", "localhost"}

Say = Callable[[str], None]


class StackSettings(BaseSettings):
    """Ports of the stack's services other than Kafka (whose port is ``KAFKA__BROKER``'s).

    ``STACK__POSTGRES_PORT`` etc.; meant to move into ``settings.Settings`` as a ``stack``
    group without renaming a variable.
    """

    model_config = SettingsConfigDict(env_prefix="STACK__", env_file=".env", extra="ignore")

    postgres_port: int = Field(default=55432, ge=1, le=65535)
    mlflow_port: int = Field(default=15000, ge=1, le=65535)
    smtp_port: int = Field(default=11025, ge=1, le=65535)
    #: Seconds a service may take from start to answering its probe.
    start_timeout: float = Field(default=120.0, gt=0)


@dataclass(frozen=True)
class StackConfig:
    stack_dir: Path
    cache_dir: Path
    kafka_host: str
    kafka_port: int
    postgres_port: int
    mlflow_port: int
    smtp_port: int
    start_timeout: float

    @classmethod
    def load(cls) -> StackConfig:
        from settings import Settings

        try:
            settings = Settings()
            stack = StackSettings()
        except ValidationError as exc:
            error = exc.errors()[0]
            where = "__".join(str(part) for part in error["loc"]).upper()
            prefix = "STACK__" if exc.title == StackSettings.__name__ else ""
            raise StackConfigError(f"{prefix}{where}: {error['msg']}") from None
        first = settings.kafka.bootstrap_servers.split(",")[0]
        host, _, port = first.rpartition(":")
        return cls(
            stack_dir=(settings.state_dir / "stack").resolve(),
            cache_dir=cache_root(),
            kafka_host=host,
            kafka_port=int(port),
            postgres_port=stack.postgres_port,
            mlflow_port=stack.mlflow_port,
            smtp_port=stack.smtp_port,
            start_timeout=stack.start_timeout,
        )


def cache_root() -> Path:
    """Shared by every clone on the machine: ``$DRIFTLINE_CACHE``, else ~/.cache/driftline."""
    explicit = os.environ.get("DRIFTLINE_CACHE")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "driftline"


@dataclass(frozen=True)
class Status:
    service: str
    running: bool
    pid: int | None
    address: str
    data_dir: str
    note: str = ""


class Service(abc.ABC):
    name: ClassVar[str]

    def __init__(self, config: StackConfig, say: Say) -> None:
        self.config = config
        self.say = say

    @property
    def home(self) -> Path:
        """``<state>/stack/<service>``: record, logs and (for most services) data."""
        return self.config.stack_dir / self.name

    @property
    def record_path(self) -> Path:
        return self.home / "process.json"

    @property
    @abc.abstractmethod
    def address(self) -> str: ...

    @property
    @abc.abstractmethod
    def data_dir(self) -> Path: ...

    @abc.abstractmethod
    def env(self) -> dict[str, str]:
        """Variables that point driftline at this service."""

    @abc.abstractmethod
    def up(self) -> str:
        """Start (or find running) and wait until ready; returns what happened."""

    @abc.abstractmethod
    def down(self, purge: bool = False) -> str: ...

    def record(self) -> Record | None:
        return Record.load(self.record_path)

    def require_same_address(self, record: Record) -> None:
        """A running service started for other settings (another port) is not "already
        running": say so instead of reporting an address it does not listen on, and instead
        of starting a second one whose first ``down`` could no longer find."""
        if record.address != self.address:
            raise StackError(f"{self.name}: running at {record.address} (pid {record.pid}), "
                             f"not at the configured {self.address}; run `driftline stack down "
                             f"--only {self.name}` first")

    def status(self) -> Status:
        record = self.record()
        running = record is not None and is_alive(record)
        if record is not None and running:
            return Status(self.name, True, record.pid, record.address, record.data_dir)
        return Status(self.name, False, None, self.address, str(self.data_dir))


class Spawned(Service):
    """A service that runs as a detached child process of ``stack up``."""

    @property
    def log(self) -> Path:
        return self.home / f"{self.name}.log"

    @property
    def output(self) -> Path:
        """Where the process's stdout and stderr go."""
        return self.log

    def child_env(self) -> dict[str, str] | None:
        return None

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    def ports(self) -> list[int]:
        return [self.port]

    def preflight(self) -> None:
        """Refuse early, with a reason, when the service cannot start (cheap checks only:
        they run before the port check)."""

    def prepare(self) -> None:
        """Whatever must exist before the process starts (downloads, config, storage)."""

    @abc.abstractmethod
    def command(self) -> list[str]: ...

    @abc.abstractmethod
    def probe(self) -> bool:
        """True once the service answers like itself (not merely accepts connections)."""

    def failure_log(self) -> Path:
        """The log that tells why a start failed."""
        return self.log

    def up(self) -> str:
        deadline = time.monotonic() + self.config.start_timeout
        record = self.record()
        if record is not None and is_alive(record):
            self.require_same_address(record)
            self.wait_ready(record, deadline, started=False)
            return f"already running (pid {record.pid}) at {self.address}"
        self.record_path.unlink(missing_ok=True)  # stale: its process is gone
        self.preflight()
        for port in self.ports():
            require_free_port(self.name, HOST, port)
        self.home.mkdir(parents=True, exist_ok=True)
        self.prepare()
        begun = time.monotonic()
        process = spawn(self.command(), self.output, env=self.child_env(), cwd=self.home)
        record = record_for(self.name, process, address=self.address, data_dir=self.data_dir,
                            log=self.log)
        record.save(self.record_path)
        try:
            self.wait_ready(record, deadline, started=True)
        except BaseException:
            terminate(record, timeout=10)
            self.record_path.unlink(missing_ok=True)
            raise
        return (f"started (pid {record.pid}) at {self.address} "
                f"in {time.monotonic() - begun:.1f} s")

    def wait_ready(self, record: Record, deadline: float, started: bool) -> None:
        while True:
            if not is_alive(record):
                log = self.failure_log()
                lines = tail(log)
                raise StackError(f"{self.name}: the process exited during start"
                                 f"{crash_reason(lines)}; see {log}", lines)
            if self.probe():
                return
            if time.monotonic() > deadline:
                what = "did not become ready" if started else "is running but does not answer"
                log = self.failure_log()
                raise StackError(
                    f"{self.name}: {what} within {self.config.start_timeout:.0f} s; "
                    f"see {log}", tail(log))
            time.sleep(0.25)

    def down(self, purge: bool = False) -> str:
        record = self.record()
        if record is not None and is_alive(record):
            if not terminate(record):
                raise StackError(f"{self.name}: pid {record.pid} did not stop")
            message = f"stopped (pid {record.pid})"
        else:
            message = "not running"
        self.record_path.unlink(missing_ok=True)
        if purge and self.home.exists():
            shutil.rmtree(self.home)
            message += f"; removed {self.home}"
        return message


def crash_reason(lines: list[str]) -> str:
    """': <the last error line>' from a log tail (a Java exception, a Python one), or ''."""
    for line in reversed(lines):
        text = line.strip()
        if not text.startswith("at ") and ("Exception" in text or "Error" in text):
            return f": {text}"
    return ""


class MLflow(Spawned):
    name = "mlflow"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.config.mlflow_port}"

    @property
    def data_dir(self) -> Path:
        return self.home

    def env(self) -> dict[str, str]:
        return {"MLFLOW__TRACKING_URI": f"http://{self.address}"}

    def preflight(self) -> None:
        if importlib.util.find_spec("mlflow") is None:
            raise StackError(f"mlflow: the mlflow package is not installed in this Python "
                             f"({sys.executable}); install it (e.g. uv sync --extra dev)")

    def child_env(self) -> dict[str, str]:
        # MLflow 3 also starts a job runner with a handful of worker processes (GenAI
        # evaluation jobs) that driftline never uses; on a 2-core machine they double the
        # start time. Tracking and the model registry do not need them.
        return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "mlflow", "server",
                "--backend-store-uri", f"sqlite:///{self.data_dir / 'mlflow.db'}",
                "--artifacts-destination", str(self.data_dir / "artifacts"),
                "--host", HOST, "--port", str(self.config.mlflow_port), "--workers", "1"]

    def probe(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.address}/health", timeout=2) as reply:  # noqa: S310
                return bool(reply.status == 200)
        except OSError:
            return False


class MailSink(Spawned):
    """An SMTP server that keeps every message in ``mailbox.jsonl`` (see ``stack/mailsink.py``)."""

    name = "smtp"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.config.smtp_port}"

    @property
    def data_dir(self) -> Path:
        return self.home

    @property
    def mailbox(self) -> Path:
        return self.config.stack_dir / "mailbox.jsonl"

    def env(self) -> dict[str, str]:
        return {"SMTP__HOST": HOST, "SMTP__PORT": str(self.config.smtp_port)}

    def down(self, purge: bool = False) -> str:
        message = super().down(purge)
        if purge and self.mailbox.exists():
            self.mailbox.unlink()
            message += f"; removed {self.mailbox}"
        return message

    def preflight(self) -> None:
        if importlib.util.find_spec("aiosmtpd") is None:
            raise StackError(f"smtp: the aiosmtpd package is not installed in this Python "
                             f"({sys.executable}); run uv sync")

    def child_env(self) -> dict[str, str]:
        # The sink is this package's own module: make it importable even from a checkout
        # that is not installed, whatever the working directory.
        root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        return {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "stack.mailsink", "--host", HOST,
                "--port", str(self.config.smtp_port), "--mailbox", str(self.mailbox)]

    def probe(self) -> bool:
        try:
            with socket.create_connection((HOST, self.config.smtp_port), timeout=2) as sock:
                return sock.recv(64).startswith(b"220")
        except OSError:
            return False
