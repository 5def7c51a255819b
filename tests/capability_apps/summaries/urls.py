from django.urls import path

from tests.capability_apps.summaries import views

urlpatterns = [path("", views.index, name="index")]
