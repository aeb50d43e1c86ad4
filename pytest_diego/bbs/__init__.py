"""The Diego BBS API: wire models with Diego's field numbers, the client, and its event streams."""

from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.events import Event, EventStream

__all__ = ["BBSClient", "Event", "EventStream", "models"]
