"""Fixtures for the BBS client tests: a recording BBS stand-in and a per-session PKI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bbs_fakeserver import PKI, make_pki, serve

from tests.support.stub_server import StubServer


@pytest.fixture
def fake_bbs() -> Iterator[StubServer]:
    with serve() as bbs:
        yield bbs


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))
