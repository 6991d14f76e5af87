"""The benchmarks still run end to end (tiny sizes) and print their same-run ratios; the numbers
themselves are for people, not assertions (this machine is shared and noisy)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import require_services
from tests.test_cli import ROOT

RATIO = re.compile(r"^ratio .+: \d+(\.\d+)?x?$", re.MULTILINE)


def run_bench(module: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_webhook_benchmark_prints_its_ratio() -> None:
    output = run_bench("infra.bench.webhook", "--requests", "20")
    assert RATIO.search(output), output


def test_the_masking_benchmark_masks_the_secrets_and_prints_its_ratio() -> None:
    output = run_bench("infra.bench.masking", "--rounds", "2")
    assert RATIO.search(output), output
    assert re.search(r"with_secrets=[1-9]", output), output  # the masked corpus really holds secrets


def test_the_webhook_benchmark_measures_slack_through_bolt() -> None:
    output = run_bench("infra.bench.webhook", "--requests", "20", "--channel", "slack")
    assert "channel=slack" in output and RATIO.search(output), output


def test_the_pipeline_benchmark_prints_its_ratios() -> None:
    require_services()  # Redis and a Celery worker are part of what it measures
    output = run_bench("infra.bench.pipeline", "--messages", "5", "--llm-latency", "0", "--workers", "2")
    assert len(RATIO.findall(output)) == 2, output
    assert "workers=2" in output and re.search(r"worker RSS \d+ \+ \d+ MiB before", output), output


def test_the_streaming_benchmark_shows_partials_and_prints_its_ratio() -> None:
    output = run_bench("infra.bench.streaming", "--messages", "1", "--seconds", "1.5", "--words", "12", "--first-token", "0.1")
    assert RATIO.search(output), output
    assert "messages per chat [1]" in output, output  # the final edited the partial, no second message
