"""A local HTTP(S) server whose answers each test scripts (a router, a /metrics endpoint)."""

from collections.abc import Iterator

import pytest

from tests.support.stub_server import StubServer


@pytest.fixture
def server() -> Iterator[StubServer]:
    with StubServer() as s:
        yield s
