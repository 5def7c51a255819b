from django.urls import path

from capabilities.reports.api import views

urlpatterns = [
    path("upload-sets/", views.UploadSetListCreate.as_view(), name="upload-set-list"),
    path("upload-sets/<int:upload_set_id>/", views.UploadSetDetail.as_view(), name="upload-set-detail"),
    path(
        "upload-sets/<int:upload_set_id>/mapping/",
        views.UploadSetMapping.as_view(),
        name="upload-set-mapping",
    ),
    path("upload-sets/<int:upload_set_id>/reports/", views.UploadSetBuild.as_view(), name="upload-set-build"),
    path("reports/<int:report_id>/", views.ReportDetail.as_view(), name="report-detail"),
    path("reports/<int:report_id>/xlsx/", views.ReportXlsx.as_view(), name="report-xlsx"),
    path("reports/<int:report_id>/pdf/", views.ReportPdf.as_view(), name="report-pdf"),
]
