"""App configuration of the capability framework."""

from django.apps import AppConfig


class CapabilitiesConfig(AppConfig):
    name = "capabilities"
    verbose_name = "Capability framework"

    def ready(self) -> None:
        from kombu import Queue

        # Imported for their side effects: the system checks, and the job
        # runner's Celery tasks (runner.py is no tasks.py, so Celery's
        # autodiscovery would not find them).
        # presence.py connects the worker's announcement to worker_ready;
        # schedules.py holds beat's task for scheduled switches.
        from capabilities import checks, degraded, presence, runner, schedules  # noqa: F401
        from capabilities.registry import app_registry as registry
        from portal.celery import app as celery_app

        # Workers consume the default queue and one queue per capability, unless
        # started with -Q for a subset (`celery -A portal worker -Q cap.<key>`).
        installed = registry()
        celery_app.conf.task_queues = [Queue("celery"), *(Queue(c.queue) for c in installed)]

        from capabilities.capability_settings import check_environment

        check_environment()

        from capabilities.meter_prices import RegistryMeterPrices
        from metering import meter_prices

        meter_prices.register(RegistryMeterPrices())

        from capabilities.gate import bump_version
        from metering import budgets

        # A charge or a change that reaches or lifts a stop budget announces
        # itself like a toggle change (start_job and the API see it at once).
        budgets.on_stop_change(bump_version)
        from capabilities.gate import budgets_in_flight

        budgets.register_in_flight(budgets_in_flight)

        from capabilities import health
        from portal import health as portal_health

        portal_health.register(health.jobs_section)
        portal_health.register(health.capabilities_section)

        from capabilities.metrics import CapabilityCollector
        from portal import metrics

        metrics.register(CapabilityCollector())
