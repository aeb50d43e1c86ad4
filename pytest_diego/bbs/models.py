"""Diego BBS wire models under their BBS names (``models.DesiredLRP``, ``models.Task``, ...).

Generated from ``pytest_diego/bbs/proto/*.proto`` (proto package ``models``, Diego's field numbers),
so bytes produced here are what a real BBS reads and writes. Nested enums keep Diego's scoping:
``models.Error.ResourceExists``, ``models.Task.Running``, ``models.ActualLRP.EVACUATING``,
``models.ActualLRPNetInfo.HOST``, ``models.MetricTagValue.INDEX``.
"""

from pytest_diego.bbs._pb.actions_pb2 import (
    Action,
    CodependentAction,
    DownloadAction,
    EmitProgressAction,
    ParallelAction,
    ResourceLimits,
    RunAction,
    SerialAction,
    TimeoutAction,
    TryAction,
    UploadAction,
)
from pytest_diego.bbs._pb.actual_lrp_pb2 import (
    ActualLRP,
    ActualLRPGroup,
    ActualLRPInstanceKey,
    ActualLRPInternalRoute,
    ActualLRPKey,
    ActualLRPNetInfo,
    PortMapping,
)
from pytest_diego.bbs._pb.actual_lrp_requests_pb2 import (
    ActualLRPGroupByProcessGuidAndIndexRequest,
    ActualLRPGroupResponse,
    ActualLRPGroupsByProcessGuidRequest,
    ActualLRPGroupsRequest,
    ActualLRPGroupsResponse,
    ActualLRPLifecycleResponse,
    ActualLRPsByProcessGuidsRequest,
    ActualLRPsByProcessGuidsResponse,
    ActualLRPsRequest,
    ActualLRPsResponse,
    ClaimActualLRPRequest,
    CrashActualLRPRequest,
    FailActualLRPRequest,
    RemoveActualLRPRequest,
    RetireActualLRPRequest,
    StartActualLRPRequest,
)
from pytest_diego.bbs._pb.cached_dependency_pb2 import (
    CachedDependency,
)
from pytest_diego.bbs._pb.cells_pb2 import (
    CellCapacity,
    CellPresence,
    CellsResponse,
    Provider,
)
from pytest_diego.bbs._pb.certificate_properties_pb2 import (
    CertificateProperties,
)
from pytest_diego.bbs._pb.check_definition_pb2 import (
    Check,
    CheckDefinition,
    HTTPCheck,
    TCPCheck,
)
from pytest_diego.bbs._pb.desired_lrp_pb2 import (
    DesiredLRP,
    DesiredLRPKey,
    DesiredLRPResource,
    DesiredLRPRunInfo,
    DesiredLRPSchedulingInfo,
    DesiredLRPUpdate,
    ProtoRoutes,
)
from pytest_diego.bbs._pb.desired_lrp_requests_pb2 import (
    DesiredLRPByProcessGuidRequest,
    DesiredLRPLifecycleResponse,
    DesiredLRPResponse,
    DesiredLRPSchedulingInfoByProcessGuidResponse,
    DesiredLRPSchedulingInfosResponse,
    DesiredLRPsRequest,
    DesiredLRPsResponse,
    DesireLRPRequest,
    RemoveDesiredLRPRequest,
    UpdateDesiredLRPRequest,
)
from pytest_diego.bbs._pb.domain_pb2 import (
    DomainsResponse,
    UpsertDomainRequest,
    UpsertDomainResponse,
)
from pytest_diego.bbs._pb.environment_variables_pb2 import (
    EnvironmentVariable,
)
from pytest_diego.bbs._pb.error_pb2 import (
    Error,
)
from pytest_diego.bbs._pb.evacuation_pb2 import (
    EvacuateClaimedActualLRPRequest,
    EvacuateCrashedActualLRPRequest,
    EvacuateRunningActualLRPRequest,
    EvacuateStoppedActualLRPRequest,
    EvacuationResponse,
    RemoveEvacuatingActualLRPRequest,
    RemoveEvacuatingActualLRPResponse,
)
from pytest_diego.bbs._pb.events_pb2 import (
    ActualLRPChangedEvent,
    ActualLRPCrashedEvent,
    ActualLRPCreatedEvent,
    ActualLRPInfo,
    ActualLRPInstanceChangedEvent,
    ActualLRPInstanceCreatedEvent,
    ActualLRPInstanceRemovedEvent,
    ActualLRPRemovedEvent,
    DesiredLRPChangedEvent,
    DesiredLRPCreatedEvent,
    DesiredLRPRemovedEvent,
    EventsByCellId,
    TaskChangedEvent,
    TaskCreatedEvent,
    TaskRemovedEvent,
)
from pytest_diego.bbs._pb.file_pb2 import (
    File,
)
from pytest_diego.bbs._pb.image_layer_pb2 import (
    ImageLayer,
)
from pytest_diego.bbs._pb.log_rate_limit_pb2 import (
    LogRateLimit,
)
from pytest_diego.bbs._pb.metric_tags_pb2 import (
    MetricTagValue,
)
from pytest_diego.bbs._pb.modification_tag_pb2 import (
    ModificationTag,
)
from pytest_diego.bbs._pb.network_pb2 import (
    Network,
)
from pytest_diego.bbs._pb.ping_pb2 import (
    PingResponse,
)
from pytest_diego.bbs._pb.security_group_pb2 import (
    ICMPInfo,
    PortRange,
    SecurityGroupRule,
)
from pytest_diego.bbs._pb.sidecar_pb2 import (
    Sidecar,
)
from pytest_diego.bbs._pb.task_pb2 import (
    Task,
    TaskDefinition,
)
from pytest_diego.bbs._pb.task_requests_pb2 import (
    CompleteTaskRequest,
    DesireTaskRequest,
    FailTaskRequest,
    RejectTaskRequest,
    StartTaskRequest,
    StartTaskResponse,
    TaskByGuidRequest,
    TaskCallbackResponse,
    TaskGuidRequest,
    TaskLifecycleResponse,
    TaskResponse,
    TasksRequest,
    TasksResponse,
)
from pytest_diego.bbs._pb.volume_mount_pb2 import (
    DedicatedDevice,
    SharedDevice,
    VolumeMount,
    VolumePlacement,
)

