"""docs/options.md lists every option with the help text `pytest --help` shows, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pytest_diego.pytest_support.options import FAULT_COMMANDS, add_options

DOC = Path(__file__).resolve().parents[2] / "docs" / "options.md"


class _Group:
    def __init__(self) -> None:
        self.options: list[tuple[str, dict[str, Any]]] = []

    def addoption(self, name: str, **kwargs: Any) -> None:
        self.options.append((name, kwargs))


class _Parser:
    def __init__(self) -> None:
        self.group = _Group()

    def getgroup(self, *args: Any) -> _Group:
        return self.group

    def addini(self, *args: Any, **kwargs: Any) -> None:
        pass


def registered() -> dict[str, str]:
    parser = _Parser()
    add_options(parser)  # type: ignore[arg-type]
    options = {name: kwargs["help"].replace("%%", "%") for name, kwargs in parser.group.options}
    options.update({f"diego_{kind}_command": help for kind, help in FAULT_COMMANDS.items()})
    return options


def test_every_option_is_documented_with_its_help_text():
    doc = DOC.read_text()
    missing = [name for name, help in registered().items() if help not in doc]
    assert missing == [], f"update docs/options.md: {missing}"


def test_the_doc_lists_no_option_that_does_not_exist():
    listed = set(re.findall(r"`(--diego-[a-z-]+|diego_[a-z_]+_command)", DOC.read_text()))
    assert listed <= set(registered())
