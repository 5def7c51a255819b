"""Every error under /api/ is JSON `{"detail", "code"}` (issue 14): an unknown
path, a method the route doesn't take, a media type it doesn't read, a body
over the limit, a throttled or failed request; parameters the schema says are
whole numbers, moments or choices answer 400 when they aren't; the schema
documents the shared error responses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.exceptions import Throttled

from capabilities.actions import set_capability_enabled
from capabilities.models import Job
from portal.actions.api_keys import create_api_key
from portal.api.errors import exception_handler

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(alice, acme) -> Client:
    for key in ("documents", "notifications"):
        set_capability_enabled(alice, acme, key, enabled=True)
    _, secret = create_api_key(alice, acme, name="errors", scope="manage")
    return Client(headers={"Authorization": f"Api-Key {secret}"})


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    return body


@pytest.mark.parametrize("path", ["/api/v1/jobs/null%2Cnull", "/api/v1/nothing-here/", "/api/elsewhere"])
def test_a_path_that_matches_no_route_is_a_json_404(api, path):
    assert error_of(api.get(path), 404)["code"] == "not_found"


def test_outside_the_api_a_missing_page_is_still_the_html_page(client):
    response = client.get("/nothing-here/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_method_the_route_does_not_take_is_a_json_405(api):
    response = api.delete("/api/v1/jobs/")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_a_body_in_a_media_type_the_route_does_not_read_is_a_json_415(api):
    response = api.post("/api/v1/jobs/", "capability=ocr", content_type="text/plain")
    assert error_of(response, 415)["code"] == "unsupported_media_type"


def test_a_body_over_the_limit_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = api.post(
        "/api/v1/c/notifications/rules/",
        {"capability": "ocr", "event": "both", "channel": "email", "target": "x" * 500 + "@acme.test"},
    )
    assert error_of(response, 413)["code"] == "request_too_large"


def test_a_throttled_request_is_json_with_its_code():
    response = exception_handler(Throttled(wait=3), {})
    assert response is not None and response.status_code == 429
    assert response.data["code"] == "throttled" and "3 seconds" in response.data["detail"]


def test_a_refusal_keeps_the_code_it_was_raised_with(api):
    body = error_of(api.post("/api/v1/c/documents/documents/", {}), 400)
    assert body["code"] == "no_files"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("offset=null", "offset"),
        ("offset=1.5", "offset"),
        ("offset=-1", "offset"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=%D9%A3", "limit"),  # an Arabic-Indic three: a digit to Python, not to the schema
    ],
)
def test_a_limit_or_offset_that_is_not_a_whole_number_in_range_is_a_400(api, query, field):
    for path in ("/api/v1/jobs/", "/api/v1/organizations/", "/api/v1/c/documents/documents/"):
        body = error_of(api.get(f"{path}?{query}"), 400)
        assert body["code"] == "invalid" and field in body["errors"]


def test_pages_of_a_list_still_work(api, acme):
    for _ in range(3):
        Job.objects.create(organization=acme, capability="ocr", kind="noop")
    response = api.get("/api/v1/jobs/?limit=2&offset=1")
    assert response.status_code == 200 and len(response.json()["results"]) == 2


@pytest.mark.parametrize(
    "query",
    ["until=", "since=", "status=", "since=2026-11-01T10", "since=20261101", "since=2026-11-01 10:00:00"],
)
def test_a_filter_given_empty_or_as_no_moment_is_a_400(api, query):
    assert error_of(api.get(f"/api/v1/jobs/?{query}"), 400)["code"] == "invalid"


def test_moments_are_days_or_rfc_3339_times_and_any_offset_is_read(api, acme):
    job = Job.objects.create(organization=acme, capability="ocr", kind="noop")
    Job.objects.filter(pk=job.pk).update(queued_at=datetime(2026, 11, 2, 12, tzinfo=UTC))
    for query in ("since=2026-11-01", "since=2026-11-02T11:59:00Z", "since=2026-11-01T15:00:00-20:22"):
        response = api.get(f"/api/v1/jobs/?{query}")
        assert response.status_code == 200, (query, response.content)
        assert [found["id"] for found in response.json()["results"]] == [job.pk], query
    assert api.get("/api/v1/jobs/?since=2026-11-02T12:00:01Z").json()["results"] == []


def test_empty_choices_and_moments_are_refused_on_every_filtered_list(api):
    assert error_of(api.get("/api/v1/c/notifications/deliveries/?status="), 400)["errors"]["status"]
    assert error_of(api.get("/api/v1/usage/events/?until="), 400)["errors"]["until"]
    assert error_of(api.get("/api/v1/usage/?start="), 400)["errors"]["start"]
    assert error_of(api.get("/api/v1/usage/?start=2026-1-5"), 400)["errors"]["start"]


def test_one_side_of_a_usage_range_means_its_month(api):
    february = api.get("/api/v1/usage/?start=2026-02-10").json()
    assert (february["start"], february["end"]) == ("2026-02-10", "2026-02-28")
    assert api.get("/api/v1/usage/?end=2024-02-10").json()["start"] == "2024-02-01"


def test_search_without_q_is_a_400_and_with_no_words_an_empty_answer(api):
    assert error_of(api.get("/api/v1/c/documents/documents/search/"), 400)["errors"]["q"]
    response = api.get("/api/v1/c/documents/documents/search/?q=")
    assert response.status_code == 200 and response.json()["results"] == []


def test_the_schema_documents_the_shared_errors_on_every_operation():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail", "code"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"401", "403"} <= responses.keys(), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= responses.keys(), (method, path)
            for code, response in responses.items():
                if code.startswith("4"):
                    assert "$ref" in response or response["content"]["application/json"]["schema"], (
                        code,
                        path,
                    )
    jobs = schema["paths"]["/api/v1/capabilities/"]["get"]["responses"]["200"]
    assert jobs["content"]["application/json"]["schema"]["type"] == "array"
