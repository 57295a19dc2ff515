"""`driftline stack` against the real services: each test runs the CLI in a subprocess, in a
temporary state dir, on free non-default ports (so a developer's running stack is never
touched), and tears down with `stack down --purge` whatever happens."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest

from stack import processes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def free_port(pair: bool = False) -> int:
    """A port nobody listens on (and, for Kafka, the next one free too)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < 65535 and processes.port_is_free("127.0.0.1", port) and (
                not pair or processes.port_is_free("127.0.0.1", port + 1)):
            return port
    raise RuntimeError("no free port pair found")


@dataclass
class Stack:
    root: Path
    kafka_port: int = field(default_factory=lambda: free_port(pair=True))
    postgres_port: int = field(default_factory=free_port)
    mlflow_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    name: str = "a"

    @property
    def state(self) -> Path:
        return self.root / f"state-{self.name}" / "stack"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KAFKA__", "STACK__", "DATABASE__"))}
        env.update({
            "STATE_DIR": str(self.root / f"state-{self.name}"),
            "KAFKA__BROKER": f"kafka://127.0.0.1:{self.kafka_port}",
            "STACK__POSTGRES_PORT": str(self.postgres_port),
            "STACK__MLFLOW_PORT": str(self.mlflow_port),
            "STACK__SMTP_PORT": str(self.smtp_port),
        })
        return env

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli.main", "stack", *args],
                              env=self.env(), cwd=self.root, capture_output=True, text=True,
                              timeout=280)

    def twin(self, name: str) -> Stack:
        """Another state dir on the same ports: a second clone on this machine."""
        return Stack(self.root, self.kafka_port, self.postgres_port, self.mlflow_port,
                     self.smtp_port, name)

    def pid(self, service: str) -> int:
        return int(json.loads((self.state / service / "process.json").read_text())["pid"])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # pytest's tmp dirs are private (0700); the state dir must not need to be anything else.
    stack = Stack(tmp_path)
    yield stack
    done = stack.run("down", "--purge")
    assert done.returncode == 0, done.stderr


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def last_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stderr.strip().splitlines()[-1]


def line(out: str, prefix: str) -> str:
    """The output line that starts with ``prefix`` (progress lines may come before it)."""
    found = [text for text in out.splitlines() if text.startswith(prefix)]
    assert found, f"no line starting with {prefix!r} in:\n{out}"
    return found[0]


def me() -> str:
    return f"pid {os.getpid()} {processes.command_name(os.getpid())}"


# -- Kafka --------------------------------------------------------------------------------------


async def produce_and_consume(bootstrap: str, topic: str) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        # a broker that has just started may answer the metadata request before it has
        # applied the new topic's record from the KRaft log: wait for it, within a deadline
        deadline = time.monotonic() + 30
        while topic not in await admin.list_topics():
            assert time.monotonic() < deadline, f"{topic} never listed"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"drift?", key=b"iris")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"g-{topic}",
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), 60)
        return [message.value or b""]
    finally:
        await consumer.stop()


def test_kafka_up_serves_is_idempotent_refuses_a_second_clone_and_stops(stack: Stack) -> None:
    out = ok(stack.run("up", "--only", "kafka"))
    assert line(out, "kafka     started (pid ")
    pid = stack.pid("kafka")
    bootstrap = f"127.0.0.1:{stack.kafka_port}"

    assert asyncio.run(produce_and_consume(bootstrap, f"it-{uuid.uuid4().hex[:8]}")) == [b"drift?"]
    assert (stack.state / "kafka" / "server.log").stat().st_size > 0
    assert (stack.state / "kafka" / "data" / "meta.properties").exists()

    again = ok(stack.run("up", "--only", "kafka"))
    assert line(again, f"kafka     already running (pid {pid}) at {bootstrap}")
    assert processes.port_owners(stack.kafka_port) == [(pid, "java")]
    assert ok(stack.run("status", "--only", "kafka")).splitlines()[1].split()[:4] == \
        ["kafka", "running", str(pid), bootstrap]

    # Another clone (another state dir) on the same port: one line naming our broker.
    assert last_error(stack.twin("b").run("up", "--only", "kafka")) == (
        f"driftline: error: kafka: port {stack.kafka_port} is taken by another process "
        f"(pid {pid} java)")

    assert ok(stack.run("down", "--only", "kafka")).strip() == f"kafka     stopped (pid {pid})"
    assert processes.start_time(pid) is None
    assert processes.port_is_free("127.0.0.1", stack.kafka_port)
    assert ok(stack.run("status", "--only", "kafka")).splitlines()[1].split()[:3] == \
        ["kafka", "stopped", "-"]

    # Storage is formatted once: a restart keeps the topic it had.
    ok(stack.run("up", "--only", "kafka"))
    assert asyncio.run(list_topics(bootstrap)) != []


async def list_topics(bootstrap: str) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return [t for t in await admin.list_topics() if t.startswith("it-")]
    finally:
        await admin.close()


def test_kafka_port_taken_by_a_stranger_is_a_one_line_error(stack: Stack) -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", stack.kafka_port))
        stranger.listen()
        result = stack.run("up", "--only", "kafka")
    assert last_error(result) == (f"driftline: error: kafka: port {stack.kafka_port} is taken "
                                  f"by another process ({me()})")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (stack.state / "kafka" / "process.json").exists()


