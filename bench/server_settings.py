"""Settings of a web process a benchmark serves over HTTP: the benchmark
settings, with the baselines' routes (bench/urls.py) added."""

from bench.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
