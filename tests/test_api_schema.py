"""Property-based: requests generated from the app's own OpenAPI schema (schemathesis, in
process over ASGI) never cause a server error and every response matches the schema.

The app runs over the real index of the sample site; the rate limit is raised so generated
traffic is not refused, and starting an admin sync is left out (it would re-read the site
for every example; tests/test_api.py covers it).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from api_support import ADMIN_KEY, api_settings
from hypothesis import HealthCheck, settings

from api import create_app


@pytest.fixture(scope="module")
def api_schema(sample_index: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    service_settings = api_settings(sample_index, tmp_path_factory.mktemp("schema"),
                                    admin_api_key=ADMIN_KEY)
    app = create_app(service_settings, runtime=sample_index)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema").exclude(
    path="/api/admin/sync", method="POST"
)


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_no_server_errors_and_responses_match_the_schema(case: Any) -> None:
    case.call_and_validate(headers={"X-Admin-Key": ADMIN_KEY})
