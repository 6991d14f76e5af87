"""`csbot worker`'s own /metrics: the turns it ran, its LLM latency and errors, the generations
it has in flight, served on `WORKER_METRICS_PORT` for Prometheus to scrape.

The web tier's `/metrics` cannot show them: turns run in the worker processes, and each process
counts only what it did. A worker-blueprint step starts prometheus_client's HTTP server in the
main worker process when the worker starts and stops it on shutdown. With a prefork pool, set
``PROMETHEUS_MULTIPROC_DIR`` (the deploy files do): the pool's children then write their values
there and the server merges them (`infra.metrics.scraped_registry`); a child that exits is
marked dead so its in-flight generations stop counting.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, bootsteps
from celery.signals import worker_process_shutdown
from prometheus_client import multiprocess, start_http_server

from infra.metrics import MULTIPROC_ENV, scraped_registry

log = logging.getLogger(__name__)


PORT_CONF = "csbot_worker_metrics_port"


class MetricsServer(bootsteps.StartStopStep):
    """Serve this worker's metrics on the app's configured port from start to stop."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.port: int = parent.app.conf[PORT_CONF]
        self.server: Any = None

    def start(self, parent: Any) -> None:
        self.server, _thread = start_http_server(self.port, registry=scraped_registry())
        log.info("worker metrics at http://0.0.0.0:%s/metrics", self.port)

    def stop(self, parent: Any) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def install(app: Celery, port: int | None) -> None:
    """Serve metrics on `port` while the worker runs; nothing when `port` is None."""
    if port is None:
        return
    app.conf[PORT_CONF] = port
    app.steps["worker"].add(MetricsServer)
    worker_process_shutdown.connect(_forget_exited_child, weak=False)


def _forget_exited_child(pid: int | None = None, **_: Any) -> None:
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid or os.getpid())
