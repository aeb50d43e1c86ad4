"""``ClientError``: the base the BBS and Locket clients' errors share.

pytest-xdist ships a failed test's exception between processes by pickling it. Exception's own
pickling calls ``__init__`` again with the message alone, which breaks the errors whose ``__init__``
takes more (``BBSError(type, message)``); this base rebuilds without ``__init__``, attributes and all.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """An error of one of the clients; ``outcome`` is the string its observer counts it under."""

    outcome = "ClientError"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), str(self), self.__dict__.copy()))


def _rebuild(cls: type[ClientError], message: str, state: dict[str, Any]) -> ClientError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error
