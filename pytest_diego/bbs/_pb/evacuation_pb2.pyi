from . import actual_lrp_pb2 as _actual_lrp_pb2
from . import error_pb2 as _error_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EvacuationResponse(_message.Message):
    __slots__ = ("error", "keep_container")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    KEEP_CONTAINER_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    keep_container: bool
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ..., keep_container: _Optional[bool] = ...) -> None: ...

class EvacuateClaimedActualLRPRequest(_message.Message):
    __slots__ = ("actual_lrp_key", "actual_lrp_instance_key")
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ...) -> None: ...

class EvacuateRunningActualLRPRequest(_message.Message):
    __slots__ = ("actual_lrp_key", "actual_lrp_instance_key", "actual_lrp_net_info", "actual_lrp_internal_routes", "metric_tags", "Routable", "availability_zone")
    class MetricTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_NET_INFO_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INTERNAL_ROUTES_FIELD_NUMBER: _ClassVar[int]
    METRIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    ROUTABLE_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_ZONE_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    actual_lrp_net_info: _actual_lrp_pb2.ActualLRPNetInfo
    actual_lrp_internal_routes: _containers.RepeatedCompositeFieldContainer[_actual_lrp_pb2.ActualLRPInternalRoute]
    metric_tags: _containers.ScalarMap[str, str]
    Routable: bool
    availability_zone: str
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ..., actual_lrp_net_info: _Optional[_Union[_actual_lrp_pb2.ActualLRPNetInfo, _Mapping]] = ..., actual_lrp_internal_routes: _Optional[_Iterable[_Union[_actual_lrp_pb2.ActualLRPInternalRoute, _Mapping]]] = ..., metric_tags: _Optional[_Mapping[str, str]] = ..., Routable: _Optional[bool] = ..., availability_zone: _Optional[str] = ...) -> None: ...

class EvacuateStoppedActualLRPRequest(_message.Message):
    __slots__ = ("actual_lrp_key", "actual_lrp_instance_key")
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ...) -> None: ...

class EvacuateCrashedActualLRPRequest(_message.Message):
    __slots__ = ("actual_lrp_key", "actual_lrp_instance_key", "error_message")
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    error_message: str
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ..., error_message: _Optional[str] = ...) -> None: ...

class RemoveEvacuatingActualLRPRequest(_message.Message):
    __slots__ = ("actual_lrp_key", "actual_lrp_instance_key")
    ACTUAL_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INSTANCE_KEY_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: _actual_lrp_pb2.ActualLRPKey
    actual_lrp_instance_key: _actual_lrp_pb2.ActualLRPInstanceKey
    def __init__(self, actual_lrp_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPKey, _Mapping]] = ..., actual_lrp_instance_key: _Optional[_Union[_actual_lrp_pb2.ActualLRPInstanceKey, _Mapping]] = ...) -> None: ...

class RemoveEvacuatingActualLRPResponse(_message.Message):
    __slots__ = ("error",)
    ERROR_FIELD_NUMBER: _ClassVar[int]
    error: _error_pb2.Error
    def __init__(self, error: _Optional[_Union[_error_pb2.Error, _Mapping]] = ...) -> None: ...
