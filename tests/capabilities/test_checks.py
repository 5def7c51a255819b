"""The system check that keeps the capability gate on every capability API view."""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from capabilities import checks


class UngatedView(APIView):
    permission_classes = [IsAuthenticated]  # forgot CapabilityEnabledForRoute

    def get(self, request):
        return Response({})


def plain_view(request):
    return None


def test_installed_capability_apis_pass():
    assert checks.capability_api_views_are_gated(None) == []


def test_a_view_that_drops_the_gate_is_an_error(monkeypatch):
    monkeypatch.setattr(
        "capabilities.urls.capability_api_patterns",
        lambda: [path("c/ocr/ungated/", UngatedView.as_view()), path("c/ocr/plain/", plain_view)],
    )
    errors = checks.capability_api_views_are_gated(None)
    assert sorted(error.id for error in errors) == ["capabilities.E001", "capabilities.E002"]
    assert "UngatedView" in next(error.msg for error in errors if error.id == "capabilities.E002")


def test_installed_job_kinds_import():
    assert checks.job_kinds_are_importable(None) == []


def test_a_job_kind_that_does_not_import_or_a_wrong_input_is_an_error(monkeypatch):
    from capabilities.registry import JobKind, registry

    ocr = registry().get("ocr")
    monkeypatch.setattr(
        type(ocr),
        "job_kinds",
        {
            "typo": JobKind("tests.capability_apps.ocr.jobs.recognise"),
            "odd": JobKind("tests.capability_apps.ocr.jobs.noop", input="django.forms.Form"),
        },
    )
    errors = checks.job_kinds_are_importable(None)
    assert sorted(error.id for error in errors) == ["capabilities.E003", "capabilities.E004"]
