"""The portal's routes plus the framework floor the OFREP benchmark compares
with: a bare Django view answering a constant JSON, served by the same
process, through the same middleware."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from portal import urls as portal_urls


@csrf_exempt
def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b'{"key":"ocr","value":true}', content_type="application/json")


urlpatterns = [path("bench/floor", floor, name="bench_floor"), *portal_urls.urlpatterns]
