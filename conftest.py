"""Repo-wide test configuration: pytester for end-to-end plugin tests, the tests' PostgreSQL server,
hypothesis profiles."""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["pytester", "tests.support.postgres"]

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
