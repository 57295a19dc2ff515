"""Helpers for the governed-loop integration tests: the reference trainer as a process, the
SMTP sink's mailbox, seeding labelled predictions, reading topics as records."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine, insert

from cli.demo_support import free_port, read_mails
from storage.models import LabelledPrediction
from tests.integration.conftest import DRIFTLINE, REPO, consume, run_cli


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


class HttpProcess:
    """A ``driftline`` command serving HTTP on its own port (a free one unless ``port`` is
    given, e.g. to restart a service where its clients look for it), ready when ``health``
    answers 200."""

    name = "process"
    health = "/health"

    def __init__(self, env: dict[str, str], log: Path, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.handle = log.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603
            [DRIFTLINE, *args, "--port", str(self.port)], env=env, cwd=REPO,
            stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}{self.health}", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        self.handle.close()


class TrainerProcess(HttpProcess):
    name = "trainer"

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        super().__init__(env, log, "trainer", port=port)


def mailbox_path() -> Path:
    explicit = os.environ.get("DRIFTLINE_MAILBOX")
    if explicit:
        return Path(explicit)
    state = Path(os.environ.get("STATE_DIR", REPO / ".driftline"))
    return (state if state.is_absolute() else REPO / state) / "stack" / "mailbox.jsonl"


def mails_to(recipient: str) -> list[dict[str, Any]]:
    return read_mails(mailbox_path(), recipient)


def wait_for_mail(recipient: str, done: Callable[[list[dict[str, Any]]], bool],
                  timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    mails: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        mails = mails_to(recipient)
        if done(mails):
            return mails
        time.sleep(0.5)
    return mails


def seed_labelled(engine: Engine, rows: Iterable[dict[str, Any]]) -> int:
    batch = list(rows)
    with engine.begin() as conn:
        conn.execute(insert(LabelledPrediction.__table__), batch)
    return len(batch)


def bootstrap_versions(env: dict[str, str], model: str, directory: Path, rows: int,
                       relations: tuple[str, ...] = ("original", "flipped")) -> None:
    """Register v1 (the original relationship) and v2 (the flipped one) with
    ``driftline model bootstrap``; each bootstrap makes its version champion."""
    import csv

    from tests.synthetic import labelled_rows

    for seed, relation in zip((1, 2), relations, strict=False):
        path = directory / f"{model}-{relation}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["x1", "x2", "region", "label"])
            for row in labelled_rows(model, rows, relation=relation, seed=seed, end=now()):
                f = row["features"]
                writer.writerow([f["x1"], f["x2"], f["region"], row["label"]])
        run_cli(env, "model", "bootstrap", model, "--from", str(path))


def records(broker: str, topic: str, done: Callable[[list[dict[str, Any]]], bool],
            timeout: float = 120.0) -> list[dict[str, Any]]:
    """Read ``topic`` from the start as JSON objects until ``done`` or the timeout."""
    def finished(messages: list[Any]) -> bool:
        return done([orjson.loads(m.value) for m in messages])

    return [orjson.loads(m.value) for m in consume(broker, topic, finished, timeout=timeout)]


def now() -> datetime:
    return datetime.now(UTC)
