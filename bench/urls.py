"""The portal's routes plus the baselines the HTTP benchmarks compare with,
served by the same process, through the same middleware: a bare Django view
answering a constant JSON (ofrep_eval) and a bare DRF view with no
authentication, permission, capability gate or metering (request_overhead).
They exist only in the benchmarks' server settings (bench/server_settings.py)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from portal import urls as portal_urls


@csrf_exempt
def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b'{"key":"ocr","value":true}', content_type="application/json")


@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def bare_api(request: Request) -> Response:
    """What the summaries capability's `count/` endpoint answers, without
    anything of the portal's around it."""
    return Response({"summaries": 0})


urlpatterns = [
    path("bench/floor", floor, name="bench_floor"),
    path("bench/bare-api/", bare_api, name="bench_bare_api"),
    *portal_urls.urlpatterns,
]
