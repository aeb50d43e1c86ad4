"""Removing what a scenario desired, whatever happened in it.

The run shares one Diego, so every scenario leaves it as it found it, and under xdist each
shard removes only what it desired itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from pytest_diego.bbs import BBSClient
from pytest_diego.bbs.errors import BBSClientError, BBSError
from pytest_diego.pytest_support.diego import Diego


def remove_lrps(bbs: BBSClient, process_guids: Iterable[str]) -> None:
    """RemoveDesiredLRP for each; already gone is fine."""
    for guid in process_guids:
        with contextlib.suppress(BBSError):
            bbs.remove_desired_lrp(guid)


def resolve_tasks(bbs: BBSClient, task_guids: Iterable[str], cancel: bool = False) -> None:
    """What a Task's consumer does once it read the result: ResolvingTask then DeleteTask
    (``cancel``: CancelTask first, so a Task still pending or running is completed and removed)."""
    for guid in task_guids:
        if cancel:
            with contextlib.suppress(BBSError):
                bbs.cancel_task(guid)
        with contextlib.suppress(BBSError):
            bbs.resolving_task(guid)
        with contextlib.suppress(BBSError):
            bbs.delete_task(guid)


@contextlib.contextmanager
def cleanup(diego: Diego, process_guids: Iterable[str] = (),
            task_guids: Iterable[str] = ()) -> Iterator[None]:
    """Whatever happens inside, remove ``process_guids`` and cancel and delete ``task_guids`` at
    the end (the lists may grow while the block runs)."""
    try:
        yield
    finally:
        with contextlib.suppress(BBSError, BBSClientError), diego.client(timeout=10.0) as client:
            remove_lrps(client, process_guids)
            resolve_tasks(client, task_guids, cancel=True)
