"""The fault run of issue 12: document uploads through the API on a real
deployment (embedded PostgreSQL and Redis, gunicorn, two Celery workers, beat)
while workers are SIGKILLed, Redis loses its data and PostgreSQL restarts;
then the ledger, the jobs and the documents are checked against what the
client saw. `python -m bench.fault_run --help`; not one of `make bench`'s
ratio benchmarks."""
