from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TypeCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[TypeCode]
    LOCK: _ClassVar[TypeCode]
    PRESENCE: _ClassVar[TypeCode]
UNKNOWN: TypeCode
LOCK: TypeCode
PRESENCE: TypeCode

class Resource(_message.Message):
    __slots__ = ("key", "owner", "value", "type", "type_code")
    KEY_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    key: str
    owner: str
    value: str
    type: str
    type_code: TypeCode
    def __init__(self, key: _Optional[str] = ..., owner: _Optional[str] = ..., value: _Optional[str] = ..., type: _Optional[str] = ..., type_code: _Optional[_Union[TypeCode, str]] = ...) -> None: ...

class LockRequest(_message.Message):
    __slots__ = ("resource", "ttl_in_seconds")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    TTL_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    ttl_in_seconds: int
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., ttl_in_seconds: _Optional[int] = ...) -> None: ...

class LockResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("resource",)
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class FetchResponse(_message.Message):
    __slots__ = ("resource",)
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ...) -> None: ...

class FetchAllRequest(_message.Message):
    __slots__ = ("type", "type_code")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TYPE_CODE_FIELD_NUMBER: _ClassVar[int]
    type: str
    type_code: TypeCode
    def __init__(self, type: _Optional[str] = ..., type_code: _Optional[_Union[TypeCode, str]] = ...) -> None: ...

class FetchAllResponse(_message.Message):
    __slots__ = ("resources",)
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    resources: _containers.RepeatedCompositeFieldContainer[Resource]
    def __init__(self, resources: _Optional[_Iterable[_Union[Resource, _Mapping]]] = ...) -> None: ...
