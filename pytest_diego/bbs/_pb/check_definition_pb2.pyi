from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckDefinition(_message.Message):
    __slots__ = ("checks", "log_source", "readiness_checks")
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    LOG_SOURCE_FIELD_NUMBER: _ClassVar[int]
    READINESS_CHECKS_FIELD_NUMBER: _ClassVar[int]
    checks: _containers.RepeatedCompositeFieldContainer[Check]
    log_source: str
    readiness_checks: _containers.RepeatedCompositeFieldContainer[Check]
    def __init__(self, checks: _Optional[_Iterable[_Union[Check, _Mapping]]] = ..., log_source: _Optional[str] = ..., readiness_checks: _Optional[_Iterable[_Union[Check, _Mapping]]] = ...) -> None: ...

class Check(_message.Message):
    __slots__ = ("tcp_check", "http_check")
    TCP_CHECK_FIELD_NUMBER: _ClassVar[int]
    HTTP_CHECK_FIELD_NUMBER: _ClassVar[int]
    tcp_check: TCPCheck
    http_check: HTTPCheck
    def __init__(self, tcp_check: _Optional[_Union[TCPCheck, _Mapping]] = ..., http_check: _Optional[_Union[HTTPCheck, _Mapping]] = ...) -> None: ...

class TCPCheck(_message.Message):
    __slots__ = ("port", "connect_timeout_ms", "interval_ms")
    PORT_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    port: int
    connect_timeout_ms: int
    interval_ms: int
    def __init__(self, port: _Optional[int] = ..., connect_timeout_ms: _Optional[int] = ..., interval_ms: _Optional[int] = ...) -> None: ...

class HTTPCheck(_message.Message):
    __slots__ = ("port", "request_timeout_ms", "path", "interval_ms")
    PORT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    port: int
    request_timeout_ms: int
    path: str
    interval_ms: int
    def __init__(self, port: _Optional[int] = ..., request_timeout_ms: _Optional[int] = ..., path: _Optional[str] = ..., interval_ms: _Optional[int] = ...) -> None: ...
