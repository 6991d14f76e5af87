"""The dependency arrows of the layout: bots → {channels, workers, infra} → core.

import-linter checks the contracts in pyproject.toml against the real import graph; the second
test proves the check bites by adding a forbidden import to a copy of the tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "channels", "workers", "infra", "bots")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--no-cache"], cwd=cwd, capture_output=True, text=True, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_dependency_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken" in result.stdout


def copy_tree(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.csv", "*.md"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_core_importing_infra_is_caught(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tree / "core" / "engine.py").write_text((tree / "core" / "engine.py").read_text() + "\nimport infra.settings\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "core is the domain" in result.stdout and "BROKEN" in result.stdout


def test_channels_importing_workers_is_caught(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tree / "channels" / "console.py").write_text((tree / "channels" / "console.py").read_text() + "\nimport workers.jobs\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "channels and workers meet only through core ports" in result.stdout
