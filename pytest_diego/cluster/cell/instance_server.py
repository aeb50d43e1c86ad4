"""Every RUNNING instance's own listener on ``<cell address>:<host port>``.

It answers any GET with 200 and ``{"process_guid","index","instance_guid","cell_id"}``, so routers
and probes reach a specific instance. Host ports start at 61001 as in Diego and are counted per
cell (each cell has its own loopback address); a port held by something else is skipped.
"""

from __future__ import annotations

import json

from pytest_diego.cluster.cell.containers import LRPContainer
from pytest_diego.cluster.cell.http import Listener, Request, Response, bind, serve

FIRST_HOST_PORT = 61001
LAST_HOST_PORT = 65535


async def open_listener(container: LRPContainer, address: str, ports_in_use: set[int]
                        ) -> tuple[int, Listener]:
    """Bind the lowest free host port from 61001 on ``address`` and serve the instance there."""
    body = json.dumps({"process_guid": container.process_guid, "index": container.index,
                       "instance_guid": container.instance_guid, "cell_id": container.cell_id}).encode()

    async def handler(request: Request) -> Response:
        if request.method != "GET":
            return Response(405, b'{"error":"method not allowed"}')
        return Response(200, body)

    port = FIRST_HOST_PORT
    while port <= LAST_HOST_PORT:
        if port not in ports_in_use:
            try:
                sock = bind(address, port)  # no await between choosing the port and binding it
            except OSError:
                pass  # taken by another process on this address; Diego would skip it too
            else:
                ports_in_use.add(port)
                try:
                    return port, await serve(handler, address, port, sock=sock)
                except BaseException:
                    ports_in_use.discard(port)
                    sock.close()
                    raise
        port += 1
    raise OSError(f"no free host port in {FIRST_HOST_PORT}-{LAST_HOST_PORT} on {address}")
