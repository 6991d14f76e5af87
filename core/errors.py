"""The typed error tree. Each error carries what its caller needs to decide what to do next."""

from __future__ import annotations


class CsbotError(Exception):
    """Base of every error csbot raises on purpose."""


class ConfigError(CsbotError):
    """A setting or definition file is wrong; names the file/setting and the field at fault."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"{source}: {field}: {problem}")


class BadInput(CsbotError):
    """A request we refuse without changing anything (maps to HTTP 400)."""

    status_code = 400


class PayloadTooLarge(BadInput):
    status_code = 413


class SignatureInvalid(CsbotError):
    """A webhook whose signature is missing or wrong; refused, nothing stored."""

    status_code = 401


class NotFound(CsbotError):
    """A record id that does not exist (a job for a row that was never committed, say)."""


class LockTimeout(CsbotError):
    """A conversation stayed locked by another worker; the job is retried later, not dropped."""

    def __init__(self, key: str, waited: float) -> None:
        self.key = key
        self.waited = waited
        super().__init__(f"lock {key!r} still held after {waited:g}s")


class TransientStoreError(CsbotError):
    """The database failed in a way that passes: the connection was lost, or PostgreSQL aborted the
    transaction (serialization failure, deadlock). Nothing was committed, so the job that met it is
    safe to run again; jobs retry it with backoff. `sqlstate` is PostgreSQL's code when there is one."""

    def __init__(self, reason: str, *, sqlstate: str | None = None) -> None:
        self.reason = reason
        self.sqlstate = sqlstate
        super().__init__(f"database: {reason}" + (f" (SQLSTATE {sqlstate})" if sqlstate else ""))


class SentNotRecorded(TransientStoreError):
    """The platform accepted outbound `outbound_id` (as `platform_message_id`) but the database
    would not record it. Whoever retries must record this receipt, never send the row again."""

    def __init__(self, outbound_id: int, platform_message_id: str, cause: TransientStoreError) -> None:
        self.outbound_id = outbound_id
        self.platform_message_id = platform_message_id
        super().__init__(f"outbound {outbound_id} was sent but not marked sent: {cause.reason}", sqlstate=cause.sqlstate)


# --- the LLM server -------------------------------------------------------------------------


class LLMError(CsbotError):
    """The generation server failed. `retryable` tells the engine whether trying again can help."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class LLMOverloaded(LLMError):
    """429 / `overloaded`: the server is full right now; back off and retry."""


class LLMTimeout(LLMError):
    """No (complete) answer within the configured timeout."""


class LLMServerError(LLMError):
    """5xx or `incomplete_generation`: a server-side failure that may pass."""


class LLMGenerationError(LLMError):
    """424 / `generation`: the model failed on this input; retrying the same prompt rarely helps."""

    retryable = False


class LLMValidationError(LLMError):
    """422 / `validation`: the request itself is wrong (too long, bad parameter); never retried."""

    retryable = False


# --- delivery to platforms ------------------------------------------------------------------


class DeliveryError(CsbotError):
    """Sending to a platform failed."""

    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        self.reason = reason
        super().__init__(f"{channel}: {reason}")


class RateLimited(DeliveryError):
    """The platform (or our own limiter) says wait `retry_after` seconds, then send again."""

    def __init__(self, channel: str, retry_after: float, reason: str = "rate limited") -> None:
        self.retry_after = retry_after
        super().__init__(channel, f"{reason}; retry after {retry_after:g}s")


class TransientDeliveryError(DeliveryError):
    """Network trouble or a 5xx: retry with backoff."""


class PermanentDeliveryError(DeliveryError):
    """Will never succeed (bot blocked, number opted out, channel not found): dead-letter it."""
