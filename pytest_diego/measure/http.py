"""Bounded HTTP GETs for samplers and probes: a total deadline, never a hang.

``requests``' ``timeout`` bounds each socket read, so an endpoint that trickles bytes could hold
a sampler forever; here the whole body must arrive within ``timeout`` and stay under a size cap.
"""

from __future__ import annotations

import time
from typing import Any

import requests

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
    """GET ``url``; the response and its whole body, within ``timeout`` seconds in total."""
    deadline = time.monotonic() + timeout
    try:
        with session.get(url, timeout=timeout, stream=True, **kwargs) as response:
            body = bytearray()
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > MAX_BODY:
                    raise EndpointError(f"{url} sent more than {MAX_BODY} bytes; is it the right URL?")
                if time.monotonic() > deadline:
                    raise EndpointError(f"{url} did not finish its answer within {timeout:g} s", "Timeout")
            return response, bytes(body)
    except requests.Timeout as e:
        raise EndpointError(f"{url} did not answer within {timeout:g} s (timeout); is the "
                            "component alive and not paused?", "Timeout") from e
    except requests.ConnectionError as e:
        raise EndpointError(f"cannot connect to {url}: {e}; is the component running and "
                            "the address right?", "ConnectionError") from e
    except requests.RequestException as e:
        raise EndpointError(f"request to {url} failed: {e}") from e
