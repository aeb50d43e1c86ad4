from . import actions_pb2 as _actions_pb2
from . import cached_dependency_pb2 as _cached_dependency_pb2
from . import certificate_properties_pb2 as _certificate_properties_pb2
from . import environment_variables_pb2 as _environment_variables_pb2
from . import modification_tag_pb2 as _modification_tag_pb2
from . import network_pb2 as _network_pb2
from . import security_group_pb2 as _security_group_pb2
from . import volume_mount_pb2 as _volume_mount_pb2
from . import check_definition_pb2 as _check_definition_pb2
from . import image_layer_pb2 as _image_layer_pb2
from . import metric_tags_pb2 as _metric_tags_pb2
from . import sidecar_pb2 as _sidecar_pb2
from . import log_rate_limit_pb2 as _log_rate_limit_pb2
from . import file_pb2 as _file_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DesiredLRPSchedulingInfo(_message.Message):
    __slots__ = ("desired_lrp_key", "annotation", "instances", "desired_lrp_resource", "routes", "modification_tag", "volume_placement", "PlacementTags")
    DESIRED_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    DESIRED_LRP_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    MODIFICATION_TAG_FIELD_NUMBER: _ClassVar[int]
    VOLUME_PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    PLACEMENTTAGS_FIELD_NUMBER: _ClassVar[int]
    desired_lrp_key: DesiredLRPKey
    annotation: str
    instances: int
    desired_lrp_resource: DesiredLRPResource
    routes: ProtoRoutes
    modification_tag: _modification_tag_pb2.ModificationTag
    volume_placement: _volume_mount_pb2.VolumePlacement
    PlacementTags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, desired_lrp_key: _Optional[_Union[DesiredLRPKey, _Mapping]] = ..., annotation: _Optional[str] = ..., instances: _Optional[int] = ..., desired_lrp_resource: _Optional[_Union[DesiredLRPResource, _Mapping]] = ..., routes: _Optional[_Union[ProtoRoutes, _Mapping]] = ..., modification_tag: _Optional[_Union[_modification_tag_pb2.ModificationTag, _Mapping]] = ..., volume_placement: _Optional[_Union[_volume_mount_pb2.VolumePlacement, _Mapping]] = ..., PlacementTags: _Optional[_Iterable[str]] = ...) -> None: ...

