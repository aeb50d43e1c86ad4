from . import actions_pb2 as _actions_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Sidecar(_message.Message):
    __slots__ = ("action", "disk_mb", "memory_mb")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DISK_MB_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    action: _actions_pb2.Action
    disk_mb: int
    memory_mb: int
    def __init__(self, action: _Optional[_Union[_actions_pb2.Action, _Mapping]] = ..., disk_mb: _Optional[int] = ..., memory_mb: _Optional[int] = ...) -> None: ...
