"""The test suite's hooks; fixtures live in tests/plugins/, helpers in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest_plugins = [
    "tests.plugins.cluster",
    "tests.plugins.broker",
    "tests.plugins.users",
    "tests.plugins.isolation",
    "tests.plugins.browser",
    "tests.plugins.patroni",
]

# --- counting real-cluster tests for CI's summary line --------------------------------------------

_cluster_outcomes: dict[str, str] = {}


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if {"citus", "patroni_cluster"} & names:
            item.add_marker(pytest.mark.cluster)
        if "patroni_cluster" in names:
            item.add_marker(pytest.mark.patroni)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "cluster" not in report.keywords:
        return
    if report.when == "setup" and report.skipped:
        _cluster_outcomes[report.nodeid] = "skipped"
    elif report.when == "call":
        _cluster_outcomes[report.nodeid] = "skipped" if report.skipped else ("passed" if report.passed else "failed")
    elif report.failed:
        _cluster_outcomes[report.nodeid] = "failed"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    values = list(_cluster_outcomes.values())
    ran = sum(1 for v in values if v in ("passed", "failed"))
    line = (
        f"real-cluster tests: {ran} ran ({values.count('passed')} passed, {values.count('failed')} failed), "
        f"{values.count('skipped')} skipped"
    )
    terminalreporter.write_line(line)
    from tests.plugins import cluster as cluster_plugin

    if cluster_plugin.skip_reason:
        terminalreporter.write_line(f"real-cluster tests skipped because: {cluster_plugin.skip_reason}")
    summary = Path(terminalreporter.config.rootpath) / "var" / "cluster-tests.txt"
    summary.parent.mkdir(exist_ok=True)
    summary.write_text(line + "\n")
