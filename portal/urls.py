"""Root URL configuration: composes every app's routes (so it alone may import
the layers above the tenancy app; see the import-linter contracts)."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from capabilities import urls as capability_urls
from portal.views import accounts, alerts, health, manage, metrics, org

api_docs = SpectacularSwaggerSplitView.as_view(url_name="api-schema")

manage_patterns: tuple[list[URLPattern | URLResolver], str] = (
    [
        path("", manage.organizations, name="organizations"),
        path("organizations/new/", manage.create_organization, name="organization_create"),
        path("organizations/<slug:slug>/", manage.organization_detail, name="organization"),
        path("organizations/<slug:slug>/suspend/", manage.suspend_organization, name="organization_suspend"),
        path(
            "organizations/<slug:slug>/reactivate/",
            manage.reactivate_organization,
            name="organization_reactivate",
        ),
        path("organizations/<slug:slug>/invite/", manage.invite, name="organization_invite"),
        path(
            "organizations/<slug:slug>/members/<int:membership_id>/role/",
            manage.change_role,
            name="member_role",
        ),
        path(
            "organizations/<slug:slug>/members/<int:membership_id>/remove/",
            manage.remove_member,
            name="member_remove",
        ),
        path(
            "organizations/<slug:slug>/invitations/<int:invitation_id>/revoke/",
            manage.revoke_invitation,
            name="invitation_revoke",
        ),
        *capability_urls.manage_urlpatterns,
        path("", include("metering.manage_urls")),  # platform caps on a tenant
        path("", include("capabilities.approvals.manage_urls")),  # the every-switch-on rule
        path("audit/", manage.audit_log, name="audit"),
        path("health/", manage.health, name="health"),
    ],
    "manage",
)

account_patterns = [
    path("login/", accounts.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    # First: flag evaluation is the hottest path, and routes are tried in order.
    *capability_urls.ofrep_urlpatterns,
    *capability_urls.urlpatterns,
    *capability_urls.capability_page_patterns(),
    path("overview/", org.overview, name="overview"),
    path("", include("metering.urls")),
    path("", include("billing.urls")),
    path("switch/", org.switch_organization, name="switch_organization"),
    path("members/", org.members, name="members"),
    path("members/<int:membership_id>/role/", org.change_role, name="member_role"),
    path("members/<int:membership_id>/remove/", org.remove_member, name="member_remove"),
    path("invitations/<int:invitation_id>/revoke/", org.revoke_invitation, name="invitation_revoke"),
    path("invitations/<str:token>/", accounts.accept_invitation, name="invitation_accept"),
    path("api-keys/", org.api_keys, name="api_keys"),
    path("api-keys/<str:key_prefix>/revoke/", org.revoke_api_key, name="api_key_revoke"),
    path("api-keys/review/", org.review_api_keys, name="api_keys_review"),
    path("settings/", alerts.organization_settings, name="organization_settings"),
    path("", include("capabilities.approvals.urls")),  # /requests/, /settings/approvals/
    path("settings/alerts-webhook/rotate/", alerts.rotate_webhook_secret, name="alert_webhook_rotate"),
    path("settings/alerts-webhook/remove/", alerts.remove_webhook, name="alert_webhook_remove"),
    path("alerts/<int:alert_id>/dismiss/", alerts.dismiss_alert, name="alert_dismiss"),
    path("accounts/", include(account_patterns)),
    path("manage/", include(manage_patterns)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/v1/", include("portal.api.urls")),
    path("api/v1/", include("capabilities.api.urls")),
    path("api/v1/", include("capabilities.approvals.api.urls")),
    path("api/v1/", include("metering.api.urls")),
    path("api/v1/", include("billing.api.urls")),
    path("api/v1/", include(capability_urls.capability_api_patterns())),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI sets inline styles as it renders; its scripts stay 'self'-only.
    path(
        "api/docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
]

handler400 = "portal.views.errors.bad_request"
handler403 = "portal.views.errors.permission_denied"
handler404 = "portal.views.errors.page_not_found"
handler500 = "portal.views.errors.server_error"
