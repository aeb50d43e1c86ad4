"""Task operations: PENDING -> RUNNING -> COMPLETED -> RESOLVING -> deleted, plus cancel, reject
(retried up to max_retries, then failed) and completion callbacks, as Diego's task controller."""

from __future__ import annotations

from typing import Any

from pytest_diego.bbs import models
from pytest_diego.cluster.bbs import validation
from pytest_diego.cluster.bbs.core import Core
from pytest_diego.cluster.bbs.errors import exists, found, running_on_different_cell, task_transition
from pytest_diego.cluster.bbs.state import Tx, now_ns
from pytest_diego.locket.errors import LocketClientError

PENDING, RUNNING, COMPLETED, RESOLVING = (models.Task.Pending, models.Task.Running,
                                         models.Task.Completed, models.Task.Resolving)
CANCELLED = "cancelled"
CALLBACK_ATTEMPTS = 3


def state_name(state: int) -> str:
    return models.Task.State.Name(state)


def _copy(task: models.Task) -> models.Task:
    after = models.Task()
    after.CopyFrom(task)
    after.updated_at = now_ns()
    return after


def _changed(tx: Tx, before: models.Task, after: models.Task) -> None:
    tx.event("task", "task_changed", models.TaskChangedEvent(before=before, after=after),
             before.cell_id, after.cell_id)


def _get(core: Core, task_guid: str) -> models.Task:
    return found(core.state.tasks.get(task_guid)).msg


def desire(core: Core, request: models.DesireTaskRequest) -> None:
    validation.desire_task(request)
    session = core.logger.session("desire-task", task_guid=request.task_guid, domain=request.domain)
    session.info("starting")
    state = core.state
    with state.lock:
        if request.task_guid in state.tasks:
            raise exists()
        now = now_ns()
        task = models.Task(task_guid=request.task_guid, domain=request.domain, state=PENDING,
                           created_at=now, updated_at=now)
        task.task_definition.CopyFrom(request.task_definition)
        tx = Tx()
        state.put_task(tx, task)
        tx.event("task", "task_created", models.TaskCreatedEvent(task=task), "")
        tx.task_auctions.append(task)
        pending = core.commit(tx)
    core.apply(tx, pending)
    session.info("finished")


def start(core: Core, task_guid: str, cell_id: str) -> bool:
    """PENDING -> RUNNING on ``cell_id``; False (no error) when it already runs there."""
    validation.required(task_guid=task_guid, cell_id=cell_id)
    session = core.logger.session("start-task", task_guid=task_guid, cell_id=cell_id)
    state = core.state
    with state.lock:
        before = _get(core, task_guid)
        if before.state == RUNNING and before.cell_id == cell_id:
            session.info("finished", should_start=False)
            return False
        if before.state != PENDING:
            raise task_transition(state_name(before.state), "Running")
        after = _copy(before)
        after.state = RUNNING
        after.cell_id = cell_id
        tx = Tx()
        state.put_task(tx, after)
        _changed(tx, before, after)
        pending = core.commit(tx)
    core.apply(tx, pending)
    core.counters.add("tasks_started")
    session.info("finished", should_start=True)
    return True


def complete(core: Core, request: models.CompleteTaskRequest) -> None:
    validation.required(task_guid=request.task_guid, cell_id=request.cell_id)
    session = core.logger.session("complete-task", task_guid=request.task_guid, cell_id=request.cell_id,
                                  failed=request.failed)
    with core.state.lock:
        before = _get(core, request.task_guid)
        if before.state != RUNNING:
            raise task_transition(state_name(before.state), "Completed")
        if before.cell_id != request.cell_id:
            raise running_on_different_cell(request.cell_id, before.cell_id)
        tx, pending = _complete(core, before, request.failed, request.failure_reason, request.result)
    core.apply(tx, pending)
    session.info("complete")


def fail(core: Core, task_guid: str, failure_reason: str) -> None:
    _fail_active(core, "fail-task", task_guid, failure_reason)


def cancel(core: Core, task_guid: str) -> None:
    """PENDING/RUNNING -> COMPLETED failed ("cancelled"); the cell running it is told to stop."""
    _fail_active(core, "cancel-task", task_guid, CANCELLED, tell_cell=True)


def _fail_active(core: Core, action: str, task_guid: str, reason: str, tell_cell: bool = False) -> None:
    """FailTask and CancelTask alike: a PENDING or RUNNING task completes failed with ``reason``."""
    validation.required(task_guid=task_guid)
    session = core.logger.session(action, task_guid=task_guid)
    with core.state.lock:
        before = _get(core, task_guid)
        if before.state not in (PENDING, RUNNING):
            raise task_transition(state_name(before.state), "Completed")
        tx, pending = _complete(core, before, True, reason, "")
        if tell_cell and before.state == RUNNING:
            tx.after.append(lambda: _cancel_on_cell(core, before.cell_id, task_guid))
    core.apply(tx, pending)
    session.info("complete")


