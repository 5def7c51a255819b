from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response


@extend_schema(
    summary="Count summaries",
    responses=inline_serializer("SummaryCount", {"summaries": serializers.IntegerField()}),
)
@api_view(["GET"])
def summary_count(request: Request) -> Response:
    return Response({"summaries": 0})


urlpatterns = [path("count/", summary_count, name="count")]
