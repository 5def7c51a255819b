"""The Celery application every worker and beat process runs."""

import os
from collections.abc import Iterator, Mapping
from typing import Any

from celery import Celery

from portal import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

NAMESPACE = "CELERY"


class DjangoCelerySettings(Mapping[str, Any]):
    """Django's `CELERY_*` settings as a plain dict, taken when Celery first
    reads its configuration (after Django's settings are loaded).

    Celery looks several of its settings up on every message it sends, and
    most of them are left at Celery's defaults, so each lookup first misses in
    the configuration source. Given `django.conf:settings` itself, every miss
    is an AttributeError raised through Django's lazy settings: about a quarter
    of a millisecond per message, a fifth of the cost of sending a job's
    message. A dict misses for free.

    The values are the settings' own objects (the capabilities add their beat
    entries to `CELERY_BEAT_SCHEDULE` in place, and Celery sees them). A
    setting changed on `django.conf.settings` after Celery has read its
    configuration is not seen: change `app.conf` instead, as Celery's docs say."""

    def __init__(self, namespace: str) -> None:
        self.prefix = f"{namespace}_"
        self._values: dict[str, Any] | None = None

    def _loaded(self) -> dict[str, Any]:
        if self._values is None:
            from django.conf import settings

            self._values = {
                name: getattr(settings, name) for name in dir(settings) if name.startswith(self.prefix)
            }
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._loaded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


broker.install()
app = Celery("portal")
app.config_from_object(DjangoCelerySettings(NAMESPACE), namespace=NAMESPACE)
app.autodiscover_tasks()