def _cancel_on_cell(core: Core, cell_id: str, task_guid: str) -> None:
    """Diego's ``CellById`` then the rep's CancelTask; a cell without presence is not told."""
    try:
        cell = core.cells.cell(cell_id)
    except LocketClientError as e:
        core.logger.error("cancel-task.failed-fetching-cell", e, task_guid=task_guid, cell_id=cell_id)
        return
    if cell is not None and cell.msg.rep_url:
        core.outbound.submit(core.outbound.cancel_task, cell.msg.rep_url, task_guid)


def reject(core: Core, task_guid: str, reason: str) -> None:
    """Back to PENDING (count up) and, once max_retries rejections were counted, COMPLETED and
    failed from there. As Diego's RejectTask, no auction is requested and the cell id stays: the
    next convergence pass auctions the PENDING Task again (convergence.py), so a burst of refusals
    (a duplicate placement of a Task a cell already holds) does not spend every retry within
    milliseconds."""
    validation.required(task_guid=task_guid)
    session = core.logger.session("reject-task", task_guid=task_guid, rejection_reason=reason)
    state = core.state
    with state.lock:
        before = _get(core, task_guid)
        if before.state not in (PENDING, RUNNING):
            raise task_transition(state_name(before.state), "Pending")
        rejected = _copy(before)
        rejected.state = PENDING
        rejected.rejection_count += 1
        rejected.rejection_reason = reason
        if before.rejection_count >= core.max_task_retries:  # Diego then fails it from PENDING
            tx, pending = _complete(core, rejected, True, reason, "")
        else:
            tx = Tx()
            state.put_task(tx, rejected)
            _changed(tx, before, rejected)
            pending = core.commit(tx)
    core.apply(tx, pending)
    session.info("complete")


def resolving(core: Core, task_guid: str) -> None:
    validation.required(task_guid=task_guid)
    with core.state.lock:
        before = _get(core, task_guid)
        if before.state != COMPLETED:
            raise task_transition(state_name(before.state), "Resolving")
        tx, pending, _ = _resolving(core, before)
    core.apply(tx, pending)
    core.logger.info("resolving-task", task_guid=task_guid)


def delete(core: Core, task_guid: str) -> None:
    validation.required(task_guid=task_guid)
    with core.state.lock:
        before = _get(core, task_guid)
        if before.state != RESOLVING:
            raise task_transition(state_name(before.state), "Resolving")
        tx = Tx()
        core.state.delete_task(tx, task_guid)
        tx.event("task", "task_removed", models.TaskRemovedEvent(task=before), before.cell_id)
        pending = core.commit(tx)
    core.apply(tx, pending)
    core.logger.info("resolved-task", task_guid=task_guid)


def _complete(core: Core, before: models.Task, failed: bool, reason: str, result: str):
    """Move ``before`` to COMPLETED (call with the lock held); returns (tx, pending)."""
    after = _copy(before)
    after.state = COMPLETED
    after.cell_id = ""
    after.failed = failed
    after.failure_reason = reason if failed else ""
    after.result = result
    after.first_completed_at = after.updated_at
    tx = Tx()
    core.state.put_task(tx, after)
    _changed(tx, before, after)
    outcome = "tasks_failed" if failed else "tasks_succeeded"
    tx.after.append(lambda: core.counters.add(outcome))  # counted once committed
    if after.task_definition.completion_callback_url:
        tx.after.append(lambda: core.outbound.submit(run_callback, core, after.task_guid))
    return tx, core.commit(tx)


def _resolving(core: Core, before: models.Task) -> tuple[Tx, Any, models.Task]:
    """Move a COMPLETED ``before`` to RESOLVING (call with the lock held), for the ResolvingTask
    route and the callback runner alike; returns (tx, pending, the task as it now is)."""
    after = _copy(before)
    after.state = RESOLVING
    tx = Tx()
    core.state.put_task(tx, after)
    _changed(tx, before, after)
    return tx, core.commit(tx), after


def run_callback(core: Core, task_guid: str) -> None:
    """COMPLETED -> RESOLVING, POST the JSON TaskCallbackResponse, then delete the task. A task
    whose callback keeps failing stays RESOLVING; convergence moves it back to COMPLETED and the
    callback is tried again."""
    with core.state.lock:
        rec = core.state.tasks.get(task_guid)
        if rec is None or rec.msg.state != COMPLETED:
            return
        tx, pending, after = _resolving(core, rec.msg)
    core.apply(tx, pending)
    body = {
        "task_guid": after.task_guid, "failed": after.failed, "failure_reason": after.failure_reason,
        "result": after.result, "annotation": after.task_definition.annotation,
        "created_at": after.created_at,
    }
    url = after.task_definition.completion_callback_url
    for _ in range(CALLBACK_ATTEMPTS):
        status = core.outbound.post(url, json=body)
        if status is not None and 200 <= status < 300:
            break
        if status is not None and status not in (503, 504):
            core.logger.error("task-callback.failed", task_guid=task_guid, url=url, status=status)
            return
    else:
        core.logger.error("task-callback.failed", task_guid=task_guid, url=url)
        return
    try:
        delete(core, task_guid)
    except Exception as e:  # deleted or changed meanwhile
        core.logger.error("task-callback.delete-failed", e, task_guid=task_guid)
