"""The API against its own OpenAPI schema: generated requests with valid keys, no 5xx, and
every documented response matches its schema.

Operations are listed from the schema itself, so a new route is fuzzed without touching this
file. (schemathesis' lazy pytest fixture loader does not run on pytest 9, so the operations
are parametrised here and each one drives hypothesis directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

pytestmark = pytest.mark.integration


def _labels() -> list[str]:
    from api.main import create_app
    from settings import Settings

    app = create_app(Settings())  # only to read the schema; nothing is connected
    return sorted(f"{method.upper()} {path}" for path, item in app.openapi()["paths"].items()
                  for method in item)


@pytest.mark.parametrize("label", _labels())
def test_operation_conforms_to_the_schema(app, keys, label):
    operation = schemathesis.openapi.from_asgi("/openapi.json", app).find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        # admin reaches every route; the role checks themselves are in test_security
        case.call_and_validate(headers=keys.admin, checks=[
            not_a_server_error, response_schema_conformance, content_type_conformance])

    run()
