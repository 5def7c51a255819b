"""The capability registry: installed capability apps are found through their
AppConfig, and dependencies are resolved and validated."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from capabilities.registry import CapabilityConfig, DemoMeter, Meter, Registry, registry
from portal.celery import app as celery_app


def handmade(key: str, *dependencies: str) -> CapabilityConfig:
    """A capability config that no INSTALLED_APPS entry declares, for registries built by hand."""
    config_class = type(
        f"{key.title()}Config",
        (CapabilityConfig,),
        {
            "name": f"handmade.{key}",
            "path": "/nonexistent",  # AppConfig would otherwise look for the module on disk
            "key": key,
            "verbose_name": key.title(),
            "dependencies": dependencies,
        },
    )
    return config_class(f"handmade.{key}", None)


def registry_of(*capabilities: CapabilityConfig) -> Registry:
    return Registry(capabilities={capability.key: capability for capability in capabilities})


# --- the installed registry ------------------------------------------------------


def test_the_test_capability_apps_are_installed_capabilities():
    installed = registry()
    # The real capability apps of portal/settings.py are installed next to them.
    assert {"glossary", "ocr", "summaries"} <= set(installed.keys())
    assert len(installed) == len(installed.keys())
    assert "ocr" in installed and "billing" not in installed


def test_a_capability_subclass_is_picked_as_its_apps_config():
    # apps.py imports CapabilityConfig too; Django must choose the subclass, not the base.
    ocr = apps.get_app_config("test_ocr")
    assert isinstance(ocr, CapabilityConfig)
    assert type(ocr).__name__ == "OcrConfig"
    assert registry().get("ocr") is ocr
    assert CapabilityConfig.default is False
    assert type(ocr).default is True


def test_the_catalog_order_is_by_category_then_name():
    test_apps = ("summaries", "ocr", "glossary")
    titles = [capability.title for capability in registry() if capability.key in test_apps]
    assert titles == ["Summaries", "Text recognition", "Glossary"]
    order = [(capability.category, capability.title) for capability in registry()]
    assert order == sorted(order)


def test_declarations_are_read_from_the_app_config(db):  # is_paid reads the price book
    ocr = registry().get("ocr")
    assert ocr.title == "Text recognition"
    assert ocr.category == "Documents"
    assert ocr.meter("pages") == Meter("pages", "page", Decimal("0.010"))
    assert ocr.is_paid
    assert not registry().get("glossary").is_paid
    recognize = ocr.job_kind("recognize")
    assert (recognize.function, recognize.label, recognize.by_hand) == (
        "tests.capability_apps.ocr.jobs.recognize",
        "Recognise pages",
        True,
    )
    noop = ocr.job_kind("noop")  # declared as a plain dotted path: no input, not by hand
    assert (noop.function, noop.input, noop.label, noop.by_hand) == (
        "tests.capability_apps.ocr.jobs.noop",
        "",
        "Noop",
        False,
    )
    assert [kind for kind, _ in ocr.kinds_by_hand] == ["recognize"]
    assert registry().get("summaries").nav.label == "Summaries"
    with pytest.raises(KeyError, match="no meter 'words'"):
        ocr.meter("words")


def test_asking_for_an_uninstalled_capability_is_a_lookup_error():
    with pytest.raises(LookupError, match="No capability 'billing' is installed"):
        registry().get("billing")


def test_the_installed_dependencies_resolve_both_ways():
    assert registry().requirements("summaries") == ["ocr"]
    assert registry().requirements("ocr") == []
    assert registry().dependents("ocr") == ["summaries"]
    assert registry().dependents("glossary") == []


def test_every_capability_has_its_own_celery_queue():
    assert registry().get("ocr").queue == "cap.ocr"
    queues = {queue.name for queue in celery_app.conf.task_queues}
    assert queues == {"celery"} | {capability.queue for capability in registry()}
    assert {"cap.ocr", "cap.summaries", "cap.glossary"} <= queues


# --- registries built by hand ----------------------------------------------------


def test_requirements_are_transitive_and_nearest_first():
    # archive <- index <- search; reports needs archive and search directly.
    built = registry_of(
        handmade("archive"),
        handmade("index", "archive"),
        handmade("search", "index"),
        handmade("reports", "archive", "search"),
    )
    built.validate()
    assert built.requirements("archive") == []
    assert built.requirements("search") == ["index", "archive"]
    assert built.requirements("reports") == ["archive", "search", "index"]


def test_dependents_are_transitive():
    built = registry_of(
        handmade("archive"),
        handmade("index", "archive"),
        handmade("search", "index"),
        handmade("reports", "archive", "search"),
    )
    assert built.dependents("archive") == ["index", "reports", "search"]
    assert built.dependents("search") == ["reports"]
    assert built.dependents("reports") == []


def test_a_dependency_on_an_uninstalled_capability_is_refused():
    built = registry_of(handmade("search", "index"))
    with pytest.raises(ImproperlyConfigured, match="'search' depends on 'index', which is not installed"):
        built.validate()


def test_a_dependency_cycle_is_refused():
    built = registry_of(
        handmade("archive", "search"), handmade("index", "archive"), handmade("search", "index")
    )
    with pytest.raises(ImproperlyConfigured, match="'archive' depends on itself"):
        built.validate()


def test_a_capability_depending_on_itself_is_refused():
    with pytest.raises(ImproperlyConfigured, match="depends on itself"):
        registry_of(handmade("archive", "archive")).validate()


def test_demo_usage_of_a_meter_the_capability_lacks_is_refused():
    archive = handmade("archive")
    type(archive).demo_usage = (DemoMeter("pages", 10),)
    with pytest.raises(ImproperlyConfigured, match="demo_usage names a meter it lacks, 'pages'"):
        registry_of(archive).validate()
    type(archive).demo_usage = (DemoMeter("api_calls", 10),)  # the platform's meters count too
    registry_of(archive).validate()


# --- meters ----------------------------------------------------------------------


def test_a_meter_refuses_a_float_price():
    with pytest.raises(ImproperlyConfigured, match="unit_price must be a Decimal, never a float"):
        Meter("pages", "page", 0.01)  # type: ignore[arg-type]


def test_a_meter_refuses_an_aggregation_stripe_meters_do_not_use():
    with pytest.raises(ImproperlyConfigured, match="only 'sum' aggregation"):
        Meter("pages", "page", Decimal("0.01"), aggregation="max")


def test_a_meter_with_a_decimal_price_keeps_it_exactly():
    meter = Meter("pages", "page", Decimal("0.0025"))
    assert meter.unit_price * 400 == Decimal("1.0000")
    assert meter.currency == "usd" and meter.aggregation == "sum"
