"""The sales reports API: upload, mapping, build, the report JSON, downloads,
and the schema."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from capabilities.reports.models import Report, UploadSet
from capabilities.runner import run_job
from metering.models import UsageEvent
from portal.actions.api_keys import create_api_key
from tests.capabilities.reports.conftest import MAPPING, csv_bytes, month_rows, upload, xlsx_bytes


@pytest.fixture
def acme_key(reports_on, alice) -> str:
    _key, secret = create_api_key(alice, reports_on, name="reports robot", scope="manage")
    return secret


def _api(secret: str) -> Client:
    return Client(headers={"Authorization": f"Api-Key {secret}"})


def test_the_whole_flow_with_an_api_key(acme_key, reports_on):
    client = _api(acme_key)
    created = client.post(
        reverse("reports-api:upload-set-list"),
        {
            "name": "Q1",
            "files": [
                upload("jan.xlsx", xlsx_bytes(month_rows(1))),
                upload("feb.csv", csv_bytes(month_rows(2))),
                upload("mar.csv", csv_bytes(month_rows(3))),
            ],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert UploadSet.objects.get(pk=body["id"]).organization == reports_on
    assert body["suggested_mapping"] == MAPPING
    assert body["mapping_confirmed"] is False
    assert [file["row_count"] for file in body["files"]] == [3, 3, 3]

    mapping_url = reverse("reports-api:upload-set-mapping", args=[body["id"]])
    confirmed = client.put(mapping_url, {"mapping": MAPPING}, content_type="application/json")
    assert confirmed.status_code == 200 and confirmed.json()["mapping_confirmed"] is True

    started = client.post(reverse("reports-api:upload-set-build", args=[body["id"]]))
    assert started.status_code == 202
    report = started.json()
    assert (report["status"], report["figures"], report["downloads"]) == ("queued", None, {})

    run_job.apply(args=[report["job"]])
    report = client.get(reverse("reports-api:report-detail", args=[report["id"]])).json()
    assert report["status"] == "succeeded"
    figures = report["figures"]
    assert figures["totals"]["revenue"] == "541.50"
    assert figures["top_skus"] == ["A-100", "B-200"]
    assert [(flag["region"], flag["rule"]) for flag in figures["flags"]] == [("East", "peers")]
    assert report["downloads"] == {
        "pdf": reverse("reports-api:report-pdf", args=[report["id"]]),
        "xlsx": reverse("reports-api:report-xlsx", args=[report["id"]]),
    }
    assert client.get(report["downloads"]["pdf"]).content.startswith(b"%PDF-")
    assert client.get(report["downloads"]["xlsx"]).content.startswith(b"PK")


def test_unusable_files_are_listed_and_nothing_is_stored(acme_key):
    response = _api(acme_key).post(
        reverse("reports-api:upload-set-list"),
        {"files": [upload("empty.csv", b""), upload("corrupt.xlsx", b"this is no zip")]},
    )
    assert response.status_code == 400
    assert response.json()["problems"] == [
        "empty.csv: the file is empty.",
        "corrupt.xlsx: this is not an XLSX workbook (the file is corrupt or another format).",
    ]
    assert not UploadSet.objects.exists()


def test_a_mapping_to_a_missing_column_is_refused(uploaded, acme_key):
    upload_set = uploaded([upload("jan.csv", csv_bytes(month_rows(1)))], mapping=None)
    response = _api(acme_key).put(
        reverse("reports-api:upload-set-mapping", args=[upload_set.pk]),
        {"mapping": {**MAPPING, "revenue": "Net"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "Revenue: no file of this set has a column 'Net'." in response.json()["errors"]["mapping"][0]


def test_building_without_a_confirmed_mapping_is_refused(uploaded, acme_key):
    upload_set = uploaded([upload("jan.csv", csv_bytes(month_rows(1)))], mapping=None)
    response = _api(acme_key).post(reverse("reports-api:upload-set-build", args=[upload_set.pk]))
    assert response.status_code == 400
    assert "Confirm the column mapping" in response.content.decode()
    assert not Report.objects.exists()


def test_a_failed_build_reports_its_error(uploaded, built, acme_key):
    report = built(uploaded([upload("jan.csv", csv_bytes([["never", "North", "A", 1, "1"]]))]))
    body = _api(acme_key).get(reverse("reports-api:report-detail", args=[report.pk])).json()
    assert body["status"] == "failed"
    assert body["error"].startswith("No row could be used")
    assert body["figures"] is None and body["downloads"] == {}
    assert _api(acme_key).get(reverse("reports-api:report-pdf", args=[report.pk])).status_code == 404


def test_gina_gets_404_for_acmes_report(
    uploaded, built, gina, client_for, django_capture_on_commit_callbacks
):
    from capabilities.actions import set_capability_enabled

    with django_capture_on_commit_callbacks(execute=True):
        set_capability_enabled(gina, gina.memberships.get().organization, "reports", enabled=True)
    report = built(uploaded([upload("jan.csv", csv_bytes(month_rows(1)))]))
    response = client_for(gina).get(reverse("reports-api:report-detail", args=[report.pk]))
    assert response.status_code == 404
    assert "541" not in response.content.decode()


def test_the_api_answers_403_while_the_capability_is_off(acme, alice, client_for):
    response = client_for(alice).get(reverse("reports-api:upload-set-list"))
    assert response.status_code == 403
    assert response.json()["code"] == "capability_disabled"


def test_billing_users_read_but_do_not_upload(reports_on, carol, client_for):
    client = client_for(carol)
    assert client.get(reverse("reports-api:upload-set-list")).status_code == 200
    response = client.post(
        reverse("reports-api:upload-set-list"), {"files": [upload("jan.csv", csv_bytes(month_rows(1)))]}
    )
    assert response.status_code == 403
    assert not UploadSet.objects.exists()


def test_the_list_query_count_does_not_grow(uploaded, alice, client_for, django_assert_max_num_queries):
    for _ in range(10):
        uploaded([upload("jan.csv", csv_bytes(month_rows(1))), upload("feb.csv", csv_bytes(month_rows(2)))])
    client = client_for(alice)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("reports-api:upload-set-list"))
    assert response.json()["count"] == 10


def test_every_endpoint_is_in_the_schema():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    expected = {
        "/api/v1/c/reports/upload-sets/": {"get", "post"},
        "/api/v1/c/reports/upload-sets/{upload_set_id}/": {"get"},
        "/api/v1/c/reports/upload-sets/{upload_set_id}/mapping/": {"put"},
        "/api/v1/c/reports/upload-sets/{upload_set_id}/reports/": {"post"},
        "/api/v1/c/reports/reports/{report_id}/": {"get"},
        "/api/v1/c/reports/reports/{report_id}/xlsx/": {"get"},
        "/api/v1/c/reports/reports/{report_id}/pdf/": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) >= methods, path
    upload_body = paths["/api/v1/c/reports/upload-sets/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload_body


# --- Idempotency-Key ---------------------------------------------------------------


def _keyed(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def test_a_build_posted_twice_with_one_key_builds_and_bills_once(uploaded, acme_key, reports_on):
    upload_set = uploaded([upload("jan.csv", csv_bytes(month_rows(1)))])
    client = _keyed(acme_key)
    url = reverse("reports-api:upload-set-build", args=[upload_set.pk])
    first = client.post(url, HTTP_IDEMPOTENCY_KEY="build-1")
    assert first.status_code == 202, first.content
    run_job.apply(args=[first.json()["job"]])
    again = client.post(url, HTTP_IDEMPOTENCY_KEY="build-1")
    assert (again.status_code, again["Idempotent-Replayed"], again.content) == (202, "true", first.content)
    assert Report.objects.filter(upload_set=upload_set).count() == 1
    assert (
        UsageEvent.objects.filter(organization=reports_on, meter="reports")
        .values_list("quantity", flat=True)
        .get()
        == 1
    )
    other_set = uploaded([upload("feb.csv", csv_bytes(month_rows(2)))])
    reused = client.post(
        reverse("reports-api:upload-set-build", args=[other_set.pk]), HTTP_IDEMPOTENCY_KEY="build-1"
    )
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    assert not Report.objects.filter(upload_set=other_set).exists()


def test_an_upload_set_posted_twice_with_one_key_is_stored_once(acme_key, reports_on):
    client = _keyed(acme_key)
    content = csv_bytes(month_rows(1))
    answers = [
        client.post(
            reverse("reports-api:upload-set-list"),
            {"name": "Q1", "files": [upload("jan.csv", content)]},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="set-1",
        )
        for _ in range(2)
    ]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[1]["Idempotent-Replayed"] == "true" and answers[1].content == answers[0].content
    assert UploadSet.objects.filter(organization=reports_on).count() == 1


def test_a_set_that_cannot_be_stored_is_refused_whole_without_a_500(acme_key, reports_on, monkeypatch):
    from django.core.files.storage import default_storage

    real_save = default_storage.save

    def save(name, content, max_length=None):
        if name.endswith("feb.csv"):
            raise OSError("disk full")  # fault injection: the storage fails for one file
        return real_save(name, content, max_length=max_length)

    monkeypatch.setattr(default_storage, "save", save)
    response = _api(acme_key).post(
        reverse("reports-api:upload-set-list"),
        {"files": [upload("jan.csv", csv_bytes(month_rows(1))), upload("feb.csv", csv_bytes(month_rows(2)))]},
    )
    assert response.status_code == 400
    assert response.json()["problems"] == ["The files could not be stored; upload them again."]
    assert not UploadSet.objects.exists()
