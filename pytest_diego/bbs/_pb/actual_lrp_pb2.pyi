from . import modification_tag_pb2 as _modification_tag_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActualLRPGroup(_message.Message):
    __slots__ = ("instance", "evacuating")
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    EVACUATING_FIELD_NUMBER: _ClassVar[int]
    instance: ActualLRP
    evacuating: ActualLRP
    def __init__(self, instance: _Optional[_Union[ActualLRP, _Mapping]] = ..., evacuating: _Optional[_Union[ActualLRP, _Mapping]] = ...) -> None: ...

class PortMapping(_message.Message):
    __slots__ = ("container_port", "host_port", "container_tls_proxy_port", "host_tls_proxy_port")
    CONTAINER_PORT_FIELD_NUMBER: _ClassVar[int]
    HOST_PORT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_TLS_PROXY_PORT_FIELD_NUMBER: _ClassVar[int]
    HOST_TLS_PROXY_PORT_FIELD_NUMBER: _ClassVar[int]
    container_port: int
    host_port: int
    container_tls_proxy_port: int
    host_tls_proxy_port: int
    def __init__(self, container_port: _Optional[int] = ..., host_port: _Optional[int] = ..., container_tls_proxy_port: _Optional[int] = ..., host_tls_proxy_port: _Optional[int] = ...) -> None: ...

class ActualLRPKey(_message.Message):
    __slots__ = ("process_guid", "index", "domain")
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    process_guid: str
    index: int
    domain: str
    def __init__(self, process_guid: _Optional[str] = ..., index: _Optional[int] = ..., domain: _Optional[str] = ...) -> None: ...

class ActualLRPInstanceKey(_message.Message):
    __slots__ = ("instance_guid", "cell_id")
    INSTANCE_GUID_FIELD_NUMBER: _ClassVar[int]
    CELL_ID_FIELD_NUMBER: _ClassVar[int]
    instance_guid: str
    cell_id: str
    def __init__(self, instance_guid: _Optional[str] = ..., cell_id: _Optional[str] = ...) -> None: ...

class ActualLRPNetInfo(_message.Message):
    __slots__ = ("address", "ports", "instance_address", "preferred_address", "instance_ipv6_address")
    class PreferredAddress(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[ActualLRPNetInfo.PreferredAddress]
        INSTANCE: _ClassVar[ActualLRPNetInfo.PreferredAddress]
        HOST: _ClassVar[ActualLRPNetInfo.PreferredAddress]
    UNKNOWN: ActualLRPNetInfo.PreferredAddress
    INSTANCE: ActualLRPNetInfo.PreferredAddress
    HOST: ActualLRPNetInfo.PreferredAddress
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_IPV6_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: str
    ports: _containers.RepeatedCompositeFieldContainer[PortMapping]
    instance_address: str
    preferred_address: ActualLRPNetInfo.PreferredAddress
    instance_ipv6_address: str
    def __init__(self, address: _Optional[str] = ..., ports: _Optional[_Iterable[_Union[PortMapping, _Mapping]]] = ..., instance_address: _Optional[str] = ..., preferred_address: _Optional[_Union[ActualLRPNetInfo.PreferredAddress, str]] = ..., instance_ipv6_address: _Optional[str] = ...) -> None: ...

class ActualLRPInternalRoute(_message.Message):
    __slots__ = ("hostname",)
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    def __init__(self, hostname: _Optional[str] = ...) -> None: ...

class ActualLRP(_message.Message):
    __slots__ = ("actual_lrp_key", "actual_lrp_instance_key", "actual_lrp_net_info", "crash_count", "crash_reason", "state", "placement_error", "since", "modification_tag", "presence", "actual_lrp_internal_routes", "metric_tags", "routable", "availability_zone")
    class Presence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ORDINARY: _ClassVar[ActualLRP.Presence]
        EVACUATING: _ClassVar[ActualLRP.Presence]
        SUSPECT: _ClassVar[ActualLRP.Presence]
    ORDINARY: ActualLRP.Presence
    EVACUATING: ActualLRP.Presence
    SUSPECT: ActualLRP.Presence
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
    CRASH_COUNT_FIELD_NUMBER: _ClassVar[int]
    CRASH_REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_ERROR_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    MODIFICATION_TAG_FIELD_NUMBER: _ClassVar[int]
    PRESENCE_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_LRP_INTERNAL_ROUTES_FIELD_NUMBER: _ClassVar[int]
    METRIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    ROUTABLE_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_ZONE_FIELD_NUMBER: _ClassVar[int]
    actual_lrp_key: ActualLRPKey
    actual_lrp_instance_key: ActualLRPInstanceKey
    actual_lrp_net_info: ActualLRPNetInfo
    crash_count: int
    crash_reason: str
    state: str
    placement_error: str
    since: int
    modification_tag: _modification_tag_pb2.ModificationTag
    presence: ActualLRP.Presence
    actual_lrp_internal_routes: _containers.RepeatedCompositeFieldContainer[ActualLRPInternalRoute]
    metric_tags: _containers.ScalarMap[str, str]
    routable: bool
    availability_zone: str
    def __init__(self, actual_lrp_key: _Optional[_Union[ActualLRPKey, _Mapping]] = ..., actual_lrp_instance_key: _Optional[_Union[ActualLRPInstanceKey, _Mapping]] = ..., actual_lrp_net_info: _Optional[_Union[ActualLRPNetInfo, _Mapping]] = ..., crash_count: _Optional[int] = ..., crash_reason: _Optional[str] = ..., state: _Optional[str] = ..., placement_error: _Optional[str] = ..., since: _Optional[int] = ..., modification_tag: _Optional[_Union[_modification_tag_pb2.ModificationTag, _Mapping]] = ..., presence: _Optional[_Union[ActualLRP.Presence, str]] = ..., actual_lrp_internal_routes: _Optional[_Iterable[_Union[ActualLRPInternalRoute, _Mapping]]] = ..., metric_tags: _Optional[_Mapping[str, str]] = ..., routable: _Optional[bool] = ..., availability_zone: _Optional[str] = ...) -> None: ...
