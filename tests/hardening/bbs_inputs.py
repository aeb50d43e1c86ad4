"""Inputs for fuzzing the embedded BBS: a raw HTTP/1.1 exchange, and a wire-valid example of
every route's request message (every field set, guids prefixed ``fuzz-`` so no mutation of them
can name a record seeded before the fuzzing)."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from pytest_diego.bbs import models
from pytest_diego.workload.builders import desired_lrp, task_definition


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class ProtocolViolation(AssertionError):
    """The server answered with something that is not a well-formed HTTP/1.1 response."""


def exchange(port: int, method: str, path: str, body: bytes, headers: dict[str, str] | None = None,
             timeout: float = 10.0, stream: bool = False) -> RawResponse | None:
    """Send one request on a new connection and read one response. ``None`` when the server
    closed the connection without answering (allowed only for requests it cannot read)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    sent = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    head += "".join(f"{k}: {v}\r\n" for k, v in sent.items() if v is not None) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head.encode("latin-1") + body)
        reader = sock.makefile("rb")
        try:
            status_line = reader.readline(65536)
        except ConnectionResetError:
            return None
        if not status_line:
            return None
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolViolation(f"malformed status line {status_line[:100]!r} for {method} {path}")
        got: dict[str, str] = {}
        while True:
            line = reader.readline(65536)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ProtocolViolation(f"headers cut off for {method} {path}")
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise ProtocolViolation(f"malformed header line {line[:100]!r}")
            got[name.strip().lower()] = value.strip()
        if stream or "chunked" in got.get("transfer-encoding", ""):
            return RawResponse(int(parts[1]), got, b"")
        if "content-length" not in got:
            raise ProtocolViolation(f"no Content-Length in the answer to {method} {path}")
        length = int(got["content-length"])
        data = reader.read(length)
        if len(data) != length:
            raise ProtocolViolation(f"body cut off: {len(data)} of {length} bytes for {method} {path}")
        return RawResponse(int(parts[1]), got, data)


def filled(message_type: type[Message], depth: int = 0) -> Message:
    """An instance of ``message_type`` with every field set (nested messages to depth 3)."""
    message = message_type()
    for field in message.DESCRIPTOR.fields:
        _fill(message, field, depth)
    return message


def _scalar(field: FieldDescriptor) -> object:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return f"fuzz-{field.name}"
    if t == FieldDescriptor.TYPE_BYTES:
        return f"fuzz-{field.name}".encode()
    if t == FieldDescriptor.TYPE_BOOL:
        return True
    if t == FieldDescriptor.TYPE_ENUM:
        values = field.enum_type.values
        return values[min(1, len(values) - 1)].number
    if t in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return 1.5
    return 1


def _fill(message: Message, field: FieldDescriptor, depth: int) -> None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if depth >= 3:
            return
        if field.message_type.GetOptions().map_entry:
            key_field, value_field = field.message_type.fields_by_name["key"], \
                field.message_type.fields_by_name["value"]
            container = getattr(message, field.name)
            key = _scalar(key_field)
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                container[key].CopyFrom(filled(value_field.message_type._concrete_class, depth + 1))
            else:
                container[key] = _scalar(value_field)
            return
        child = filled(field.message_type._concrete_class, depth + 1)
        if _is_repeated(field):
            getattr(message, field.name).add().CopyFrom(child)
        else:
            getattr(message, field.name).CopyFrom(child)
        return
    value = _scalar(field)
    if _is_repeated(field):
        getattr(message, field.name).append(value)
    else:
        setattr(message, field.name, value)


def _is_repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)
    if repeated is not None:
        return bool(repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED


def valid_examples(name: str, request_type: type[Message] | None) -> list[bytes]:
    """Wire-valid bodies for a route: every field set, and for the desire routes a request the
    BBS accepts (so mutations start from messages that reach the operation, not just decoding)."""
    if request_type is None:
        return [b""]
    examples = [filled(request_type).SerializeToString()]
    if name == "DesireDesiredLRP":
        examples.append(models.DesireLRPRequest(desired_lrp=desired_lrp("fuzz-lrp")).SerializeToString())
    if name == "DesireTask":
        examples.append(models.DesireTaskRequest(task_guid="fuzz-task", domain="fuzz",
                                                 task_definition=task_definition()).SerializeToString())
    return examples
