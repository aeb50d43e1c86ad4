"""The perf suites' shared configuration: lets modules derive bounds from the run's timing, and
the ini options that describe the work to run on a real Diego (rootfs, commands)."""

from __future__ import annotations

import _support
import pytest

PERF_INI = {
    "perf_rootfs": "rootfs of every Task and LRP the suites desire (default preloaded:cflinuxfs4)",
    "perf_lrp_command": "command an LRP instance runs: an HTTP server on $PORT answering GET / with "
                        "JSON carrying its instance_guid (the embedded cells do this themselves)",
    "perf_task_command": "command a Task runs (default: fezzik's 'echo <task_guid> > /tmp/output')",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, help in PERF_INI.items():
        parser.addini(name, help, default=None)
    parser.addoption("--soak-duration", default=None, metavar="DURATION",
                     help="perf_suites: how long the fill-capacity scenario holds the full cluster "
                          "(e.g. 30s, 10m, 2h; default 20s at time scale 0.1, i.e. 200s of Diego time)")


def pytest_configure(config: pytest.Config) -> None:
    _support.configure(config)
