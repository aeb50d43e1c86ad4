"""Locket's four calls, with Locket's checks, statuses, log messages and request accounting.

Checks come in Locket's order: Lock refuses an UNKNOWN or unlisted type_code (NOT_FOUND
``invalid-type``), then a TTL <= 0 (INVALID_ARGUMENT ``invalid-ttl``), then an empty owner
(INVALID_ARGUMENT ``invalid-owner``); a key held by another owner is ALREADY_EXISTS
``lock-collision`` for Lock and Release. Fetch of a key nobody holds is NOT_FOUND
``resource-not-found``; Release of such a key succeeds. FetchAll takes LOCK or PRESENCE only.
Log messages are Locket's (``locket.lock.lock.acquired-lock``, ``locket.release.release-lock.
released-lock``, ``locket.lock.register-ttl.lock-expired``, ...); its debug lines are left out.
The key is logged as ``resource-key`` (Locket's name in its request logs), since lager here
redacts any field named ``key``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

from pytest_diego.cluster.locket.expiration import LockPick
from pytest_diego.cluster.locket.metrics import LocketMetrics
from pytest_diego.cluster.locket.store import Lock, LockStore, Refused
from pytest_diego.lager import Logger
from pytest_diego.locket import models
from pytest_diego.locket._pb.locket_pb2_grpc import LocketServicer

_SESSIONS = {"Lock": "lock", "Release": "release", "Fetch": "fetch", "FetchAll": "fetch-all"}


class LocketHandler(LocketServicer):
    def __init__(self, store: LockStore, pick: LockPick, metrics: LocketMetrics, logger: Logger) -> None:
        self._store = store
        self._pick = pick
        self._metrics = metrics
        self._log = logger

    # -- gRPC entry points (on the server's event loop) ------------------------------------------
    async def Lock(self, request: models.LockRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._serve("Lock", self._lock, request, context)

    async def Release(self, request: models.ReleaseRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._serve("Release", self._release, request, context)

    async def Fetch(self, request: models.FetchRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._serve("Fetch", self._fetch, request, context)

    async def FetchAll(self, request: models.FetchAllRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._serve("FetchAll", self._fetch_all, request, context)

    async def _serve(self, request_type: str, operation: Callable[[Any, grpc.aio.ServicerContext], Any],
                     request: Any, context: grpc.aio.ServicerContext) -> Any:
        """Locket's monitorRequest: count, time, and answer with the operation's status."""
        self._metrics.started(request_type)
        started = time.perf_counter()
        response: Any = None
        status: models.LocketStatus | None = None
        failure: Exception | None = None
        try:
            response = operation(request, context)
        except Refused as refused:
            status = refused.status
        except Exception as e:  # a store failure: Locket answers its SQL errors as Unknown
            failure = e
            self._log.error(f"{_SESSIONS[request_type]}.failed", e)
        succeeded = failure is None and status in (None, models.LOCK_COLLISION)
        self._metrics.finished(request_type, time.perf_counter() - started, succeeded)
        if failure is not None:
            await context.abort(grpc.StatusCode.UNKNOWN, str(failure))
        if status is not None:
            await context.abort(status.code, status.message)
        return response

    # -- the operations ----------------------------------------------------------------------------
    def _lock(self, request: models.LockRequest, context: grpc.aio.ServicerContext) -> models.LockResponse:
        resource = request.resource
        if not models.is_valid_type_code(resource.type_code):
            self._log.error("lock.invalid-request", models.INVALID_TYPE.message, typeCode=resource.type_code)
            raise Refused(models.INVALID_TYPE)
        for refusal, bad in ((models.INVALID_TTL, request.ttl_in_seconds <= 0),
                             (models.INVALID_OWNER, not resource.owner)):
            if bad:
                self._log.error("lock.failed-locking-lock", refusal.message, owner=resource.owner,
                                **{"resource-key": resource.key}, **_request_uuid(context))
                raise Refused(refusal)
        lock, created = self._store.lock(models.normalized(resource), request.ttl_in_seconds)
        if created:
            self._log.info("lock.lock.acquired-lock", **_lock_data(lock))
        self._pick.register(lock, "lock")
        return models.LockResponse()

    def _release(self, request: models.ReleaseRequest,
                 context: grpc.aio.ServicerContext) -> models.ReleaseResponse:
        resource = request.resource
        data = {"resource-key": resource.key, "owner": resource.owner, "type-code": resource.type_code}
        try:
            lock = self._store.release(resource.key, resource.owner)
        except Refused as refused:
            self._log.error("release.release-lock.cannot-release-lock", refused.status.message, **data)
            raise
        if lock is not None:
            self._pick.forget(lock)
            self._log.info("release.release-lock.released-lock", **data)
        return models.ReleaseResponse()

    def _fetch(self, request: models.FetchRequest, context: grpc.aio.ServicerContext) -> models.FetchResponse:
        try:
            lock = self._store.fetch(request.key)
        except Refused as refused:
            self._log.error("fetch.fetch-lock.failed-to-fetch-lock", refused.status.message,
                            **{"resource-key": request.key})
            raise
        return models.FetchResponse(resource=lock.resource())

    def _fetch_all(self, request: models.FetchAllRequest,
                   context: grpc.aio.ServicerContext) -> models.FetchAllResponse:
        if not models.is_valid_type_code(request.type_code):
            self._log.error("fetch-all.invalid-request", models.INVALID_TYPE.message,
                            typeCode=request.type_code)
            raise Refused(models.INVALID_TYPE)
        locks = self._store.fetch_all(models.type_of(request.type_code))
        return models.FetchAllResponse(resources=[lock.resource() for lock in locks])



def log_expired(logger: Logger, lock: Lock, session: str) -> None:
    """Locket logs an expiry under the session that registered the TTL (lock or burglar)."""
    logger.info(f"{session}.register-ttl.lock-expired", owner=lock.owner, type=lock.type,
                **{"resource-key": lock.key, "modified-index": lock.modified_index})


def _lock_data(lock: Lock) -> dict[str, Any]:
    return {"resource-key": lock.key, "owner": lock.owner, "type-code": models.type_code_of(lock.type)}


def _request_uuid(context: grpc.aio.ServicerContext) -> dict[str, str]:
    """Diego's lock runner sends a ``uuid`` with each Lock; Locket logs it with failures."""
    for name, value in context.invocation_metadata() or ():
        if name == "uuid":
            return {"request-uuid": str(value)}
    return {}
