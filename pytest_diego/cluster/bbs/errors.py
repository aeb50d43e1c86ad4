"""In-band BBS errors: the ``Error`` a handler puts in its response, with Diego's messages.

Diego's BBS answers HTTP 200 and carries application errors in the response's ``error`` field;
handlers raise ``ModelError`` and the dispatcher turns it into that field.
"""

from __future__ import annotations

from typing import TypeVar

R = TypeVar("R")


class ModelError(Exception):
    """An application error answered in band, typed by Diego's ``Error.Type`` name."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message


def bad_request() -> ModelError:
    return ModelError("InvalidRequest", "the request received is invalid")


def invalid_fields(fields: list[str]) -> ModelError:
    """Diego's ValidationError text: ``Invalid field: a, Invalid field: b``."""
    return ModelError("InvalidRequest", ", ".join(f"Invalid field: {f}" for f in fields))


def exists() -> ModelError:
    return ModelError("ResourceExists", "the requested resource already exists")


def not_found() -> ModelError:
    return ModelError("ResourceNotFound", "the requested resource could not be found")


def found(record: R | None) -> R:
    """``record``, or Diego's ResourceNotFound when the lookup that gave it found nothing."""
    if record is None:
        raise not_found()
    return record


def cannot(verb: str) -> ModelError:
    """``cannot(\"claim\")`` -> ActualLRPCannotBeClaimed, \"cannot claim actual LRP\"."""
    participle = {"claim": "Claimed", "start": "Started", "crash": "Crashed", "fail": "Failed",
                  "remove": "Removed", "unclaim": "Unclaimed"}[verb]
    return ModelError(f"ActualLRPCannotBe{participle}", f"cannot {verb} actual LRP")


def task_transition(from_state: str, to_state: str) -> ModelError:
    return ModelError("InvalidStateTransition", f"Cannot transition from {from_state} to {to_state}")


def running_on_different_cell(expected: str, actual: str) -> ModelError:
    return ModelError("RunningOnDifferentCell", f"Running on cell {actual} not {expected}")
