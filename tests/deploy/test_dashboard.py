"""The Grafana dashboard charts every csbot series the processes export, and only those."""

from __future__ import annotations

import json
import re

from infra.metrics import REGISTRY
from infra.settings import REPO_ROOT

DASHBOARD = REPO_ROOT / "infra" / "deploy" / "grafana-dashboard.json"


def test_every_exported_series_has_a_panel_and_every_panel_a_series() -> None:
    exprs = " ".join(t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"])
    charted = {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in re.findall(r"csbot_[a-z_]+", exprs)}
    exported = {m.name for m in REGISTRY.collect()}
    assert charted == exported
