"""External capabilities' IT admin pages, mounted at /manage/capabilities/ in the
/manage/ namespace by the root URLconf."""

from django.urls import path

from capabilities import service_views

urlpatterns = [
    path("", service_views.service_list, name="services"),
    path("new/", service_views.service_register, name="service_register"),
    path("<slug:key>/", service_views.service_detail, name="service"),
    path("<slug:key>/change/", service_views.service_change, name="service_change"),
    path("<slug:key>/retire/", service_views.service_retire, name="service_retire"),
    path("<slug:key>/credentials/", service_views.credential_issue, name="credential_issue"),
    path(
        "<slug:key>/credentials/<str:prefix>/revoke/",
        service_views.credential_revoke,
        name="credential_revoke",
    ),
    path(
        "<slug:key>/credentials/<str:prefix>/rotate/",
        service_views.credential_rotate,
        name="credential_rotate",
    ),
]
