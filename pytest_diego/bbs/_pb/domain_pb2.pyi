from . import error_pb2 as _error_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DomainsResponse(_message.Message):
    __slots__ = ("error", "domains")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DOMAINS_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    domains: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., domains: _Optional[_Iterable[str]] = ...) -> None: ...

class UpsertDomainResponse(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ...) -> None: ...

class UpsertDomainRequest(_message.Message):
    __slots__ = ("domain", "ttl")
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    domain: str
    ttl: int
    def __init__(self, domain: _Optional[str] = ..., ttl: _Optional[int] = ...) -> None: ...
