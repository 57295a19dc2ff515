"""The API against its own OpenAPI schema: generated requests with valid keys, no 5xx, and
every documented response matches its schema — operation by operation, then in sequences
that follow the schema's links (a created key revoked, a trigger's decision looked up).

Operations are listed from the schema itself, so a new route is fuzzed without touching this
file. (schemathesis' lazy pytest fixture loader does not run on pytest 9, so the operations
are parametrised here and each one drives hypothesis directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

pytestmark = pytest.mark.integration
#: linked sequences per store (each up to 8 calls)
SEQUENCES = 25


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


def test_linked_sequences_conform_to_the_schema(app, keys):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # valid requests only: sequences are about links between operations (the operations'
    # handling of invalid input is fuzzed above); a random choice between modes per step
    # also made Hypothesis see its own draws as inconsistent across examples
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    machine = schema.as_state_machine()

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case):
            # an id a link extracted empty makes /retrain/jobs/ — whose redirect to the list
            # would then be checked against the single job's schema
            return {"headers": keys.admin, "allow_redirects": False}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance,
                                                     content_type_conformance])

    # One sequence per run, many runs: the API's state (keys, audit rows) moves between
    # sequences, and within one run Hypothesis compares its draws across examples and calls
    # the state-dependent link choices flaky; separate runs each start a fresh record
    for _ in range(SEQUENCES):
        Sequences.run(settings=settings(max_examples=1, stateful_step_count=8, deadline=None,
                                        database=None, phases=[Phase.generate],
                                        suppress_health_check=list(HealthCheck)))
