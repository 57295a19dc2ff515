"""The fault suite's harness: an isolated app on the caller's own stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.faults.scenarios import Harness, fault_env


@pytest.fixture
def harness(base_env: dict[str, str], unique: str, worker_factory, broker: str, engine,
            tmp_path: Path) -> Harness:
    uri = os.environ.get("MLFLOW__TRACKING_URI")
    if not uri:
        pytest.fail("MLFLOW__TRACKING_URI is not set (driftline stack env)", pytrace=False)
    env = fault_env(base_env, unique, uri)
    return Harness(env=env, broker=broker, engine=engine, tmp=tmp_path,
                   start_worker=lambda **extra: worker_factory(**{**env, **extra}))
