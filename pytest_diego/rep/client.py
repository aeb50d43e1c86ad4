"""``RepClient``: the calls Diego's auctioneer and BBS make to reps (``rep.Client``), over one pool
of keep-alive connections, plain HTTP or mutual TLS (a client certificate signed by the CA the
reps trust, the reps' certificates checked against ``ca_file``).

    client = RepClient(ca_file="ca.crt", cert_file="client.crt", key_file="client.key")
    state = client.state(cell.rep_url)               # GET /state -> CellState
    failed = client.perform(cell.rep_url, work)      # POST /work -> the Work that failed
    client.stop_lrp_instance(rep_url, process_guid, instance_guid)
    client.cancel_task(rep_url, task_guid)
    client.update_lrp_instance(rep_url, update)

Statuses are Diego's: ``/state`` and ``/work`` answer 200; stop, cancel and update answer 202.
Anything else raises ``RepError`` naming the URL and the status.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import urllib3

from pytest_diego.rep.models import CellState, LRPUpdate, RepJSONError, Work, encode

CIPHERS = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
"""Diego's internal-service ciphers (tlsconfig), on both sides of a rep connection."""


class RepError(RuntimeError):
    """A rep could not be reached, or answered with a status Diego's rep client refuses."""


def client_context(ca_file: str | Path, cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """A client's TLS for reps: TLS >= 1.2, Diego's ciphers, our certificate, theirs verified."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CIPHERS)
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


class RepClient:
    """Thread-safe; one connection pool per rep address."""

    def __init__(self, *, ca_file: str | Path | None = None, cert_file: str | Path | None = None,
                 key_file: str | Path | None = None, timeout: float = 10.0, pools: int = 1024) -> None:
        files = (ca_file, cert_file, key_file)
        if any(files) and not all(files):
            raise ValueError("mutual TLS with reps needs ca_file, cert_file and key_file (or none)")
        self.tls = all(files)
        self.timeout = timeout
        context = client_context(*files) if self.tls else None  # type: ignore[arg-type]
        self._http = urllib3.PoolManager(num_pools=pools, maxsize=4, retries=False, ssl_context=context)

    def _request(self, method: str, url: str, body: bytes | None = None, expect: int = 200) -> bytes:
        try:
            response = self._http.request(method, url, body=body, timeout=self.timeout,
                                          headers={"Content-Type": "application/json"} if body else None)
        except urllib3.exceptions.HTTPError as e:
            raise RepError(f"{method} {url}: {e}") from e
        if response.status != expect:
            raise RepError(f"{method} {url} answered {response.status}, not {expect}")
        return response.data

    def state(self, rep_url: str) -> CellState:
        data = self._request("GET", f"{_base(rep_url)}/state")
        try:
            return CellState.from_json(json.loads(data))
        except (ValueError, RepJSONError) as e:
            raise RepError(f"GET {_base(rep_url)}/state: not a rep's CellState: {e}") from e

    def perform(self, rep_url: str, work: Work) -> Work:
        data = self._request("POST", f"{_base(rep_url)}/work", encode(work.to_json()))
        try:
            return Work.from_json(json.loads(data))
        except (ValueError, RepJSONError) as e:
            raise RepError(f"POST {_base(rep_url)}/work: not a rep's Work: {e}") from e

    def stop_lrp_instance(self, rep_url: str, process_guid: str, instance_guid: str) -> None:
        self._request("POST", f"{_base(rep_url)}/v1/lrps/{process_guid}/instances/{instance_guid}/stop",
                      b"", expect=202)

    def cancel_task(self, rep_url: str, task_guid: str) -> None:
        self._request("POST", f"{_base(rep_url)}/v1/tasks/{task_guid}/cancel", b"", expect=202)

    def update_lrp_instance(self, rep_url: str, update: LRPUpdate) -> None:
        path = f"/v2/lrps/{update.process_guid}/instances/{update.instance_guid}"
        self._request("PUT", f"{_base(rep_url)}{path}", encode(update.to_json()), expect=202)

    def close(self) -> None:
        self._http.clear()

    def __enter__(self) -> RepClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _base(rep_url: str) -> str:
    return rep_url.rstrip("/")
