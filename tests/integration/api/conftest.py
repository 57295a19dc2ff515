"""An API app on the real PostgreSQL, keys of every role, and rows to query.

Each test seeds rows under its own model name (``unique``), so tests share the database
without seeing each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert

HMAC_KEY = "test-hmac-key-0123456789"
STORES = ("postgresql", "sqlite")


@pytest.fixture(scope="session", params=STORES)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Every API test runs twice: on PostgreSQL and on the embedded SQLite default a user
    without ``DATABASE__URL`` gets, and must see the same answers on both."""
    from storage.db import upgrade

    if request.param == "postgresql":
        url = request.getfixturevalue("postgresql_url")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'driftline.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Any]:
    """This directory's engine, on the store of this run. It must be defined here: the
    parent's session-scoped ``engine`` would otherwise be built on the first store an API
    test asks for and keep it for the rest of the session, so the tests after this
    directory would write to SQLite while their workers use PostgreSQL."""
    from storage.db import make_engine

    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(database_url: str) -> str:
    """``postgresql`` or ``sqlite``: the store this run of the test uses."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def make_settings(database_url: str, broker: str) -> Callable[..., Any]:
    from settings import Settings

    def make(**api: Any) -> Settings:
        return Settings(
            # a prefix of their own: requests that publish must not reach anyone's worker
            database={"url": database_url}, kafka={"broker": broker, "topics": {"prefix": "api-test-"}},
            api={"rate_limit_per_minute": 60_000, "rate_limit_burst": 10_000, "max_page_size": 50,
                 "client_rate_limit_per_minute": 60_000, "client_rate_limit_burst": 10_000,
                 "default_page_size": 20, "max_request_bytes": 64 * 1024,
                 "max_upload_bytes": 2 * 1024 * 1024, "export_chunk_rows": 7, **api},
            security={"pii_fields": ["email", "user_id"], "hmac_key": HMAC_KEY},
        )

    return make


@pytest.fixture
def app(make_settings: Callable[..., Any]) -> FastAPI:
    from api.main import create_app

    return create_app(make_settings())


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@dataclass(frozen=True)
class Keys:
    viewer: dict[str, str]
    operator: dict[str, str]
    admin: dict[str, str]
    names: dict[str, str]


@pytest.fixture
def keys(engine, unique: str) -> Keys:
    from storage.keys import create_key

    headers, names = {}, {}
    for role in ("viewer", "operator", "admin"):
        name = f"{unique}-{role}"
        _, token = create_key(engine, name, role)
        # both header forms are accepted; use one of each
        headers[role] = ({"X-API-Key": token} if role == "viewer"
                         else {"Authorization": f"Bearer {token}"})
        names[role] = name
    return Keys(headers["viewer"], headers["operator"], headers["admin"], names)


def drift_row(model: str, when: datetime, **overrides: Any) -> dict[str, Any]:
    row = dict(
        event_id=uuid.uuid4(), timestamp=when, model_name=model, model_version="1",
        kind="data_drift", feature="income", test="ks", statistic=0.4, p_value=1e-6,
        p_value_adjusted=1e-5, effect=0.3, severity="high", drifted=True, window_start_seq=0,
        window_end_seq=1000, window_start_offset=0, window_end_offset=999,
        window_start_time=when - timedelta(minutes=5), window_end_time=when,
        reference_size=1000, current_size=1000, missing_share=0.0, partition=0)
    row.update(overrides)
    return row


@pytest.fixture
def seed(engine) -> Callable[[Any, list[dict[str, Any]]], None]:
    def insert_rows(model_class: Any, rows: list[dict[str, Any]]) -> None:
        with engine.begin() as conn:
            conn.execute(insert(model_class), rows)

    return insert_rows


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def make_client(database_url: str, broker: str, unique: str) -> Iterator[Callable[..., TestClient]]:
    """Clients of apps isolated like a worker of the test (``APP_ID`` and topic prefix
    ``unique``), with settings groups given as keyword arguments (``trainer={...}``)."""
    import os

    from api.main import create_app
    from settings import Settings

    clients: list[TestClient] = []

    def make(**groups: Any) -> TestClient:
        settings = Settings(
            app_id=unique, database={"url": database_url},
            kafka={"broker": broker, "topics": {"prefix": f"{unique}-"}, **groups.pop("kafka", {})},
            mlflow={"tracking_uri": os.environ.get("MLFLOW__TRACKING_URI", "http://127.0.0.1:15000"),
                    **groups.pop("mlflow", {})},
            api={"rate_limit_per_minute": 60_000, "rate_limit_burst": 10_000,
                 "client_rate_limit_per_minute": 60_000, "client_rate_limit_burst": 10_000,
                 "publish_timeout_seconds": 5, **groups.pop("api", {})},
            **groups)
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
