from django.urls import path

from capabilities.reports import views

urlpatterns = [
    path("", views.index, name="index"),
    path("uploads/<int:upload_set_id>/", views.upload_set, name="upload_set"),
    path("uploads/<int:upload_set_id>/build/", views.build, name="build"),
    path("<int:report_id>/", views.report, name="report"),
    path("<int:report_id>/report.xlsx", views.report_xlsx, name="report_xlsx"),
    path("<int:report_id>/report.pdf", views.report_pdf, name="report_pdf"),
]
