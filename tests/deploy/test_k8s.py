"""Every manifest in infra/deploy/k8s validates offline against the Kubernetes schemas
(kubernetes-validate bundles them), and holds what running the bot needs: a GPU for the LLM
server, migrations before web and workers start, probes, graceful shutdown, TLS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from infra.settings import REPO_ROOT

K8S = REPO_ROOT / "infra" / "deploy" / "k8s"
KUBERNETES = "1.33.0"
CRDS = {"keda.sh/v1alpha1"}  # custom resources: no bundled schema, checked field by field below


def documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in sorted(K8S.rglob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def by_kind(kind: str, name: str) -> dict[str, Any]:
    [doc] = [d for _, d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


@pytest.mark.parametrize("path,doc", documents(), ids=lambda v: f"{v['kind']}/{v['metadata']['name']}" if isinstance(v, dict) else v.name)
def test_manifest_validates_against_the_kubernetes_schema(path: Path, doc: dict[str, Any]) -> None:
    if doc["apiVersion"] in CRDS:
        pytest.skip(f"{doc['apiVersion']} is a CRD; see test_keda_scales_workers_on_the_inbound_queue")
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_no_volume_needs_read_write_many() -> None:
    """Intent models live in PostgreSQL; the only claim is the LLM server's weights."""
    claims = {d["metadata"]["name"]: d["spec"]["accessModes"] for _, d in documents() if d["kind"] == "PersistentVolumeClaim"}
    assert claims == {"csbot-llm-weights": ["ReadWriteOnce"]}
    for _, doc in documents():
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] != "csbot-llm":
            assert not doc["spec"]["template"]["spec"].get("volumes"), doc["metadata"]["name"]


def test_the_llm_server_takes_a_gpu_and_is_ready_on_its_health_endpoint() -> None:
    [container] = by_kind("Deployment", "csbot-llm")["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert "--enable-prefix-caching" in container["args"]


def test_web_and_workers_migrate_first_and_shut_down_gracefully() -> None:
    for name in ("csbot-web", "csbot-worker"):
        pod = by_kind("Deployment", name)["spec"]["template"]["spec"]
        assert pod["initContainers"][0]["command"] == ["csbot", "db", "upgrade"]
        assert pod["terminationGracePeriodSeconds"] >= 30
        assert by_kind("PodDisruptionBudget", name)["spec"]["minAvailable"] == 1
        [container] = pod["containers"]
        assert container["envFrom"] == [{"secretRef": {"name": "csbot"}}]
    [worker] = by_kind("Deployment", "csbot-worker")["spec"]["template"]["spec"]["containers"]
    assert worker["livenessProbe"]["exec"]["command"] == ["csbot", "worker-probe"]


def test_the_worker_keeps_its_default_generations_in_flight() -> None:
    """`--concurrency` caps the turns one worker holds at once; the default (LLM_MAX_CONCURRENCY)
    is sized for a GPU server, and a small number here would starve it."""
    [worker] = by_kind("Deployment", "csbot-worker")["spec"]["template"]["spec"]["containers"]
    assert worker["command"] == ["csbot", "worker"]


def test_ingress_has_a_class_and_tls() -> None:
    spec = by_kind("Ingress", "csbot")["spec"]
    assert spec["ingressClassName"]
    assert spec["tls"][0]["secretName"]


def test_keda_scales_workers_on_the_inbound_queue() -> None:
    scaled = by_kind("ScaledObject", "csbot-worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == by_kind("Deployment", "csbot-worker")["metadata"]["name"]
    redis = next(t for t in scaled["triggers"] if t["type"] == "redis")
    assert redis["metadata"]["listName"] == "inbound" and int(redis["metadata"]["listLength"]) > 0
    assert by_kind("HorizontalPodAutoscaler", "csbot-worker")["spec"]["scaleTargetRef"]["name"] == "csbot-worker"


def test_workers_serve_metrics_prometheus_is_told_to_scrape() -> None:
    template = by_kind("Deployment", "csbot-worker")["spec"]["template"]
    [worker] = template["spec"]["containers"]
    env = {e["name"]: e["value"] for e in worker["env"]}
    port = int(env["WORKER_METRICS_PORT"])
    assert {"name": "metrics", "containerPort": port} in worker["ports"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and int(annotations["prometheus.io/port"]) == port
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/csbot-metrics"  # created by the Dockerfile
    assert "install -d -o csbot /tmp/csbot-metrics" in (K8S.parent / "Dockerfile").read_text(encoding="utf-8")
