"""infra/deploy/compose.yaml: each LLM profile brings one server the bot reaches as `llm:8000`.

The file is read as Compose would resolve it (anchors and `<<` merges through PyYAML) to check
what each profile must hold, and rendered by `docker-compose` (which CI installs) once per
profile, so Compose's own schema validates it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "infra" / "deploy" / "compose.yaml"
SERVERS = {"gpu": "vllm", "tgi": "tgi", "cpu": "llamacpp"}


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_every_profile_has_one_llm_server_answering_as_llm() -> None:
    services = compose()["services"]
    for profile, name in SERVERS.items():
        in_profile = [n for n, s in services.items() if profile in s.get("profiles", [])]
        assert in_profile == [name], profile
        server = services[name]
        assert server["networks"]["default"]["aliases"] == ["llm"]
        assert any("8000" in str(part) for part in server["command"])
        assert "/health" in " ".join(server["healthcheck"]["test"])
        assert server["volumes"][0].startswith("llmweights:")


def test_gpu_servers_reserve_a_gpu_and_cache_prefixes() -> None:
    services = compose()["services"]
    for name in ("vllm", "tgi"):
        [device] = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert device["capabilities"] == ["gpu"] and device["count"] == 1
    assert "--enable-prefix-caching" in services["vllm"]["command"]
    assert services["tgi"]["environment"]["PREFIX_CACHING"] == "1"
    assert any(part.startswith("--cache-reuse") for part in services["llamacpp"]["command"])


def test_the_bot_is_wired_to_the_llm_and_waits_for_the_migration() -> None:
    services = compose()["services"]
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["LLM_BASE_URL"] == "http://llm:8000"
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "volumes" not in services[name]  # intent models live in PostgreSQL
    assert not any("profiles" in services[n] for n in ("web", "worker", "postgres", "redis", "migrate"))


def test_the_worker_serves_metrics_on_its_port() -> None:
    worker = compose()["services"]["worker"]
    port = worker["environment"]["WORKER_METRICS_PORT"]
    assert worker["expose"] == [port]
    assert worker["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/csbot-metrics"
    assert worker["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")  # the shared settings merged in


def test_the_worker_keeps_its_default_generations_in_flight() -> None:
    """No `--concurrency` below LLM_MAX_CONCURRENCY, sized for a GPU server: 4 would starve it."""
    assert compose()["services"]["worker"]["command"] == ["csbot", "worker"]


@pytest.fixture
def docker_compose() -> str:
    """The `docker-compose` binary; CI installs it (.ci/run) and sets CSBOT_REQUIRE_COMPOSE=1."""
    found = shutil.which("docker-compose")
    if found is None:
        if os.environ.get("CSBOT_REQUIRE_COMPOSE") == "1":
            pytest.fail("docker-compose is not installed (CSBOT_REQUIRE_COMPOSE=1): apt-get install docker-compose")
        pytest.skip("docker-compose is not installed")
    return found


@pytest.mark.parametrize("profile", sorted(SERVERS))
def test_compose_renders_each_profile(profile: str, docker_compose: str, tmp_path: Path) -> None:
    """Compose itself validates and resolves the file; the .env it reads is the example's."""
    deploy = tmp_path / "infra" / "deploy"
    deploy.mkdir(parents=True)
    shutil.copy(COMPOSE, deploy / COMPOSE.name)
    shutil.copy(COMPOSE.with_name("env.example"), tmp_path / ".env")
    result = subprocess.run([docker_compose, "-f", str(deploy / COMPOSE.name), "--profile", profile, "config"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert services[SERVERS[profile]]["profiles"] == [profile]
    worker = services["worker"]["environment"]
    assert worker["LLM_BASE_URL"] == "http://llm:8000" and worker["WORKER_METRICS_PORT"] == "9108"
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
