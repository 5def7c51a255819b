"""Pages of Documents, mounted at /c/documents/ (namespace `documents`)."""

from django.urls import path

from capabilities.documents import views

urlpatterns = [
    path("", views.index, name="index"),
    path("upload/", views.upload, name="upload"),
    path("search/", views.search_page, name="search"),
    path("<int:document_id>/", views.document_detail, name="document"),
    path("<int:document_id>/pages/<int:number>/", views.page_detail, name="page"),
    path("<int:document_id>/file/", views.download, name="file"),
]
