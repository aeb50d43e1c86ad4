"""Fixtures for the BBS client tests: a recording fake BBS and a per-session PKI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bbs_fakeserver import PKI, FakeBBS, make_pki, serve


@pytest.fixture
def fake_bbs() -> Iterator[FakeBBS]:
    with serve() as bbs:
        yield bbs


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))
