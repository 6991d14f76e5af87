"""The LLM server client: huggingface_hub's `AsyncInferenceClient` on the OpenAI-style Messages API.

`/v1/chat/completions` is served alike by TGI, vLLM, SGLang and llama.cpp, so one client fits
all of them. Generation always streams: TGI reports errors that happen after the stream has
started *inside* a 200 response, and reading the stream is the only way to see them. Every
failure is mapped here, once, into `core.errors.LLMError`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import (
    GenerationError,
    HfHubHTTPError,
    IncompleteGenerationError,
    InferenceTimeoutError,
    OverloadedError,
    TextGenerationError,
    ValidationError,
)
from huggingface_hub.utils import get_async_session, httpx

from core.errors import (
    LLMError,
    LLMGenerationError,
    LLMOverloaded,
    LLMServerError,
    LLMTimeout,
    LLMValidationError,
)
from core.observe import UNOBSERVED, Observer
from core.ports import GenerationRequest


def map_error(exc: BaseException) -> LLMError:
    """One place that knows how the client and the servers fail."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, (InferenceTimeoutError, TimeoutError, httpx.TimeoutException)):
        return LLMTimeout(f"LLM server timed out: {exc}")
    if isinstance(exc, OverloadedError):
        return LLMOverloaded(f"LLM server overloaded: {exc}")
    if isinstance(exc, ValidationError):
        return LLMValidationError(f"LLM server rejected the request: {exc}")
    if isinstance(exc, GenerationError):
        return LLMGenerationError(f"LLM generation failed: {exc}")
    if isinstance(exc, IncompleteGenerationError):
        return LLMServerError(f"LLM generation incomplete: {exc}")
    if isinstance(exc, TextGenerationError):
        # Chat streams report every error, overload included, as {"message", "http_status_code"}.
        text = str(exc)
        if "overload" in text.lower():
            return LLMOverloaded(f"LLM server overloaded: {text}")
        return LLMServerError(f"LLM server error in stream: {text}")
    if isinstance(exc, HfHubHTTPError):
        return _from_status(exc)
    if isinstance(exc, (httpx.TransportError, ConnectionError, OSError)):
        return LLMServerError(f"LLM server unreachable: {exc}")
    return LLMServerError(f"LLM client error: {type(exc).__name__}: {exc}")


def _from_status(exc: HfHubHTTPError) -> LLMError:
    response = exc.response
    status = response.status_code if response is not None else 0
    if status == 429:
        return LLMOverloaded(f"LLM server overloaded (429): {exc}", retry_after=_retry_after(response))
    if status == 422:
        return LLMValidationError(f"LLM server rejected the request (422): {exc}")
    if status == 424:
        return LLMGenerationError(f"LLM generation failed (424): {exc}")
    if status in (401, 403):
        return LLMValidationError(f"LLM server refused the credentials ({status}); check LLM_API_KEY")
    if status == 404:
        return LLMValidationError(f"LLM server has no chat endpoint or model (404); check LLM_BASE_URL/LLM_MODEL: {exc}")
    return LLMServerError(f"LLM server error ({status}): {exc}")


def _retry_after(response: Any) -> float | None:
    try:
        return float(response.headers.get("retry-after"))
    except (TypeError, ValueError, AttributeError):
        return None


