"""Bounded HTTP GETs for samplers and probes: a total deadline, never a hang.

``requests``' ``timeout`` bounds each socket read, so an endpoint that trickles bytes could hold
a sampler forever; here the whole body must arrive within ``timeout`` and stay under a size cap.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import requests
import urllib3

MAX_BODY = 32 * 1024 * 1024


class EndpointError(Exception):
    """An endpoint was unreachable, too slow, or answered something unreadable.

    ``kind`` is the outcome name probes record: ``"Timeout"``, ``"ConnectionError"`` or
    ``"BadResponse"``.
    """

    def __init__(self, message: str, kind: str = "BadResponse") -> None:
        super().__init__(message)
        self.kind = kind


def get(session: requests.Session, url: str, timeout: float,
        **kwargs: Any) -> tuple[requests.Response, bytes]:
    """GET ``url``; the response and its whole body, within ``timeout`` seconds in total.

    The body is read with ``read1`` (whatever has arrived, at most 64 KiB), so the deadline is
    checked after every few bytes: ``iter_content`` would wait for a whole 64 KiB chunk, which an
    endpoint sending a byte every second takes most of a day to fill.
    """
    deadline = time.monotonic() + timeout
    try:
        with session.get(url, timeout=timeout, stream=True, **kwargs) as response:
            body = bytearray()
            for chunk in _chunks(response):
                body += chunk
                if len(body) > MAX_BODY:
                    raise EndpointError(f"{url} sent more than {MAX_BODY} bytes; is it the right URL?")
                if time.monotonic() > deadline:
                    raise EndpointError(f"{url} did not finish its answer within {timeout:g} s", "Timeout")
            return response, bytes(body)
    except (requests.Timeout, urllib3.exceptions.TimeoutError) as e:
        raise EndpointError(f"{url} did not answer within {timeout:g} s (timeout); is the "
                            "component alive and not paused?", "Timeout") from e
    except requests.exceptions.SSLError as e:
        raise EndpointError(f"TLS with {url} failed: {e}; check the CA certificate, and the client "
                            "certificate and key if it requires mutual TLS", "ConnectionError") from e
    except requests.ConnectionError as e:
        raise EndpointError(f"cannot connect to {url}: {e}; is the component running and "
                            "the address right?", "ConnectionError") from e
    except (requests.RequestException, urllib3.exceptions.HTTPError) as e:
        raise EndpointError(f"request to {url} failed: {e}") from e


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives (decoded if compressed), until its end."""
    raw = response.raw
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # an adapter without urllib3 >= 2.3 underneath
        yield from response.iter_content(65536)
        return
    while True:
        chunk = read1(65536, decode_content=True)
        if not chunk:
            return
        yield chunk
