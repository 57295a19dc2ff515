"""Fixtures for tests against the real services started by ``driftline stack up``.

Every test gets its own topic prefix and app id, so tests can run in any order; a worker is
a real ``driftline worker`` process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DRIFTLINE = str(Path(sys.executable).parent / "driftline")


def _require(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.fail(f"{var} is not set: run `eval \"$(driftline stack env)\"` after "
                    "`driftline stack up` (scripts/test does both)", pytrace=False)
    return value


@pytest.fixture(scope="session")
def broker() -> str:
    return _require("KAFKA__BROKER")


#: Test databases a run leaves behind when it is killed are dropped by a later run after this.
STALE_AFTER = 6 * 3600


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A database of this run's own on the stack's PostgreSQL (``DATABASE__URL``), migrated,
    and dropped at the end. What the demo, an earlier run or another branch left in the stack's
    own database (rows, a migration this checkout does not know) cannot change what a run sees.
    Child processes (workers, the CLI) are pointed at it through the environment."""
    stack_url = _require("DATABASE__URL")
    if not stack_url.startswith("postgresql"):
        pytest.fail("DATABASE__URL should name the stack's PostgreSQL; it is "
                    + stack_url.split(":")[0], pytrace=False)
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    from storage.db import upgrade

    stack = make_url(stack_url)
    name = f"driftline_test_{int(time.time())}_{uuid.uuid4().hex[:6]}"
    # no pool: fault tests restart PostgreSQL, and a pooled connection would be dead by teardown
    admin = create_engine(stack.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          poolclass=NullPool)
    try:
        with admin.connect() as conn:
            for (old,) in conn.execute(text(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'driftline_test_%'")):
                born = old.split("_")[2]
                if born.isdigit() and time.time() - int(born) > STALE_AFTER:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = stack.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        os.environ["DATABASE__URL"] = url
        yield url
    finally:
        os.environ["DATABASE__URL"] = stack_url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(postgresql_url: str) -> str:
    """The store integration tests use: PostgreSQL, unless a directory's conftest runs its
    tests on SQLite as well (the API's does)."""
    return postgresql_url


@pytest.fixture(scope="session")
def engine(database_url: str):
    from storage.db import make_engine

    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def unique() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def base_env(broker: str, database_url: str, unique: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFT__", "LIMITS__"))}
    env.update({
        "APP_ID": unique,
        "KAFKA__BROKER": broker,
        "KAFKA__TOPICS__PREFIX": f"{unique}-",
        "KAFKA__PARTITIONS": "4",
        "DATABASE__URL": database_url,
        "STATE_DIR": str(tmp_path / "state"),
        "WEB_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    })
    return env


class Worker:
    """A worker process (``driftline worker``, or another faust ``command``) logging to ``log``."""

    def __init__(self, env: dict[str, str], log: Path,
                 command: tuple[str, ...] = (DRIFTLINE, "worker", "-l", "info")) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603
            list(command), env=env, cwd=REPO,
            stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.output()[-4000:]}")
            if "[^Worker]: Ready" in self.output():
                return
            time.sleep(0.2)
        raise AssertionError(f"worker not ready in {timeout}s:\n{self.output()[-4000:]}")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.handle.close()


@pytest.fixture
def worker_factory(base_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(wait: bool = True, **overrides: str) -> Worker:
        # each worker its own state dir: on-disk table stores are locked per process
        env = {**base_env, "STATE_DIR": str(tmp_path / f"state-{len(workers)}"), **overrides}
        worker = Worker(env, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def run_cli(env: dict[str, str], *args: str, check: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603
        [DRIFTLINE, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"driftline {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result


async def _consume(broker: str, topic: str, done: Callable[[list[Any]], bool],
                   timeout: float) -> list[Any]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=broker.removeprefix("kafka://"),
        auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    messages: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(messages):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                messages.extend(records)
        return messages
    finally:
        await consumer.stop()


def consume(broker: str, topic: str, done: Callable[[list[Any]], bool],
            timeout: float = 120.0) -> list[Any]:
    """Read ``topic`` from the start until ``done(messages)`` or the timeout."""
    return asyncio.run(_consume(broker, topic, done, timeout))


async def _produce(broker: str, topic: str, items: list[tuple[bytes | None, bytes | None]],
                   partitions: int) -> None:
    from aiokafka import AIOKafkaProducer

    from settings import KafkaSettings
    from streams.admin import ensure_topics

    await ensure_topics(KafkaSettings(broker=broker, partitions=partitions), [topic])
    producer = AIOKafkaProducer(bootstrap_servers=broker.removeprefix("kafka://"), acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, key=k, value=v) for k, v in items]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce(broker: str, topic: str, items: list[tuple[bytes | None, bytes | None]],
            partitions: int = 4) -> None:
    asyncio.run(_produce(broker, topic, items, partitions))


async def _read_to_end(broker: str, topic: str) -> list[Any]:
    """Every record of ``topic`` up to the end offsets at the time of the call."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=broker.removeprefix("kafka://"),
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        end = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for record in records:
                    if record.offset < end[tp]:
                        out.append(record)
                    if record.offset + 1 >= end[tp]:
                        remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


def read_to_end(broker: str, topic: str) -> list[Any]:
    return asyncio.run(_read_to_end(broker, topic))


def changelog_state(broker: str, app_id: str, table: str = "feature-state") -> dict[bytes, bytes]:
    """The table as its changelog says it is now (latest value per key, deletions dropped)."""
    latest: dict[bytes, bytes | None] = {}
    for record in read_to_end(broker, f"{app_id}-{table}-changelog"):
        latest[record.key] = record.value
    return {k: v for k, v in latest.items() if v is not None}


def wait_for_changelog(broker: str, app_id: str, ready: Callable[[dict[bytes, bytes]], bool],
                       timeout: float = 60.0, table: str = "feature-state",
                       settle: float = 2.0) -> dict[bytes, bytes]:
    """The changelog state once ``ready(state)`` holds and nothing changed for ``settle``
    seconds, or the last one read at the timeout (the caller's assertions then say what is
    wrong): the worker's writes reach the changelog asynchronously, so a fixed sleep is a
    race, and stopping at the first ready read would miss writes still on their way (a
    double count that lands a moment later)."""
    deadline = time.monotonic() + timeout
    previous: dict[bytes, bytes] | None = None
    since = time.monotonic()
    while True:
        state = changelog_state(broker, app_id, table)
        if state != previous:
            previous, since = state, time.monotonic()
        elif ready(state) and time.monotonic() - since >= settle:
            return state
        if time.monotonic() >= deadline:
            return state
        time.sleep(0.5)
