"""Prometheus metrics for web and workers, and the `core.observe.Observer` that feeds them.

Series live on a registry of our own so tests and several apps in one process do not collide.
With ``PROMETHEUS_MULTIPROC_DIR`` set (a prefork worker, or several uvicorn workers), every
process writes its values to files there and `exposition` merges them, as prometheus_client
documents; gauges then say how processes combine (`livesum` for in-flight generations,
`mostrecent` for the backlog a scrape has just counted).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from core.observe import TurnOutcome

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REGISTRY = CollectorRegistry(auto_describe=True)

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0)
_WAIT = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)

WEBHOOK_LATENCY = Histogram(
    "csbot_webhook_seconds", "Time from webhook request to ack", ["channel", "path", "status"],
    registry=REGISTRY, buckets=_FAST,
)
WEBHOOK_REFUSALS = Counter(
    "csbot_webhook_refusals_total", "Webhooks answered 4xx (bad signature, oversized, unknown channel)",
    ["channel", "status"], registry=REGISTRY,
)
LLM_SECONDS = Histogram(
    "csbot_llm_request_seconds", "LLM generation time, request to last token", ["result"],
    registry=REGISTRY, buckets=_SLOW,
)
LLM_ERRORS = Counter("csbot_llm_errors_total", "LLM requests that failed, by kind", ["kind"], registry=REGISTRY)
LLM_FIRST_TOKEN = Histogram(
    "csbot_llm_time_to_first_token_seconds", "LLM request to first streamed token", registry=REGISTRY, buckets=_SLOW,
)
LLM_TOKENS = Counter(
    "csbot_llm_tokens_total", "Completion tokens streamed (one per streamed delta)", registry=REGISTRY,
)
LLM_IN_FLIGHT = Gauge(
    "csbot_llm_generations_in_flight", "Generations waiting on the LLM server now", registry=REGISTRY,
    multiprocess_mode="livesum",
)
LLM_UP = Gauge(
    "csbot_llm_up", "1 when the LLM server answered its health check at the last scrape", registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
TURN_SECONDS = Histogram(
    "csbot_turn_seconds", "One customer message handled, by outcome", ["outcome"], registry=REGISTRY, buckets=_SLOW,
)
QUEUE_DEPTH = Gauge(
    "csbot_queue_depth", "Jobs waiting in each Redis queue", ["queue"], registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
OUTBOX_ROWS = Gauge(
    "csbot_outbox_rows", "Outbox rows by state (failed = dead-lettered)", ["state"], registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
HANDOFFS_WAITING = Gauge(
    "csbot_handoffs_waiting", "Handoffs no agent has claimed yet", registry=REGISTRY, multiprocess_mode="mostrecent",
)
HANDOFF_OLDEST_WAIT = Gauge(
    "csbot_handoff_oldest_wait_seconds", "How long the oldest unclaimed handoff has waited", registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
HANDOFF_CLAIM_SECONDS = Histogram(
    "csbot_handoff_time_to_claim_seconds", "Escalation to an agent's claim", registry=REGISTRY, buckets=_WAIT,
)

OUTBOX_STATES = ("pending", "sending", "sent", "failed")


class PrometheusObserver:
    """The `Observer` of web and worker processes."""

    __slots__ = ()

    def turn_finished(self, outcome: TurnOutcome, seconds: float) -> None:
        TURN_SECONDS.labels(outcome.value).observe(seconds)

    def handoff_claimed(self, waited_seconds: float) -> None:
        HANDOFF_CLAIM_SECONDS.observe(max(waited_seconds, 0.0))

    def generation_started(self) -> None:
        LLM_IN_FLIGHT.inc()

    def first_token(self, seconds: float) -> None:
        LLM_FIRST_TOKEN.observe(seconds)

    def generation_finished(self, seconds: float, tokens: int, error: str | None) -> None:
        LLM_IN_FLIGHT.dec()
        LLM_SECONDS.labels("error" if error else "ok").observe(seconds)
        if tokens:
            LLM_TOKENS.inc(tokens)
        if error:
            LLM_ERRORS.labels(error).inc()


def observe_webhook(path: str, status: int, seconds: float) -> None:
    """`/webhooks/<channel>/...`: time every webhook, count the refused ones per channel."""
    channel = path.removeprefix("/webhooks/").split("/", 1)[0] or "unknown"
    WEBHOOK_LATENCY.labels(channel, path, str(status)).observe(seconds)
    if 400 <= status < 500:
        WEBHOOK_REFUSALS.labels(channel, str(status)).inc()


def record_backlog(
    *, queues: Mapping[str, int], outbox: Mapping[str, int], handoffs_waiting: int, oldest_wait_seconds: float
) -> None:
    """What a scrape counted: queue lengths, outbox rows by state, unclaimed handoffs."""
    for queue, depth in queues.items():
        QUEUE_DEPTH.labels(queue).set(depth)
    for state in sorted(set(OUTBOX_STATES) | set(outbox)):
        OUTBOX_ROWS.labels(state).set(outbox.get(state, 0))
    HANDOFFS_WAITING.set(handoffs_waiting)
    HANDOFF_OLDEST_WAIT.set(oldest_wait_seconds)


def scraped_registry() -> CollectorRegistry:
    """What a scrape reads: this process's registry, or every process's files merged."""
    if os.environ.get(MULTIPROC_ENV):
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return merged
    return REGISTRY


def exposition() -> bytes:
    """The text a scrape receives (see `scraped_registry`)."""
    return generate_latest(scraped_registry())
