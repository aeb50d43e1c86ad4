"""Other pytest plugins in the same environment have no say in the project's suites: Locust's,
which the bench extra (pip install -e '.[bench]') brings into every run, is switched off by
``-p no:locust`` in the project's and perf_suites' addopts."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import pytest

def test_locust_plugin_is_not_active(request):
    assert not request.config.pluginmanager.has_plugin("locust")
    with pytest.raises(pytest.FixtureLookupError):
        request.getfixturevalue("fastsession")  # one of Locust's fixtures
"""

pytestmark = pytest.mark.skipif(
    not any(ep.name == "locust" for ep in entry_points(group="pytest11")),
    reason="Locust is not installed, so there is no plugin of its to switch off "
           "(pip install -e '.[bench]' installs it)")


def _plugins_line(result: pytest.RunResult) -> str:
    return next(line for line in result.outlines if line.startswith("plugins:"))


@pytest.mark.parametrize("config", ["pyproject.toml", "perf_suites/pytest.ini"])
def test_locust_plugin_is_off_under_the_projects_configuration(pytester, run, config):
    pytester.makepyfile(test_probe=PROBE)
    # without the project's configuration, Locust's plugin is active in this environment
    bare = run("test_probe.py")
    bare.assert_outcomes(failed=1)
    assert "locust-" in _plugins_line(bare)

    configured = run("-c", str(ROOT / config), "--rootdir", str(pytester.path), "test_probe.py")
    configured.assert_outcomes(passed=1)
    assert "locust" not in _plugins_line(configured)
    assert "diego-" in _plugins_line(configured)
    # nor in xdist's workers, which read the same configuration
    run("-c", str(ROOT / config), "--rootdir", str(pytester.path), "-n", "2", "test_probe.py") \
        .assert_outcomes(passed=1)
