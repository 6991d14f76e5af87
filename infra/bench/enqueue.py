"""Enqueue benchmark: what queueing one job costs its caller (an event loop), against a bare LPUSH.

    python -m infra.bench.enqueue [--jobs 500]

* send_task: Celery's `send_task` as the caller would make it on its own thread (what
  `CeleryJobs` did before its publisher thread): kombu's Redis transport, csbot's app settings.
* CeleryJobs: `enqueue_inbound` as the web process and the worker call it now (the publish
  happens on the publisher thread; the caller only queues it); then the time until all are sent.
* bare: one redis-py LPUSH on a kept connection.

Prints p50/p99 per call for each and the ratios to bare, in the same run. Uses BENCH_REDIS_URL
(default db 12) under a namespace of its own, deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable

import redis

from workers.celery_app import PROCESS_INBOUND, CeleryJobs, Queues, create_celery


def timings(call: Callable[[], object], n: int) -> list[float]:
    call()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def line(name: str, values: list[float]) -> str:
    return f"{name:<11} p50 {statistics.median(values) * 1000:7.3f} ms  p99 {statistics.quantiles(values, n=100)[98] * 1000:7.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    args = parser.parse_args()
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    namespace = f"bench-enqueue-{uuid.uuid4().hex[:8]}"
    app = create_celery(url, namespace=namespace)
    queue = Queues(namespace).inbound
    jobs = CeleryJobs(app)
    client = redis.Redis.from_url(url)
    try:
        bare = timings(lambda: client.lpush(f"{namespace}:bare", "x"), args.jobs)
        direct = timings(lambda: app.send_task(PROCESS_INBOUND, args=(1,), queue=queue), args.jobs)
        started = time.perf_counter()
        queued = timings(lambda: jobs.enqueue_inbound(1), args.jobs)
        jobs.flush(60)
        all_sent = time.perf_counter() - started
    finally:
        for key in client.scan_iter(match=f"{namespace}:*", count=500):
            client.delete(key)
        client.close()
    print(f"jobs={args.jobs} redis={url}")
    print(line("bare", bare))
    print(line("send_task", direct))
    print(line("CeleryJobs", queued) + f"  (all {args.jobs + 1} sent by the publisher within {all_sent:.2f} s)")
    print(f"ratio send_task/bare p50: {statistics.median(direct) / statistics.median(bare):.1f}x")
    print(f"ratio CeleryJobs/bare p50: {statistics.median(queued) / statistics.median(bare):.2f}x")


if __name__ == "__main__":
    main()
