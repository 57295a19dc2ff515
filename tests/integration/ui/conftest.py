"""The model pages on both stores: an app on the embedded SQLite default and one on the real
PostgreSQL, keys of every role, a model's history to show."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.integration.ui.history import seed_history


@dataclass(frozen=True)
class Store:
    kind: str
    url: str
    engine: Engine


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    from storage.db import make_engine, upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ui.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        yield Store("sqlite", url, engine)
        engine.dispose()
    else:
        url = request.getfixturevalue("database_url")
        yield Store("postgresql", url, request.getfixturevalue("engine"))


@pytest.fixture
def ui_client(store: Store, broker: str, unique: str) -> Iterator[TestClient]:
    from api.main import create_app
    from settings import Settings

    settings = Settings(app_id=unique, database={"url": store.url},
                        kafka={"broker": broker, "topics": {"prefix": f"{unique}-"}},
                        api={"publish_timeout_seconds": 5})
    with TestClient(create_app(settings), raise_server_exceptions=False,
                    base_url="http://testserver") as client:
        yield client


@dataclass(frozen=True)
class UiKeys:
    viewer: str
    operator: str
    names: dict[str, str]


@pytest.fixture
def ui_keys(store: Store, unique: str) -> UiKeys:
    from storage.keys import create_key

    tokens, names = {}, {}
    for role in ("viewer", "operator"):
        names[role] = f"{unique}-{role}"
        _, tokens[role] = create_key(store.engine, names[role], role)
    return UiKeys(tokens["viewer"], tokens["operator"], names)


@pytest.fixture
def model(store: Store, unique: str) -> str:
    name = f"{unique}-churn"
    seed_history(store.engine, name, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    return name
