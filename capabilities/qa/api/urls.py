"""Routes of the Document Q&A API, mounted at /api/v1/c/qa/ (namespace `qa-api`)."""

from django.urls import path

from capabilities.qa.api import views

urlpatterns = [
    path("ask", views.Ask.as_view(), name="ask"),
]
