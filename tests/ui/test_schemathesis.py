"""The API against its own OpenAPI schema, with schemathesis (issue "Reliability"): generated
requests (bounded, derandomised) never get a 5xx, and every response — errors included — matches the
schema: status codes documented, bodies of the declared shape, content types as declared."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qbank.ui.api import create_app  # noqa: E402

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


def _app():
    """The API over the 22-question study bank (the suite's ``study_index``), built at collection:
    schemathesis reads the schema when the module is imported."""
    import importlib.util
    import tempfile
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_qbank_conftest", Path(__file__).parents[1] / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    _, searcher = conftest.build_study_index(Path(tempfile.mkdtemp(prefix="qbank-schemathesis-")))
    return create_app(searcher=searcher)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=30, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_keeps_its_schema(case):
    case.call_and_validate(checks=CHECKS)
