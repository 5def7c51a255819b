"""Job of the test OCR capability: walks through `pages` pages, optionally
waiting on a file to appear (so a test can hold it mid-run) or failing."""

import os
import signal
import time
from pathlib import Path

from capabilities.job_context import JobContext, JobFailed


def recognize(ctx: JobContext) -> dict:
    pages = int(ctx.input.get("pages", 1))
    hold = ctx.input.get("hold_until_exists")
    for page in range(1, pages + 1):
        if hold:
            deadline = time.monotonic() + 60
            while not Path(hold).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        ctx.progress(page, pages)
    if ctx.input.get("fail"):
        raise JobFailed("The scan was unreadable.")
    ctx.meter("pages", pages)
    return {"pages": pages, "text": "recognised"}


def recognize_two_columns(ctx: JobContext) -> dict:
    """Version 2.0's recognition: the same pages, and says which engine read them."""
    return {**recognize(ctx), "engine": "two-column"}


def noop(ctx: JobContext) -> dict:
    """The smallest metered job: counts one page. Used by the job-overhead
    benchmark and tests of the runner."""
    ctx.meter("pages", 1)
    return {}


def explode(ctx: JobContext) -> dict:
    """Meters, then crashes: nothing it metered may be recorded."""
    ctx.meter("pages", 7)
    raise RuntimeError("disk on fire")


def kill_worker(ctx: JobContext) -> dict:
    """Meters, then SIGKILLs the process running it (a segfault, the OOM
    killer): it stops its worker every time, and nothing may be billed."""
    ctx.meter("pages", 5)
    os.kill(os.getpid(), signal.SIGKILL)
    return {}
