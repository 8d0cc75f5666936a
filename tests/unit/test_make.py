"""`make run` installs what the product needs to run, and no development tool; `make test`
adds the development extras and the Debian packages of the real clients the tests drive."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_TOOLS = {
    "pytest",
    "pytest-asyncio",
    "hypothesis",
    "schemathesis",
    "ruff",
    "mypy",
    "testcontainers",
    "confluent-kafka",
    "openpyxl",
    "import-linter",
}


def planned(target: str) -> str:
    """What `make TARGET` would run on a fresh machine (dry run, every rule out of date)."""
    make = shutil.which("make")
    assert make is not None
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    out = subprocess.run(
        [make, "--no-print-directory", "-n", "-B", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout


def names(requirements: list[str]) -> set[str]:
    """Package names of requirement strings."""
    return {re.split(r"[\[=<>~!; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_make_run_installs_the_runtime_only() -> None:
    plan = planned("run")
    assert "pip install --quiet -e ." in plan
    assert "[dev]" not in plan
    assert "install-test-packages" not in plan
    assert plan.strip().endswith(".venv/bin/contacts up")


def test_make_test_installs_the_dev_extras_and_the_test_packages() -> None:
    plan = planned("test")
    assert "pip install --quiet -e '.[dev]'" in plan
    assert "install-test-packages.sh deploy/test-packages.txt" in plan
    listed = (ROOT / "deploy/test-packages.txt").read_text().split()
    assert "libreoffice-calc-nogui" in listed


def test_the_runtime_dependencies_hold_no_development_tool() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = names(project["dependencies"])
    dev = names(project["optional-dependencies"]["dev"])
    assert runtime & DEV_TOOLS == set()
    assert dev >= DEV_TOOLS
