"""The plugin tests' subprocess runner, for scenarios written inline."""

from tests.plugin.conftest import run  # noqa: F401  (a fixture)