class DesiredLRPRunInfo(_message.Message):
    __slots__ = ("desired_lrp_key", "environment_variables", "setup", "action", "monitor", "deprecated_start_timeout_s", "privileged", "cpu_weight", "ports", "egress_rules", "log_source", "metrics_guid", "created_at", "cached_dependencies", "legacy_download_user", "trusted_system_certificates_path", "volume_mounts", "network", "start_timeout_ms", "certificate_properties", "image_username", "image_password", "check_definition", "image_layers", "metric_tags", "sidecars", "log_rate_limit", "volume_mounted_files")
    class MetricTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _metric_tags_pb2.MetricTagValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_metric_tags_pb2.MetricTagValue, _Mapping]] = ...) -> None: ...
    DESIRED_LRP_KEY_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    SETUP_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    MONITOR_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_START_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGED_FIELD_NUMBER: _ClassVar[int]
    CPU_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    EGRESS_RULES_FIELD_NUMBER: _ClassVar[int]
    LOG_SOURCE_FIELD_NUMBER: _ClassVar[int]
    METRICS_GUID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CACHED_DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    LEGACY_DOWNLOAD_USER_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_SYSTEM_CERTIFICATES_PATH_FIELD_NUMBER: _ClassVar[int]
    VOLUME_MOUNTS_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    START_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_USERNAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CHECK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_LAYERS_FIELD_NUMBER: _ClassVar[int]
    METRIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    SIDECARS_FIELD_NUMBER: _ClassVar[int]
    LOG_RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    VOLUME_MOUNTED_FILES_FIELD_NUMBER: _ClassVar[int]
    desired_lrp_key: DesiredLRPKey
    environment_variables: _containers.RepeatedCompositeFieldContainer[_environment_variables_pb2.EnvironmentVariable]
    setup: _actions_pb2.Action
    action: _actions_pb2.Action
    monitor: _actions_pb2.Action
    deprecated_start_timeout_s: int
    privileged: bool
    cpu_weight: int
    ports: _containers.RepeatedScalarFieldContainer[int]
    egress_rules: _containers.RepeatedCompositeFieldContainer[_security_group_pb2.SecurityGroupRule]
    log_source: str
    metrics_guid: str
    created_at: int
    cached_dependencies: _containers.RepeatedCompositeFieldContainer[_cached_dependency_pb2.CachedDependency]
    legacy_download_user: str
    trusted_system_certificates_path: str
    volume_mounts: _containers.RepeatedCompositeFieldContainer[_volume_mount_pb2.VolumeMount]
    network: _network_pb2.Network
    start_timeout_ms: int
    certificate_properties: _certificate_properties_pb2.CertificateProperties
    image_username: str
    image_password: str
    check_definition: _check_definition_pb2.CheckDefinition
    image_layers: _containers.RepeatedCompositeFieldContainer[_image_layer_pb2.ImageLayer]
    metric_tags: _containers.MessageMap[str, _metric_tags_pb2.MetricTagValue]
    sidecars: _containers.RepeatedCompositeFieldContainer[_sidecar_pb2.Sidecar]
    log_rate_limit: _log_rate_limit_pb2.LogRateLimit
    volume_mounted_files: _containers.RepeatedCompositeFieldContainer[_file_pb2.File]
    def __init__(self, desired_lrp_key: _Optional[_Union[DesiredLRPKey, _Mapping]] = ..., environment_variables: _Optional[_Iterable[_Union[_environment_variables_pb2.EnvironmentVariable, _Mapping]]] = ..., setup: _Optional[_Union[_actions_pb2.Action, _Mapping]] = ..., action: _Optional[_Union[_actions_pb2.Action, _Mapping]] = ..., monitor: _Optional[_Union[_actions_pb2.Action, _Mapping]] = ..., deprecated_start_timeout_s: _Optional[int] = ..., privileged: _Optional[bool] = ..., cpu_weight: _Optional[int] = ..., ports: _Optional[_Iterable[int]] = ..., egress_rules: _Optional[_Iterable[_Union[_security_group_pb2.SecurityGroupRule, _Mapping]]] = ..., log_source: _Optional[str] = ..., metrics_guid: _Optional[str] = ..., created_at: _Optional[int] = ..., cached_dependencies: _Optional[_Iterable[_Union[_cached_dependency_pb2.CachedDependency, _Mapping]]] = ..., legacy_download_user: _Optional[str] = ..., trusted_system_certificates_path: _Optional[str] = ..., volume_mounts: _Optional[_Iterable[_Union[_volume_mount_pb2.VolumeMount, _Mapping]]] = ..., network: _Optional[_Union[_network_pb2.Network, _Mapping]] = ..., start_timeout_ms: _Optional[int] = ..., certificate_properties: _Optional[_Union[_certificate_properties_pb2.CertificateProperties, _Mapping]] = ..., image_username: _Optional[str] = ..., image_password: _Optional[str] = ..., check_definition: _Optional[_Union[_check_definition_pb2.CheckDefinition, _Mapping]] = ..., image_layers: _Optional[_Iterable[_Union[_image_layer_pb2.ImageLayer, _Mapping]]] = ..., metric_tags: _Optional[_Mapping[str, _metric_tags_pb2.MetricTagValue]] = ..., sidecars: _Optional[_Iterable[_Union[_sidecar_pb2.Sidecar, _Mapping]]] = ..., log_rate_limit: _Optional[_Union[_log_rate_limit_pb2.LogRateLimit, _Mapping]] = ..., volume_mounted_files: _Optional[_Iterable[_Union[_file_pb2.File, _Mapping]]] = ...) -> None: ...

class ProtoRoutes(_message.Message):
    __slots__ = ("routes",)
    class RoutesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    routes: _containers.ScalarMap[str, bytes]
    def __init__(self, routes: _Optional[_Mapping[str, bytes]] = ...) -> None: ...

class DesiredLRPUpdate(_message.Message):
    __slots__ = ("instances", "routes", "annotation", "metric_tags", "image_username", "image_password")
    class MetricTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _metric_tags_pb2.MetricTagValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_metric_tags_pb2.MetricTagValue, _Mapping]] = ...) -> None: ...
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    METRIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_USERNAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    instances: int
    routes: ProtoRoutes
    annotation: str
    metric_tags: _containers.MessageMap[str, _metric_tags_pb2.MetricTagValue]
    image_username: str
    image_password: str
    def __init__(self, instances: _Optional[int] = ..., routes: _Optional[_Union[ProtoRoutes, _Mapping]] = ..., annotation: _Optional[str] = ..., metric_tags: _Optional[_Mapping[str, _metric_tags_pb2.MetricTagValue]] = ..., image_username: _Optional[str] = ..., image_password: _Optional[str] = ...) -> None: ...

