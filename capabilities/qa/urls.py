"""Pages of Document Q&A, mounted at /c/qa/ (namespace `qa`)."""

from django.urls import path

from capabilities.qa import views

urlpatterns = [
    path("", views.index, name="index"),
    path("ask/", views.ask, name="ask"),
    path("status/", views.status, name="status"),
    path("index/", views.index_documents, name="index_documents"),
]
