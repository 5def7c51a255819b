"""Forms of the tenancy pages. Each validates what a person can get wrong and
says what to do about it."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import validate_slug

from portal.models import ApiKeyScope, Organization, Role
from portal.outbound import clean_webhook_url


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        "invalid_login": "That email and password don't match an account. Check both and try again.",
        "inactive": "This account is deactivated. Contact your administrator.",
    }


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=50,
        help_text="What uses this key, e.g. “ERP nightly sync”.",
    )
    scope = forms.ChoiceField(
        choices=ApiKeyScope.choices,
        initial=ApiKeyScope.READ,
        help_text="Read: GET only, like a billing user. Use: runs capabilities, like a member. "
        "Manage: also toggles, rules and keys, like an admin.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. The key works through this day (UTC).",
    )


class AcceptInvitationForm(forms.Form):
    """Creates the account of an invited person who has none yet."""

    full_name = forms.CharField(max_length=150, label="Your name")
    password1 = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            from portal.models import User

            try:
                password_validation.validate_password(
                    first, User(email=self.email, full_name=cleaned.get("full_name", ""))
                )
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    slug = forms.CharField(
        max_length=60,
        validators=[validate_slug],
        help_text="Lowercase letters, digits and hyphens; used in URLs and exports.",
    )
    owner_email = forms.EmailField(
        label="First owner's email",
        help_text="An existing user becomes owner at once; anyone else gets an invitation.",
    )

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"].lower()
        if Organization.objects.filter(slug=slug).exists():
            raise forms.ValidationError("Another organization already uses this slug.")
        return slug


class SuspendForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown to the organization's users and kept in the audit log.",
    )


class AlertWebhookForm(forms.Form):
    url = forms.CharField(
        label="Webhook URL",
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.example.com/switchboard-alerts"}),
        help_text="Each alert is POSTed here once, as signed JSON.",
        error_messages={
            "required": "Give the URL that should receive your alerts.",
            "max_length": "Keep the URL under 500 characters.",
        },
    )

    def clean_url(self) -> str:
        return clean_webhook_url(
            self.cleaned_data["url"].strip(), allow_private=settings.ALERT_WEBHOOK_ALLOW_PRIVATE_TARGETS
        )