class DesiredLRPKey(_message.Message):
    __slots__ = ("process_guid", "domain", "log_guid")
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    LOG_GUID_FIELD_NUMBER: _ClassVar[int]
    process_guid: str
    domain: str
    log_guid: str
    def __init__(self, process_guid: _Optional[str] = ..., domain: _Optional[str] = ..., log_guid: _Optional[str] = ...) -> None: ...

class DesiredLRPResource(_message.Message):
    __slots__ = ("memory_mb", "disk_mb", "root_fs", "max_pids")
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    DISK_MB_FIELD_NUMBER: _ClassVar[int]
    ROOT_FS_FIELD_NUMBER: _ClassVar[int]
    MAX_PIDS_FIELD_NUMBER: _ClassVar[int]
    memory_mb: int
    disk_mb: int
    root_fs: str
    max_pids: int
    def __init__(self, memory_mb: _Optional[int] = ..., disk_mb: _Optional[int] = ..., root_fs: _Optional[str] = ..., max_pids: _Optional[int] = ...) -> None: ...

class DesiredLRP(_message.Message):
    __slots__ = ("process_guid", "domain", "root_fs", "instances", "environment_variables", "setup", "action", "start_timeout_ms", "deprecated_start_timeout_s", "monitor", "disk_mb", "memory_mb", "cpu_weight", "privileged", "ports", "routes", "log_source", "log_guid", "metrics_guid", "annotation", "egress_rules", "modification_tag", "cached_dependencies", "legacy_download_user", "trusted_system_certificates_path", "volume_mounts", "network", "PlacementTags", "max_pids", "certificate_properties", "image_username", "image_password", "check_definition", "image_layers", "metric_tags", "sidecars", "log_rate_limit", "volume_mounted_files", "update_strategy")
    class UpdateStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ROLLING: _ClassVar[DesiredLRP.UpdateStrategy]
        RECREATE: _ClassVar[DesiredLRP.UpdateStrategy]
    ROLLING: DesiredLRP.UpdateStrategy
    RECREATE: DesiredLRP.UpdateStrategy
    class MetricTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _metric_tags_pb2.MetricTagValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_metric_tags_pb2.MetricTagValue, _Mapping]] = ...) -> None: ...
    PROCESS_GUID_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ROOT_FS_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    SETUP_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    START_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_START_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    MONITOR_FIELD_NUMBER: _ClassVar[int]
    DISK_MB_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    CPU_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    PRIVILEGED_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    ROUTES_FIELD_NUMBER: _ClassVar[int]
    LOG_SOURCE_FIELD_NUMBER: _ClassVar[int]
    LOG_GUID_FIELD_NUMBER: _ClassVar[int]
    METRICS_GUID_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_FIELD_NUMBER: _ClassVar[int]
    EGRESS_RULES_FIELD_NUMBER: _ClassVar[int]
    MODIFICATION_TAG_FIELD_NUMBER: _ClassVar[int]
    CACHED_DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    LEGACY_DOWNLOAD_USER_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_SYSTEM_CERTIFICATES_PATH_FIELD_NUMBER: _ClassVar[int]
    VOLUME_MOUNTS_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    PLACEMENTTAGS_FIELD_NUMBER: _ClassVar[int]
    MAX_PIDS_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_USERNAME_FIELD_NUMBER: _ClassVar[int]
    IMAGE_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CHECK_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_LAYERS_FIELD_NUMBER: _ClassVar[int]
    METRIC_TAGS_FIELD_NUMBER: _ClassVar[int]
    SIDECARS_FIELD_NUMBER: _ClassVar[int]
    LOG_RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    VOLUME_MOUNTED_FILES_FIELD_NUMBER: _ClassVar[int]
    UPDATE_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    process_guid: str
    domain: str
    root_fs: str
    instances: int
    environment_variables: _containers.RepeatedCompositeFieldContainer[_environment_variables_pb2.EnvironmentVariable]
    setup: _actions_pb2.Action
    action: _actions_pb2.Action
    start_timeout_ms: int
    deprecated_start_timeout_s: int
    monitor: _actions_pb2.Action
    disk_mb: int
    memory_mb: int
    cpu_weight: int
    privileged: bool
    ports: _containers.RepeatedScalarFieldContainer[int]
    routes: ProtoRoutes
    log_source: str
    log_guid: str
    metrics_guid: str
    annotation: str
    egress_rules: _containers.RepeatedCompositeFieldContainer[_security_group_pb2.SecurityGroupRule]
    modification_tag: _modification_tag_pb2.ModificationTag
    cached_dependencies: _containers.RepeatedCompositeFieldContainer[_cached_dependency_pb2.CachedDependency]
    legacy_download_user: str
    trusted_system_certificates_path: str
    volume_mounts: _containers.RepeatedCompositeFieldContainer[_volume_mount_pb2.VolumeMount]
    network: _network_pb2.Network
    PlacementTags: _containers.RepeatedScalarFieldContainer[str]
    max_pids: int
    certificate_properties: _certificate_properties_pb2.CertificateProperties
    image_username: str
    image_password: str
    check_definition: _check_definition_pb2.CheckDefinition
    image_layers: _containers.RepeatedCompositeFieldContainer[_image_layer_pb2.ImageLayer]
    metric_tags: _containers.MessageMap[str, _metric_tags_pb2.MetricTagValue]
    sidecars: _containers.RepeatedCompositeFieldContainer[_sidecar_pb2.Sidecar]
    log_rate_limit: _log_rate_limit_pb2.LogRateLimit
    volume_mounted_files: _containers.RepeatedCompositeFieldContainer[_file_pb2.File]
    update_strategy: DesiredLRP.UpdateStrategy
    def __init__(self, process_guid: _Optional[str] = ..., domain: _Optional[str] = ..., root_fs: _Optional[str] = ..., instances: _Optional[int] = ..., environment_variables: _Optional[_Iterable[_Union[_environment_variables_pb2.EnvironmentVariable, _Mapping]]] = ..., setup: _Optional[_Union[_actions_pb2.Action, _Mapping]] = ..., action: _Optional[_Union[_actions_pb2.Action, _Mapping]] = ..., start_timeout_ms: _Optional[int] = ..., deprecated_start_timeout_s: _Optional[int] = ..., monitor: _Optional[_Union[_actions_pb2.Action, _Mapping]] = ..., disk_mb: _Optional[int] = ..., memory_mb: _Optional[int] = ..., cpu_weight: _Optional[int] = ..., privileged: _Optional[bool] = ..., ports: _Optional[_Iterable[int]] = ..., routes: _Optional[_Union[ProtoRoutes, _Mapping]] = ..., log_source: _Optional[str] = ..., log_guid: _Optional[str] = ..., metrics_guid: _Optional[str] = ..., annotation: _Optional[str] = ..., egress_rules: _Optional[_Iterable[_Union[_security_group_pb2.SecurityGroupRule, _Mapping]]] = ..., modification_tag: _Optional[_Union[_modification_tag_pb2.ModificationTag, _Mapping]] = ..., cached_dependencies: _Optional[_Iterable[_Union[_cached_dependency_pb2.CachedDependency, _Mapping]]] = ..., legacy_download_user: _Optional[str] = ..., trusted_system_certificates_path: _Optional[str] = ..., volume_mounts: _Optional[_Iterable[_Union[_volume_mount_pb2.VolumeMount, _Mapping]]] = ..., network: _Optional[_Union[_network_pb2.Network, _Mapping]] = ..., PlacementTags: _Optional[_Iterable[str]] = ..., max_pids: _Optional[int] = ..., certificate_properties: _Optional[_Union[_certificate_properties_pb2.CertificateProperties, _Mapping]] = ..., image_username: _Optional[str] = ..., image_password: _Optional[str] = ..., check_definition: _Optional[_Union[_check_definition_pb2.CheckDefinition, _Mapping]] = ..., image_layers: _Optional[_Iterable[_Union[_image_layer_pb2.ImageLayer, _Mapping]]] = ..., metric_tags: _Optional[_Mapping[str, _metric_tags_pb2.MetricTagValue]] = ..., sidecars: _Optional[_Iterable[_Union[_sidecar_pb2.Sidecar, _Mapping]]] = ..., log_rate_limit: _Optional[_Union[_log_rate_limit_pb2.LogRateLimit, _Mapping]] = ..., volume_mounted_files: _Optional[_Iterable[_Union[_file_pb2.File, _Mapping]]] = ..., update_strategy: _Optional[_Union[DesiredLRP.UpdateStrategy, str]] = ...) -> None: ...
