from . import error_pb2 as _error_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CellCapacity(_message.Message):
    __slots__ = ("memory_mb", "disk_mb", "containers")
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    DISK_MB_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    memory_mb: int
    disk_mb: int
    containers: int
    def __init__(self, memory_mb: _Optional[int] = ..., disk_mb: _Optional[int] = ..., containers: _Optional[int] = ...) -> None: ...

class CellPresence(_message.Message):
    __slots__ = ("cell_id", "rep_address", "zone", "capacity", "rootfs_providers", "placement_tags", "optional_placement_tags", "rep_url", "annotations")
    class AnnotationsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CELL_ID_FIELD_NUMBER: _ClassVar[int]
    REP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    ROOTFS_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_TAGS_FIELD_NUMBER: _ClassVar[int]
    OPTIONAL_PLACEMENT_TAGS_FIELD_NUMBER: _ClassVar[int]
    REP_URL_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    cell_id: str
    rep_address: str
    zone: str
    capacity: CellCapacity
    rootfs_providers: _containers.RepeatedCompositeFieldContainer[Provider]
    placement_tags: _containers.RepeatedScalarFieldContainer[str]
    optional_placement_tags: _containers.RepeatedScalarFieldContainer[str]
    rep_url: str
    annotations: _containers.ScalarMap[str, str]
    def __init__(self, cell_id: _Optional[str] = ..., rep_address: _Optional[str] = ..., zone: _Optional[str] = ..., capacity: _Optional[_Union[CellCapacity, _Mapping]] = ..., rootfs_providers: _Optional[_Iterable[_Union[Provider, _Mapping]]] = ..., placement_tags: _Optional[_Iterable[str]] = ..., optional_placement_tags: _Optional[_Iterable[str]] = ..., rep_url: _Optional[str] = ..., annotations: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Provider(_message.Message):
    __slots__ = ("name", "properties")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    properties: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., properties: _Optional[_Iterable[str]] = ...) -> None: ...

class CellsResponse(_message.Message):
    __slots__ = ("error", "cells")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    cells: _containers.RepeatedCompositeFieldContainer[CellPresence]
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., cells: _Optional[_Iterable[_Union[CellPresence, _Mapping]]] = ...) -> None: ...
