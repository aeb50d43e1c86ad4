"""The package says only what CI runs: its Python versions and operating system, in
``requires-python``, the classifiers and the README alike."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
README = (ROOT / "README.md").read_text()


def classified_pythons() -> set[str]:
    return {m.group(1) for c in PROJECT["classifiers"]
            if (m := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c))}


def test_requires_python_allows_exactly_the_classified_versions_and_this_one():
    allowed = SpecifierSet(PROJECT["requires-python"])
    candidates = {f"3.{minor}" for minor in range(8, 20)}
    assert {v for v in candidates if f"{v}.0" in allowed} == classified_pythons()
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert running in classified_pythons(), "CI runs a Python the package does not declare"


def test_the_readme_names_the_same_python_and_operating_system():
    for version in classified_pythons():
        assert f"Python {version}" in README
    assert "Operating System :: POSIX :: Linux" in PROJECT["classifiers"] and "On Linux" in README
