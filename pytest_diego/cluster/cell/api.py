"""The rep API a hollow cell serves, as Diego's rep ``routes.go`` and ``handlers/`` define it.

Two listeners, as the rep has: the securable one (``rep_url``; HTTPS with mutual TLS when the
cell has a certificate) and the admin one (``rep_address``; plain HTTP):

- securable: ``GET /state`` (200, ``CellState``), ``POST /work`` (200, the ``Work`` that failed;
  400 for a body that does not decode, 500 for work meant for another cell),
  ``POST /v1/lrps/:process_guid/instances/:instance_guid/stop`` (202; 500 when no such
  container), ``POST /v1/tasks/:task_guid/cancel`` (202, always: the rep deletes the container
  after answering), ``PUT /v2/lrps/:process_guid/instances/:instance_guid`` and its older
  ``/v1/...`` twin (202 with an ``LRPUpdate``; 400 bad body, 500 no such container);
- admin: ``GET /ping`` (200), ``POST /evacuate`` (202, ``{"ping_path":"/ping"}``: the cell
  evacuates and then stops), and ``GET /metrics`` (the metrics agent's format; a real rep
  sends its metrics to Loggregator instead).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from pytest_diego.cluster.cell.http import Handler, Request, Response
from pytest_diego.cluster.cell.rep import CellIdMismatch, Rep
from pytest_diego.cluster.metrics_agent import CONTENT_TYPE
from pytest_diego.rep.models import LRPUpdate, RepJSONError, Work, encode

_STOP = re.compile(r"^/v1/lrps/([^/]+)/instances/([^/]+)/stop$")
_UPDATE = re.compile(r"^/v[12]/lrps/([^/]+)/instances/([^/]+)$")
_CANCEL = re.compile(r"^/v1/tasks/([^/]+)/cancel$")
_NOT_FOUND = Response(404, b"404 page not found\n", "text/plain; charset=utf-8")
EVACUATE_ANSWER = json.dumps({"ping_path": "/ping"}, separators=(",", ":")).encode()


def _error(status: int, error: Exception) -> Response:
    return Response(status, json.dumps({"error": str(error)}).encode())


def rep_handler(rep: Rep) -> Handler:
    """The securable listener's routes."""

    async def handle(request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        route = (request.method, path)
        if route == ("GET", "/state"):
            return Response(200, encode(rep.state().to_json()))
        if route == ("POST", "/work"):
            try:
                work = Work.from_json(json.loads(request.body or b"null"))
            except (ValueError, RepJSONError) as e:
                return _error(400, e)
            try:
                return Response(200, encode(rep.perform(work).to_json()))
            except CellIdMismatch as e:
                return _error(500, e)
        if request.method == "POST" and (match := _STOP.match(path)):
            if rep.stop_lrp(match.group(1), match.group(2)):
                return Response(202)
            return _error(500, LookupError(f"container {match.group(2)} not found"))
        if request.method == "POST" and (match := _CANCEL.match(path)):
            rep.cancel_task(match.group(1))
            return Response(202)
        if request.method == "PUT" and (match := _UPDATE.match(path)):
            try:
                update = LRPUpdate.from_json(json.loads(request.body or b"null"))
            except (ValueError, RepJSONError) as e:
                return _error(400, e)
            if rep.update_lrp(match.group(1), match.group(2), update):
                return Response(202)
            return _error(500, LookupError(f"container {match.group(2)} not found"))
        return _NOT_FOUND

    return handle


def admin_handler(rep: Rep, evacuate: Callable[[], None]) -> Handler:
    """The admin listener's routes; ``evacuate`` starts the cell's evacuation and returns at once."""

    async def handle(request: Request) -> Response:
        route = (request.method, request.path.split("?", 1)[0])
        if route == ("GET", "/ping"):
            return Response(200, b"", "text/plain")
        if route == ("POST", "/evacuate"):
            evacuate()
            return Response(202, EVACUATE_ANSWER)
        if route == ("GET", "/metrics"):
            return Response(200, rep.exposition(), CONTENT_TYPE)
        return _NOT_FOUND

    return handle
