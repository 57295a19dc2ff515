"""Engine creation, migrations and bounded retries for transient database faults."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from resilience.retry import Backoff, Retry
from storage.pii import PiiPolicy, attach

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, *, pool_size: int = 5, pii: PiiPolicy | None = None) -> Engine:
    """An engine with pre-ping (survives a restarted server) and SQLite made safe for threads;
    with ``pii``, every write through :mod:`storage.repository` pseudonymises those fields."""
    return attach(_engine(url, pool_size), pii)


def _engine(url: str, pool_size: int) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_recycle=1800
    )


@cache
def shared_engine(url: str, *, pool_size: int = 5, pii: PiiPolicy | None = None) -> Engine:
    """The process's one engine (and connection pool) for ``url``: every agent of a worker
    shares it, so the pool bounds the worker's connections."""
    return make_engine(url, pool_size=pool_size, pii=pii)


def is_transient(exc: BaseException) -> bool:
    """Connection-level failures are worth retrying; constraint or syntax errors are not."""
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def with_retries(
    fn: Callable[[], T],
    *,
    retries: int = 5,
    base_delay: float = 0.2,
    max_delay: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``fn``; on a transient fault retry up to ``retries`` times with jittered backoff."""

    def report(attempt: int, exc: BaseException, delay: float) -> None:
        log.warning("database fault (%s); retry %d/%d in %.2fs", exc, attempt, retries, delay)

    policy = Retry(Backoff(base=base_delay, cap=max_delay), attempts=retries + 1)
    return policy.call(fn, transient=is_transient, sleep=sleep, on_retry=report)


def upgrade(url: str, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision``; the only way the schema changes."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, revision)