class LLMServerGenerator:
    """A `Generator` for a TGI / vLLM / SGLang / llama.cpp server at `base_url`."""

    def __init__(
        self, base_url: str, *, api_key: str | None = None, model: str = "tgi", timeout: float = 30.0,
        observer: Observer = UNOBSERVED, max_concurrency: int = 128,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._observer = observer
        self._api_key = api_key
        self._model = model
        self._timeout = timeout
        self._max_concurrency = max_concurrency
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _slot(self) -> asyncio.Semaphore:
        """At most `max_concurrency` generations in flight per event loop (a worker process
        runs one): past it a turn waits here, and the LLM server is never sent more."""
        loop = asyncio.get_running_loop()
        slot = self._slots.get(loop)
        if slot is None:
            slot = self._slots[loop] = asyncio.Semaphore(self._max_concurrency)
        return slot

    def _session(self) -> httpx.AsyncClient:
        """One HTTP connection pool per event loop: a pool belongs to the loop it was made in,
        and making one per call costs a TLS context and a new connection every turn."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None:
            session = get_async_session()
            self._sessions[loop] = session
        return session

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[AsyncInferenceClient]:
        """An `AsyncInferenceClient` for one generation, over the loop's shared pool.

        The client enters every streamed response on its own exit stack and releases them only
        when the client closes, so one long-lived client keeps every stream it ever opened (and,
        after a cancelled or failed stream, its connection) for the life of the process. A client
        per generation, closed when the generation ends, closes exactly that stream's response;
        handing it the shared pool keeps connection reuse. Its stack never holds the pool, so
        closing it leaves the pool open for the next generation.
        """
        client = AsyncInferenceClient(base_url=self._base_url, api_key=self._api_key, timeout=self._timeout)
        client._async_client = _KeepAlive(self._session())  # type: ignore[assignment]
        try:
            yield client
        finally:
            await client.close()

    async def aclose(self) -> None:
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.aclose()

    def _payload(self, request: GenerationRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "model": self._model,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
        }
        if request.top_p is not None:
            payload["top_p"] = request.top_p
        if request.stop:
            payload["stop"] = list(request.stop)
        return payload

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Yield text deltas as they arrive; raises a mapped `LLMError` on any failure. Each
        call is reported to the observer: in flight, first token, deltas, outcome."""
        async with self._slot(), contextlib.aclosing(self._stream(request)) as deltas:
            async for delta in deltas:
                yield delta

    async def _stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        started, deltas, error = time.perf_counter(), 0, None
        self._observer.generation_started()
        try:
            async with self._client() as client:
                chunks = await client.chat_completion(stream=True, **self._payload(request))
                async with contextlib.aclosing(chunks):  # type: ignore[type-var]
                    async for chunk in chunks:
                        for choice in chunk.choices or ():
                            delta = choice.delta.content if choice.delta else None
                            if delta:
                                if not deltas:
                                    self._observer.first_token(time.perf_counter() - started)
                                deltas += 1
                                yield delta
        except asyncio.CancelledError:
            error = "Cancelled"
            raise
        except Exception as exc:
            mapped = map_error(exc)
            error = type(mapped).__name__
            raise mapped from exc
        finally:
            self._observer.generation_finished(time.perf_counter() - started, deltas, error)

    async def generate(self, request: GenerationRequest) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                return "".join([part async for part in self.stream(request)])
        except TimeoutError as exc:
            raise LLMTimeout(f"no complete answer within {self._timeout:g}s") from exc

    async def health(self) -> bool:
        """Reachability for /readyz and `csbot doctor`: TGI's /health, else /v1/models."""
        async with httpx.AsyncClient(timeout=3.0) as http:
            for path in ("/health", "/v1/models"):
                try:
                    response = await http.get(self._base_url + path, headers=self._auth())
                except httpx.HTTPError:
                    return False
                if response.status_code == 200:
                    return True
        return False

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}


# A stream that said [DONE] has only its chunked-encoding trailer left; reading it returns the
# connection to the pool. More than this, or slower, and the connection is closed instead.
DRAIN_BYTES = 64 * 1024
DRAIN_SECONDS = 1.0
DONE = "data: [DONE]"


class _KeepAlive:
    """The loop's pool, as huggingface_hub's client uses it, with streamed responses that keep
    their connection.

    The client stops reading a chat stream at its `data: [DONE]` line, before the end of the
    HTTP body (the last chunk of chunked encoding), and httpx closes a connection whose response
    was closed unread: every generation then paid a new TCP connection, client and server side.
    Here a response's lines pass through one iterator; once the client has seen [DONE], closing
    the response first reads what is left of it, so the connection goes back to the pool. A
    stream that ended any other way (an error, a cancelled turn) is closed unread, as before."""

    def __init__(self, session: httpx.AsyncClient) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    @contextlib.asynccontextmanager
    async def stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        async with self._session.stream(*args, **kwargs) as response:
            lines = _Lines(response)
            response.aiter_lines = lines.aiter_lines  # type: ignore[method-assign]
            try:
                yield response
                await lines.finish()
            finally:
                # No cycle (response → its lines → their iterator → response) outlives the
                # stream: the response is freed with its last reference, as without this.
                del response.aiter_lines


class _Lines:
    def __init__(self, response: httpx.Response) -> None:
        self._iterator = response.aiter_lines()
        self._done = False

    async def aiter_lines(self) -> AsyncIterator[str]:
        async for line in self._iterator:
            if line.strip() == DONE:
                self._done = True
            yield line

    async def finish(self) -> None:
        """After [DONE], read the rest of the body (normally nothing but the last chunk)."""
        if not self._done:
            return
        left = DRAIN_BYTES
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                async for line in self._iterator:
                    left -= len(line) + 1
                    if left < 0:
                        return
        except (TimeoutError, httpx.HTTPError):
            return  # the response is closed unread: the connection with it
