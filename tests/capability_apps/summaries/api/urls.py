from django.urls import path
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response


@api_view(["GET"])
def summary_count(request: Request) -> Response:
    return Response({"summaries": 0})


urlpatterns = [path("count/", summary_count, name="count")]
