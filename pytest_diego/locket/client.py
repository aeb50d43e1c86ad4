"""``LocketClient``: Locket's four calls, typed, with errors that say what to check.

    with LocketClient("127.0.0.1:8891", ca_file=..., cert_file=..., key_file=...) as locket:
        locket.lock("cell-1", owner, value=presence_json, type_code=models.PRESENCE)
        cells = locket.fetch_all(models.PRESENCE)

Mutual TLS as Diego's components use it (a client certificate signed by the CA Locket trusts)
when the three files are given; plain gRPC otherwise. One HTTP/2 connection is kept and shared
by every call; calls from many threads are fine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from pytest_diego.locket import models
from pytest_diego.locket._pb.locket_pb2_grpc import LocketStub
from pytest_diego.locket.errors import LocketConfigError, error_from_rpc

DEFAULT_TIMEOUT = 10.0
"""Seconds per call: Diego's components give Locket calls 10 s (communication_timeout)."""



class LocketClient:
    """A client of one Locket server (Diego's ``locket_address``: ``host:port``)."""

    def __init__(self, address: str, *, ca_file: str | Path | None = None,
                 cert_file: str | Path | None = None, key_file: str | Path | None = None,
                 server_name: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise LocketConfigError(f"Locket address {address!r}: expected host:port, e.g. 127.0.0.1:8891",
                                    address=address)
        if not timeout > 0:
            raise LocketConfigError(f"timeout must be > 0 seconds, got {timeout!r}", address=address)
        self.address = address
        self.timeout = timeout
        files = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file}
        given = {name: path for name, path in files.items() if path is not None}
        if given and len(given) != len(files):
            missing = ", ".join(sorted(set(files) - set(given)))
            raise LocketConfigError(
                f"mutual TLS with Locket at {address} needs ca_file, cert_file and key_file; missing: "
                f"{missing}", address=address)
        self.tls = bool(given)
        options: list[tuple[str, Any]] = []
        if self.tls:
            pem = {name: _read(name, Path(path), address) for name, path in given.items()}
            credentials = grpc.ssl_channel_credentials(
                root_certificates=pem["ca_file"], private_key=pem["key_file"],
                certificate_chain=pem["cert_file"])
            if server_name:
                options.append(("grpc.ssl_target_name_override", server_name))
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self.stub = LocketStub(self._channel)
        """The raw stub, for calls the typed methods do not make (e.g. a request Locket refuses)."""

    # -- Locket's calls -----------------------------------------------------------------------
    def lock(self, key: str, owner: str, *, value: str = "", type_code: models.TypeCode = models.LOCK,
             ttl_in_seconds: int = models.DEFAULT_SESSION_TTL, timeout: float | None = None,
             wait_for_ready: bool = False) -> None:
        """Acquire ``key`` for ``owner``, or refresh it if ``owner`` holds it already.

        Sends ``type`` beside ``type_code``, as Diego's rep and BBS do. Raises LockCollisionError
        when another owner holds the key. ``wait_for_ready`` waits (up to ``timeout``) for Locket
        to be reachable rather than failing at once, as Diego's lock runner retries do.
        """
        resource = models.Resource(key=key, owner=owner, value=value, type_code=type_code,
                                   type=models.type_of(type_code))
        request = models.LockRequest(resource=resource, ttl_in_seconds=ttl_in_seconds)
        self._call(self.stub.Lock, request, f"Lock of {key!r}", timeout, wait_for_ready)

    def release(self, key: str, owner: str) -> None:
        """Release ``key``; a key nobody holds is already released. Raises LockCollisionError
        when another owner holds it."""
        request = models.ReleaseRequest(resource=models.Resource(key=key, owner=owner))
        self._call(self.stub.Release, request, f"Release of {key!r}")

    def fetch(self, key: str) -> models.Resource:
        """The resource held under ``key``; ResourceNotFoundError when nothing holds it."""
        response: models.FetchResponse = self._call(
            self.stub.Fetch, models.FetchRequest(key=key), f"Fetch of {key!r}")
        return response.resource

    def fetch_all(self, type_code: models.TypeCode | str) -> list[models.Resource]:
        """Every held resource of one type: ``models.LOCK``/``models.PRESENCE`` or ``"lock"``/``"presence"``.

        Sends both the code and the deprecated type string, as Diego's BBS does.
        """
        if isinstance(type_code, str):
            name, code = type_code, models.type_code_of(type_code)
            if not models.is_valid_type_code(code):
                raise LocketConfigError(f"fetch_all({type_code!r}): the type is 'lock' or 'presence'",
                                        address=self.address)
        else:
            name, code = models.type_of(type_code), type_code
        request = models.FetchAllRequest(type_code=code, type=name)
        response: models.FetchAllResponse = self._call(self.stub.FetchAll, request, f"FetchAll of {name!r}")
        return list(response.resources)

    # -- plumbing -------------------------------------------------------------------------------
    def _call(self, method: Any, request: Any, what: str, timeout: float | None = None,
              wait_for_ready: bool = False) -> Any:
        timeout = self.timeout if timeout is None else timeout
        try:
            return method(request, timeout=timeout, wait_for_ready=wait_for_ready or None)
        except grpc.RpcError as error:
            raise error_from_rpc(error, address=self.address, what=what, tls=self.tls,
                                 timeout=timeout) from None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> LocketClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read(name: str, path: Path, address: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise LocketConfigError(f"{name} {path}: cannot read it ({e.strerror or e}); needed for mutual "
                                f"TLS with Locket at {address}", address=address) from e
