"""The OpenAPI schema builds without a warning or an error (what
drf-spectacular's deploy check would say; it is off, see settings), and
validates against the OpenAPI specification."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_the_schema_builds_without_warnings_and_validates(tmp_path):
    schema = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(schema))
    assert "/api/v1/capabilities/{key}/channel:" in schema.read_text()
