"""Routes of the Documents API, mounted at /api/v1/c/documents/ (namespace `documents-api`)."""

from django.urls import path

from capabilities.documents.api import views

urlpatterns = [
    path("documents/", views.DocumentListCreate.as_view(), name="document-list"),
    path("documents/<int:document_id>/", views.DocumentDetail.as_view(), name="document-detail"),
    path("documents/search/", views.DocumentSearch.as_view(), name="search"),
]
