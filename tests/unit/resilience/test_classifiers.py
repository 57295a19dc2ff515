"""What each client counts as "unavailable" (held and retried) rather than a bad request."""

from __future__ import annotations

import pytest
import requests
from aiokafka import errors
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE
from sqlalchemy.exc import IntegrityError, OperationalError

from integrations.registry import mlflow_transient
from storage.db import is_transient
from streams.admin import kafka_transient


@pytest.mark.parametrize(("exc", "held"), [
    (errors.KafkaConnectionError(), True),
    (errors.KafkaTimeoutError(), True),
    (errors.NodeNotReadyError(), True),
    (errors.MessageSizeTooLargeError(), False),
    (ValueError("bad value"), False),
])
def test_kafka_outages_are_held_and_oversized_records_are_not(exc: BaseException,
                                                              held: bool) -> None:
    assert kafka_transient(exc) is held


def test_a_kafka_outage_behind_another_exception_is_still_an_outage() -> None:
    try:
        try:
            raise errors.KafkaConnectionError()
        except errors.KafkaError as inner:
            raise RuntimeError("send failed") from inner
    except RuntimeError as outer:
        assert kafka_transient(outer)


@pytest.mark.parametrize(("exc", "held"), [
    (requests.ConnectionError("refused"), True),
    (MlflowException("API request failed with exception: Max retries exceeded"), True),
    (MlflowException("busy", error_code=TEMPORARILY_UNAVAILABLE), True),
    (MlflowException("no such model", error_code=RESOURCE_DOES_NOT_EXIST), False),
    (KeyError("x"), False),
])
def test_mlflow_outages_are_held_and_missing_models_are_not(exc: BaseException,
                                                            held: bool) -> None:
    assert mlflow_transient(exc) is held


def test_a_lost_database_connection_is_held_and_a_constraint_is_not() -> None:
    assert is_transient(OperationalError("SELECT 1", {}, Exception("server closed")))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate key")))