# ActualLRP.state is a string on the wire; these are its values (models/actual_lrp.go).
ActualLRPStateUnclaimed = "UNCLAIMED"
ActualLRPStateClaimed = "CLAIMED"
ActualLRPStateRunning = "RUNNING"
ActualLRPStateCrashed = "CRASHED"

__all__ = [
    "Action",
    "ActualLRP",
    "ActualLRPChangedEvent",
    "ActualLRPCrashedEvent",
    "ActualLRPCreatedEvent",
    "ActualLRPGroup",
    "ActualLRPGroupByProcessGuidAndIndexRequest",
    "ActualLRPGroupResponse",
    "ActualLRPGroupsByProcessGuidRequest",
    "ActualLRPGroupsRequest",
    "ActualLRPGroupsResponse",
    "ActualLRPInfo",
    "ActualLRPInstanceChangedEvent",
    "ActualLRPInstanceCreatedEvent",
    "ActualLRPInstanceKey",
    "ActualLRPInstanceRemovedEvent",
    "ActualLRPInternalRoute",
    "ActualLRPKey",
    "ActualLRPLifecycleResponse",
    "ActualLRPNetInfo",
    "ActualLRPRemovedEvent",
    "ActualLRPStateClaimed",
    "ActualLRPStateCrashed",
    "ActualLRPStateRunning",
    "ActualLRPStateUnclaimed",
    "ActualLRPsByProcessGuidsRequest",
    "ActualLRPsByProcessGuidsResponse",
    "ActualLRPsRequest",
    "ActualLRPsResponse",
    "CachedDependency",
    "CellCapacity",
    "CellPresence",
    "CellsResponse",
    "CertificateProperties",
    "Check",
    "CheckDefinition",
    "ClaimActualLRPRequest",
    "CodependentAction",
    "CompleteTaskRequest",
    "CrashActualLRPRequest",
    "DedicatedDevice",
    "DesireLRPRequest",
    "DesireTaskRequest",
    "DesiredLRP",
    "DesiredLRPByProcessGuidRequest",
    "DesiredLRPChangedEvent",
    "DesiredLRPCreatedEvent",
    "DesiredLRPKey",
    "DesiredLRPLifecycleResponse",
    "DesiredLRPRemovedEvent",
    "DesiredLRPResource",
    "DesiredLRPResponse",
    "DesiredLRPRunInfo",
    "DesiredLRPSchedulingInfo",
    "DesiredLRPSchedulingInfoByProcessGuidResponse",
    "DesiredLRPSchedulingInfosResponse",
    "DesiredLRPUpdate",
    "DesiredLRPsRequest",
    "DesiredLRPsResponse",
    "DomainsResponse",
    "DownloadAction",
    "EmitProgressAction",
    "EnvironmentVariable",
    "Error",
    "EvacuateClaimedActualLRPRequest",
    "EvacuateCrashedActualLRPRequest",
    "EvacuateRunningActualLRPRequest",
    "EvacuateStoppedActualLRPRequest",
    "EvacuationResponse",
    "EventsByCellId",
    "FailActualLRPRequest",
    "FailTaskRequest",
    "File",
    "HTTPCheck",
    "ICMPInfo",
    "ImageLayer",
    "LogRateLimit",
    "MetricTagValue",
    "ModificationTag",
    "Network",
    "ParallelAction",
    "PingResponse",
    "PortMapping",
    "PortRange",
    "ProtoRoutes",
    "Provider",
    "RejectTaskRequest",
    "RemoveActualLRPRequest",
    "RemoveDesiredLRPRequest",
    "RemoveEvacuatingActualLRPRequest",
    "RemoveEvacuatingActualLRPResponse",
    "ResourceLimits",
    "RetireActualLRPRequest",
    "RunAction",
    "SecurityGroupRule",
    "SerialAction",
    "SharedDevice",
    "Sidecar",
    "StartActualLRPRequest",
    "StartTaskRequest",
    "StartTaskResponse",
    "TCPCheck",
    "Task",
    "TaskByGuidRequest",
    "TaskCallbackResponse",
    "TaskChangedEvent",
    "TaskCreatedEvent",
    "TaskDefinition",
    "TaskGuidRequest",
    "TaskLifecycleResponse",
    "TaskRemovedEvent",
    "TaskResponse",
    "TasksRequest",
    "TasksResponse",
    "TimeoutAction",
    "TryAction",
    "UpdateDesiredLRPRequest",
    "UploadAction",
    "UpsertDomainRequest",
    "UpsertDomainResponse",
    "VolumeMount",
    "VolumePlacement",
]
