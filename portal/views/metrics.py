"""The Prometheus scrape endpoint (portal/metrics.py): off (404) while
METRICS_TOKEN is unset; 401 without a bearer token, 403 with a wrong one."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from portal.metrics import registry


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set METRICS_TOKEN to turn them on.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = HttpResponse("Send the metrics token: Authorization: Bearer <token>.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return HttpResponse(
            "That is not the metrics token.\n", status=403, content_type="text/plain; charset=utf-8"
        )
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
