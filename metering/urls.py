"""Usage pages: the organization's usage and the finance dashboard."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
