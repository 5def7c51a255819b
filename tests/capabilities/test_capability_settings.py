"""Capability settings: declared by the capability, read with one accessor
from CAPABILITY_SETTINGS, the <KEY>_<NAME> environment variable or the default,
and checked at start-up."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from capabilities import checks
from capabilities.capability_settings import capability_setting
from capabilities.registry import registry

ENVIRONMENT = (
    "DOCUMENTS_MAX_UPLOAD_MB",
    "DOCUMENTS_OCR_LANGUAGE",
    "NOTIFICATIONS_CONNECT_TIMEOUT",
    "NOTIFICATIONS_RETRY_DELAYS",
    "NOTIFICATIONS_ALLOW_PRIVATE_TARGETS",
)


@pytest.fixture(autouse=True)
def _no_operator_environment(monkeypatch):
    for variable in ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)


def test_an_unset_setting_is_its_declared_default():
    assert capability_setting("documents", "MAX_UPLOAD_MB") == 20
    assert capability_setting("documents", "OCR_LANGUAGE") == "eng"
    assert capability_setting("notifications", "RETRY_DELAYS") == [30, 120, 600, 3600]


def test_a_default_may_follow_the_django_settings(settings):
    settings.PRODUCTION = False
    assert capability_setting("notifications", "ALLOW_PRIVATE_TARGETS") is True
    settings.PRODUCTION = True
    assert capability_setting("notifications", "ALLOW_PRIVATE_TARGETS") is False


@pytest.mark.parametrize(
    ("variable", "value", "key", "name", "expected"),
    [
        ("DOCUMENTS_MAX_UPLOAD_MB", "50", "documents", "MAX_UPLOAD_MB", 50),
        ("DOCUMENTS_OCR_LANGUAGE", "deu", "documents", "OCR_LANGUAGE", "deu"),
        ("NOTIFICATIONS_CONNECT_TIMEOUT", "2.5", "notifications", "CONNECT_TIMEOUT", 2.5),
        ("NOTIFICATIONS_RETRY_DELAYS", "1,1", "notifications", "RETRY_DELAYS", [1, 1]),
        ("NOTIFICATIONS_ALLOW_PRIVATE_TARGETS", "false", "notifications", "ALLOW_PRIVATE_TARGETS", False),
    ],
)
def test_the_environment_variable_is_read_as_the_defaults_type(
    monkeypatch, variable, value, key, name, expected
):
    monkeypatch.setenv(variable, value)
    found = capability_setting(key, name)
    assert found == expected and type(found) is type(expected)


def test_an_environment_variable_that_does_not_parse_is_named(monkeypatch):
    monkeypatch.setenv("DOCUMENTS_MAX_UPLOAD_MB", "fifty")
    with pytest.raises(ImproperlyConfigured, match="DOCUMENTS_MAX_UPLOAD_MB='fifty' is not a valid int"):
        capability_setting("documents", "MAX_UPLOAD_MB")
    errors = checks.capability_settings_are_declared(None)
    assert [error.id for error in errors] == ["capabilities.E007"]


def test_the_django_setting_overrides_the_environment(monkeypatch, capability_settings):
    monkeypatch.setenv("DOCUMENTS_MAX_UPLOAD_MB", "50")
    capability_settings("documents", MAX_UPLOAD_MB=7)
    assert capability_setting("documents", "MAX_UPLOAD_MB") == 7
    assert capability_setting("documents", "OCR_LANGUAGE") == "eng"  # the others keep theirs


def test_an_undeclared_setting_or_capability_is_an_error():
    with pytest.raises(LookupError, match="declares no setting 'MAX_UPLOAD'"):
        capability_setting("documents", "MAX_UPLOAD")
    with pytest.raises(LookupError, match="No capability 'document'"):
        capability_setting("document", "MAX_UPLOAD_MB")


def test_the_installed_capabilities_settings_pass_the_check():
    assert checks.capability_settings_are_declared(None) == []


def test_a_typo_in_capability_settings_is_an_error(settings):
    settings.CAPABILITY_SETTINGS = {"documents": {"MAX_UPLOADS_MB": 50}, "document": {"MAX_FILES": 2}}
    errors = checks.capability_settings_are_declared(None)
    assert [error.id for error in errors] == ["capabilities.E006", "capabilities.E006"]
    assert "'MAX_UPLOADS_MB', a setting documents does not declare" in errors[0].msg
    assert "'document', which is no installed capability" in errors[1].msg


def test_a_setting_name_must_be_upper_case(monkeypatch):
    ocr = registry().get("ocr")
    monkeypatch.setattr(type(ocr), "default_settings", {"max_pages": 10, "LANGUAGE": "eng"})
    errors = checks.capability_settings_are_declared(None)
    assert [error.id for error in errors] == ["capabilities.E005"]
    assert "'max_pages'" in errors[0].msg


def test_the_documents_upload_help_shows_the_limits_in_force(capability_settings):
    from capabilities.documents.forms import UploadForm

    capability_settings("documents", MAX_UPLOAD_MB=5, MAX_FILES=3)
    assert "up to 5 MB each, 3 at a time, 100 MB in all." in str(UploadForm()["files"].help_text)