# -- PostgreSQL ---------------------------------------------------------------------------------


def test_postgres_up_creates_role_and_database_is_idempotent_and_stops(stack: Stack) -> None:
    import psycopg

    out = ok(stack.run("up", "--only", "postgres"))
    assert line(out, "postgres  started (pid ")
    pid = stack.pid("postgres")
    exports = ok(stack.run("env", "--only", "postgres")).strip()
    url = f"postgresql+psycopg://driftline:driftline@127.0.0.1:{stack.postgres_port}/driftline"
    assert exports == f"export DATABASE__URL={url}"

    with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=10) as conn:
        row = conn.execute("SELECT current_database(), current_user, "
                           "inet_server_addr()::text").fetchone()
        assert row == ("driftline", "driftline", "127.0.0.1/32")
        conn.execute("CREATE TABLE it_probe (id int)")  # the role owns its database
        # and may create others: the test suite makes a database of its own per run
        assert conn.execute("SELECT rolcreatedb FROM pg_roles "
                            "WHERE rolname = current_user").fetchone() == (True,)

    again = ok(stack.run("up", "--only", "postgres"))
    assert line(again, f"postgres  already running (pid {pid},")
    assert processes.port_owners(stack.postgres_port) == [(pid, "postgres")]

    # Another clone on the same port finds the cluster running and leaves it alone.
    refused = last_error(stack.twin("b").run("up", "--only", "postgres"))
    assert refused.startswith("driftline: error: postgres: cluster ")
    assert f"/driftline-{stack.postgres_port} is already running (pid {pid}) but was not " \
           "started by this stack" in refused

    assert line(ok(stack.run("down", "--only", "postgres")),
                f"postgres  stopped (pid {pid}, cluster ")
    assert processes.start_time(pid) is None
    assert processes.port_is_free("127.0.0.1", stack.postgres_port)

    purged = ok(stack.run("down", "--only", "postgres", "--purge"))
    assert "dropped cluster" in purged
    clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    assert f"driftline-{stack.postgres_port}" not in clusters
    # nothing of the cluster is left under /etc, our conf.d override included
    assert not list(Path("/etc/postgresql").glob(f"*/driftline-{stack.postgres_port}"))


def test_postgres_port_taken_by_a_stranger_is_a_one_line_error(stack: Stack) -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", stack.postgres_port))
        stranger.listen()
        result = stack.run("up", "--only", "postgres")
    assert last_error(result) == (f"driftline: error: postgres: port {stack.postgres_port} is "
                                  f"taken by another process ({me()})")


# -- SMTP sink ----------------------------------------------------------------------------------


def test_smtp_sink_keeps_what_is_sent_and_stops(stack: Stack) -> None:
    out = ok(stack.run("up", "--only", "smtp"))
    assert line(out, "smtp      started (pid ")
    pid = stack.pid("smtp")

    msg = EmailMessage()
    msg["Subject"] = "driftline: drift on iris v3"
    msg["From"] = "driftline@localhost"
    msg["To"] = "oncall@example.com"
    msg.set_content("PSI 0.31 on petal_length")
    with smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=10) as client:
        client.send_message(msg)

    lines = (stack.state / "mailbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    mail = json.loads(lines[0])
    assert mail["rcpt_tos"] == ["oncall@example.com"]
    assert mail["subject"] == "driftline: drift on iris v3"
    assert mail["text"].strip() == "PSI 0.31 on petal_length"
    assert "   Subject: driftline: drift on iris v3" in ok(stack.run("mailbox")).splitlines()

    assert line(ok(stack.run("up", "--only", "smtp")), f"smtp      already running (pid {pid})")
    assert ok(stack.run("down", "--only", "smtp")).strip() == f"smtp      stopped (pid {pid})"
    assert processes.port_is_free("127.0.0.1", stack.smtp_port)
    assert (stack.state / "mailbox.jsonl").exists()  # down keeps the mail; --purge does not
    ok(stack.run("down", "--only", "smtp", "--purge"))
    assert not (stack.state / "mailbox.jsonl").exists()


# -- MLflow -------------------------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None,
                    reason="mlflow is not installed in this environment (it comes with the dev "
                           "extras once pyproject lists it)")
def test_mlflow_server_answers_and_stops(stack: Stack) -> None:
    from mlflow.tracking import MlflowClient

    out = ok(stack.run("up", "--only", "mlflow"))
    assert line(out, "mlflow    started (pid ")
    pid = stack.pid("mlflow")
    uri = f"http://127.0.0.1:{stack.mlflow_port}"
    assert ok(stack.run("env", "--only", "mlflow")).strip() == f"export MLFLOW__TRACKING_URI={uri}"
    with urllib.request.urlopen(f"{uri}/health", timeout=10) as reply:
        assert reply.read().strip() == b"OK"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment(f"it-{uuid.uuid4().hex[:8]}")
    assert client.get_experiment(experiment).lifecycle_stage == "active"
    assert (stack.state / "mlflow" / "mlflow.db").exists()

    assert line(ok(stack.run("up", "--only", "mlflow")), f"mlflow    already running (pid {pid})")
    assert ok(stack.run("down", "--only", "mlflow")).strip() == f"mlflow    stopped (pid {pid})"
    assert processes.port_is_free("127.0.0.1", stack.mlflow_port)
