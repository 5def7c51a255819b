"""A bare Celery task for the job-overhead benchmark's baseline: no toggle, no
Job row, no usage; it only counts itself in Redis so the benchmark knows when
all have run."""

import redis
from celery import shared_task
from django.conf import settings


@shared_task(name="bench.bare_noop", ignore_result=True)
def bare_noop(counter_key: str) -> None:
    redis.Redis.from_url(settings.REDIS_URL).incr(counter_key)
