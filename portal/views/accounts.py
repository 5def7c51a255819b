"""Sign-in, password and invitation pages, built on Django's auth views."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy

from portal.access import home_url
from portal.actions import invitations
from portal.actions.errors import ActionError
from portal.audit import origin_of
from portal.forms import AcceptInvitationForm, SignInForm
from portal.signals import audit_password_change


class SignInView(auth_views.LoginView):
    """Sign in, then go to `next=` when it is safe, else to the person's own home."""

    form_class = SignInForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return home_url(self.request.user)  # type: ignore[arg-type]


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit_password_change(form.user, self.request, reset=False)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit_password_change(form.user, self.request, reset=True)
        return response


def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Show an invitation and let the invited person join: signed in as the
    invited address, one click; without an account, by creating one here."""
    invitation = invitations.find_invitation(token)
    if invitation is None or not invitation.is_pending:
        return render(
            request,
            "portal/invitation_invalid.html",
            {"invitation": invitation},
            status=404 if invitation is None else 410,
        )
    user = request.user if request.user.is_authenticated else None
    needs_account = user is None
    form = AcceptInvitationForm(request.POST or None, email=invitation.email) if needs_account else None
    error = None
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            membership = invitations.accept_invitation(
                token,
                user=user,  # type: ignore[arg-type]
                full_name=form.cleaned_data["full_name"] if form else "",
                password=form.cleaned_data["password1"] if form else "",
                origin=origin_of(request),
            )
        except ActionError as action_error:
            error = action_error.message
        else:
            if needs_account:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            request.session["current_organization_id"] = membership.organization_id
            messages.success(request, f"Welcome to {membership.organization.name}.")
            return redirect("home")
    return render(
        request,
        "portal/invitation_accept.html",
        {"invitation": invitation, "form": form, "error": error},
        status=400 if (error or (form is not None and form.errors)) else 200,
    )
