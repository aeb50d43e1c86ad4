"""The real formats recorded in ``fixtures/`` (see its README), and the header a router's or a
metrics endpoint's basic auth expects. A plain module, not the conftest, so that tests import it
by a name no other folder uses."""

from __future__ import annotations

import base64
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
