"""Property-based run of schemathesis against the live API's own OpenAPI document.

With a valid token, every operation is called with generated parameters and bodies: no
answer may be a 5xx, and every answer must match the schema the API publishes. (The
operations are walked by hand: schemathesis' lazy ``from_fixture`` does not run on pytest 9.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.core.result import Ok

from tests.integration.http.support import Issuer, LiveApi, subject

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 25


def test_no_server_error_and_answers_match_the_schema(api: LiveApi, issuer: Issuer) -> None:
    """Generated calls with an admin's token never get a 5xx, and each answer fits the schema."""
    schema = schemathesis.openapi.from_url(f"{api.url}/schema/openapi.json")
    token = issuer.token(subject(), admin=True)
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results)  # the API's own schema has no invalid operation
    assert len(operations) >= 18

    @given(data=st.data())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION * len(operations),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def call(data: st.DataObject) -> None:
        operation = data.draw(st.sampled_from(operations))
        case = data.draw(operation.as_strategy())
        case.call_and_validate(
            base_url=api.url,
            headers={"Authorization": f"Bearer {token}"},
            checks=[
                checks.not_a_server_error,
                checks.response_schema_conformance,
                checks.content_type_conformance,
            ],
        )

    call()
