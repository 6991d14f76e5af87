"""Prometheus metrics, on a registry of our own so tests and multiple apps do not collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOK_LATENCY = Histogram(
    "csbot_webhook_seconds",
    "Time from webhook request to ack",
    ["path", "status"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0),
)
