"""Diego's BBS route table (``bbs:routes.go``): route name -> path, current revisions first.

Every route is a POST except the deprecated ``/v1/events`` GET streams. The client only calls the
current revisions; deprecated ones are listed so servers and tools can recognise them.
"""

from __future__ import annotations

from types import MappingProxyType

ROUTES: MappingProxyType[str, str] = MappingProxyType(
    {
        "Ping": "/v1/ping",
        "Domains": "/v1/domains/list",
        "UpsertDomain": "/v1/domains/upsert",
        "ActualLRPs": "/v1/actual_lrps/list",
        "ActualLRPsByProcessGuids": "/v1/actual_lrps/list_by_process_guids",
        "ClaimActualLRP": "/v1/actual_lrps/claim",
        "StartActualLRP": "/v1/actual_lrps/start.r1",
        "CrashActualLRP": "/v1/actual_lrps/crash",
        "FailActualLRP": "/v1/actual_lrps/fail",
        "RemoveActualLRP": "/v1/actual_lrps/remove",
        "RetireActualLRP": "/v1/actual_lrps/retire",
        "RemoveEvacuatingActualLRP": "/v1/actual_lrps/remove_evacuating",
        "EvacuateClaimedActualLRP": "/v1/actual_lrps/evacuate_claimed",
        "EvacuateCrashedActualLRP": "/v1/actual_lrps/evacuate_crashed",
        "EvacuateStoppedActualLRP": "/v1/actual_lrps/evacuate_stopped",
        "EvacuateRunningActualLRP": "/v1/actual_lrps/evacuate_running.r1",
        "DesiredLRPSchedulingInfos": "/v1/desired_lrp_scheduling_infos/list",
        "DesiredLRPSchedulingInfoByProcessGuid": "/v1/desired_lrp_scheduling_infos/get_by_process_guid",
        "DesiredLRPRoutingInfos": "/v1/desired_lrp_routing_infos/list",
        "DesiredLRPs": "/v1/desired_lrps/list.r3",
        "DesiredLRPByProcessGuid": "/v1/desired_lrps/get_by_process_guid.r3",
        "DesireDesiredLRP": "/v1/desired_lrp/desire.r2",
        "UpdateDesireLRP": "/v1/desired_lrp/update",
        "RemoveDesiredLRP": "/v1/desired_lrp/remove",
        "Tasks": "/v1/tasks/list.r3",
        "TaskByGuid": "/v1/tasks/get_by_task_guid.r3",
        "DesireTask": "/v1/tasks/desire.r2",
        "StartTask": "/v1/tasks/start",
        "CancelTask": "/v1/tasks/cancel",
        "FailTask": "/v1/tasks/fail",
        "RejectTask": "/v1/tasks/reject",
        "CompleteTask": "/v1/tasks/complete",
        "ResolvingTask": "/v1/tasks/resolving",
        "DeleteTask": "/v1/tasks/delete",
        "TaskEventStream": "/v1/events/tasks.r1",
        "LRPInstanceEventStream": "/v1/events/lrp_instances.r1",
        "Cells": "/v1/cells/list.r1",
    }
)

DEPRECATED_ROUTES: MappingProxyType[str, str] = MappingProxyType(
    {
        "ActualLRPGroups": "/v1/actual_lrp_groups/list",
        "ActualLRPGroupsByProcessGuid": "/v1/actual_lrp_groups/list_by_process_guid",
        "ActualLRPGroupsByProcessGuidAndIndex": "/v1/actual_lrp_groups/get_by_process_guid_and_index",
        "StartActualLRP_r0": "/v1/actual_lrps/start",
        "EvacuateRunningActualLRP_r0": "/v1/actual_lrps/evacuate_running",
        "DesiredLRPs_r2": "/v1/desired_lrps/list.r2",
        "DesiredLRPByProcessGuid_r2": "/v1/desired_lrps/get_by_process_guid.r2",
        "Tasks_r2": "/v1/tasks/list.r2",
        "TaskByGuid_r2": "/v1/tasks/get_by_task_guid.r2",
        "EventStream": "/v1/events.r1",  # GET
        "EventStream_r0": "/v1/events",  # GET
        "TaskEventStream_r0": "/v1/events/tasks",
        "LrpInstanceEventStream_r0": "/v1/events/lrp_instances",
    }
)

GET_ROUTES = frozenset({"EventStream", "EventStream_r0"})
