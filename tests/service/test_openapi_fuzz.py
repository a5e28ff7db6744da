"""Schemathesis over the whole OpenAPI document: no generated request gets a 5xx.

Over real HTTP to uvicorn on 127.0.0.1 (schemathesis' ASGI transport would run the app's
lifespan, and so reload the models, on every call). Writes are sent with the token (to a private
copy of the data folder) so that their handlers are reached too, not only the 401 in front of
them. Valid (positive) and invalid (negative) requests of every operation; operations without
parameters have no invalid requests.
"""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.service.conftest import TOKEN, live_server, make_settings

MAX_EXAMPLES = 40


@pytest.fixture(scope="module")
def api_schema(trained_dir, tmp_path_factory):
    from lithoscope.service import create_app

    copy = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(trained_dir, copy)
    app = create_app(make_settings(copy, max_upload_bytes=2_000_000))
    with live_server(app) as url:
        assert app.state.lithoscope.ready
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


#: every operation of the document (checked against it below, so a new route is not missed)
WITHOUT_INPUT = ["GET /healthz", "GET /readyz", "GET /v1/models"]
OPERATIONS = [
    *WITHOUT_INPUT,
    "POST /v1/identify",
    "GET /v1/minerals",
    "GET /v1/minerals/{name}",
    "GET /v1/minerals/{name}/spectra",
    "POST /v1/minerals/{name}/spectra",
    "POST /v1/learn",
]


def test_every_operation_is_fuzzed(api_schema):
    labels = {r.ok().label for r in api_schema.get_all_operations()}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize(
    ("mode", "label"),
    [(GenerationMode.POSITIVE, label) for label in OPERATIONS]
    + [(GenerationMode.NEGATIVE, label) for label in OPERATIONS if label not in WITHOUT_INPUT],
)
def test_no_server_error(api_schema, mode, label):
    # schemathesis' pytest plugin (from_fixture) does not run on this pytest; the same
    # generation through its strategies
    operation = api_schema.find_operation_by_label(label)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case):
        case.call_and_validate(
            headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error]
        )

    check()
