"""The rep API a cell serves (rep ``routes.go``): state, work, stop, cancel, metrics."""

from __future__ import annotations

import json
import re

from pytest_diego.cluster.cell.http import Handler, Request, Response
from pytest_diego.cluster.cell.rep import Rep, metrics_text

_STOP = re.compile(r"^/v1/lrps/([^/]+)/instances/([^/]+)/stop$")
_CANCEL = re.compile(r"^/v1/tasks/([^/]+)/cancel$")
_NOT_FOUND = Response(404, b'{"error":"not found"}')


def make_handler(rep: Rep) -> Handler:
    async def handle(request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        if request.method == "GET":
            if path == "/state":
                return Response(200, json.dumps(rep.state()).encode())
            if path == "/metrics":
                return Response(200, metrics_text(rep.metrics()), "text/plain; version=0.0.4")
            if path == "/ping":
                return Response(200)
            return _NOT_FOUND
        if request.method != "POST":
            return Response(405, b'{"error":"method not allowed"}')
        if path == "/work":
            try:
                work = json.loads(request.body or b"{}")
                if not isinstance(work, dict):
                    raise ValueError("expected a JSON object {\"lrps\": [...], \"tasks\": [...]}")
                failed = rep.perform(work)
            except (ValueError, KeyError, TypeError) as e:
                return Response(400, json.dumps({"error": f"invalid work: {e!r}"}).encode())
            return Response(200, json.dumps(failed).encode())
        if match := _STOP.match(path):
            return Response(202) if rep.stop_lrp(match.group(1), match.group(2)) else _NOT_FOUND
        if match := _CANCEL.match(path):
            return Response(202) if rep.cancel_task(match.group(1)) else _NOT_FOUND
        return _NOT_FOUND

    return handle
