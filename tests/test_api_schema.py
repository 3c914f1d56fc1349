"""Property-based: requests generated from the app's own OpenAPI schema (schemathesis, in
process over ASGI) never cause a server error and every response matches the schema.

The schema is read from the app when this module is imported (schemathesis' lazy
``from_fixture`` loader does not work with pytest 9), and the real runtime over the sample
index is put behind the routes with a dependency override once the session fixture exists.
The rate limit is raised so generated traffic is not refused, and starting an admin sync is
left out (it would re-read the site for every example; tests/test_api.py covers it).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_support import ADMIN_KEY
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection

from api import RuntimeHolder, Services, create_app, get_services
from assistant.config import Settings
from assistant.records_db import RecordsDB

_DATA = Path(tempfile.mkdtemp(prefix="kmr-schema-"))
SETTINGS = Settings(data_dir=_DATA, admin_api_key=ADMIN_KEY, rate_limit="1000000/minute",
                    _env_file=None)
APP = create_app(SETTINGS)

schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(
    path="/api/admin/sync", method="POST"
)


@pytest.fixture(scope="module", autouse=True)
def real_runtime(sample_index: Any) -> Iterator[None]:
    holder = RuntimeHolder(SETTINGS, sample_index)
    holder.load_model()
    services = Services(settings=SETTINGS, holder=holder, db=RecordsDB(SETTINGS))
    APP.dependency_overrides[get_services] = lambda: services
    yield
    APP.dependency_overrides.clear()
    services.db.close()
    shutil.rmtree(_DATA, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_no_server_errors_and_responses_match_the_schema(case: Any) -> None:
    # Not checked: that schema-violating requests are refused. Unknown query parameters are
    # ignored by design, and the admin key is sent with every request, even where a
    # generated "negative" case meant to leave it out.
    case.call_and_validate(headers={"X-Admin-Key": ADMIN_KEY},
                           excluded_checks=[negative_data_rejection])
