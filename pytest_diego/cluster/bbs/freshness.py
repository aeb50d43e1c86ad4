"""Domains: the record the BBS keeps by TTL, written as Diego does it.

A domain is fresh until its TTL runs out (Diego's ``UpsertDomain``). It is changed in memory under
the state lock, queued for the store in the same critical section, and answered after the commit.
(Cells are present while Locket holds their presences: ``cells.py``.)
"""

from __future__ import annotations

import time

from pytest_diego.cluster.bbs import validation
from pytest_diego.cluster.bbs.core import Core
from pytest_diego.cluster.bbs.schema import UPSERT_DOMAIN
from pytest_diego.cluster.bbs.state import Tx


def upsert_domain(core: Core, domain: str, ttl: int) -> None:
    validation.required(domain=domain)
    # The TTL is the caller's, in real seconds (not an interval of ours: not time-scaled).
    expires_at = time.time() + ttl if ttl else None
    state = core.state
    with state.lock:
        state.domains[domain] = expires_at
        pending = core.commit(Tx(ops=[(UPSERT_DOMAIN, (domain, expires_at))]))
    pending.wait()
    core.logger.info("upsert-domain.complete", domain=domain, ttl=ttl)
