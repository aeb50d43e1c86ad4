"""Bad input to the embedded BBS: random bytes, truncated and mutated valid messages, huge fields,
wrong content types, methods and lengths, on every route. Every answer must be a well-formed HTTP
response, either 200 with the route's protobuf response (errors in band) or a clean 4xx; never a
500, the server keeps serving, and every record desired before the fuzzing is still there,
byte for byte.

``DIEGO_HARDENING_FUZZ_EXAMPLES`` sets the examples per strategy (default 150)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from bbs_inputs import RawResponse, exchange
from hardening_support import knob
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_diego.bbs import BBSClient, models
from pytest_diego.bbs.wire import varint
from pytest_diego.cluster.bbs import BBSConfig, BBSServer
from pytest_diego.cluster.bbs.api import Route
from pytest_diego.cluster.bbs.httpserver import MAX_BODY
from pytest_diego.strategies import valid_examples
from pytest_diego.workload.builders import desired_lrp, task_definition

EXAMPLES = int(knob("DIEGO_HARDENING_FUZZ_EXAMPLES", 150))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
CLEAN_ERRORS = {400, 404, 405, 411, 413}
SEEDED_DOMAIN = "seeded"
TRIED: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()
HIT: set[str] = set()


class Fuzzed:
    """The BBS under fuzzing, its routes and the snapshot of what was seeded."""

    def __init__(self, server: BBSServer) -> None:
        self.server = server
        self.port = server.bbs_listener.port
        assert server.api is not None
        self.routes: dict[str, Route] = dict(server.api.routes)
        self.paths = sorted(self.routes)
        self.examples = {path: valid_examples(r.name, r.request) for path, r in self.routes.items()}
        self.seeded: dict[str, bytes] = {}


def snapshot(client: BBSClient) -> dict[str, bytes]:
    """Every desired LRP, Task and actual LRP, serialized, by key."""
    shot = {f"lrp:{d.process_guid}": d.SerializeToString(deterministic=True) for d in client.desired_lrps()}
    shot.update({f"task:{t.task_guid}": t.SerializeToString(deterministic=True) for t in client.tasks()})
    for a in client.actual_lrps():
        key = f"actual:{a.actual_lrp_key.process_guid}:{a.actual_lrp_key.index}"
        shot[key] = a.SerializeToString(deterministic=True)
    return shot


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    state_dir: Path = tmp_path_factory.mktemp("fuzz")
    server = BBSServer(BBSConfig(state_dir=state_dir, convergence_interval=3600.0)).start()
    try:
        with BBSClient(server.url) as client:
            client.upsert_domain(SEEDED_DOMAIN, 0)
            for i in range(5):
                client.desire_lrp(desired_lrp(f"seed-lrp-{i}", domain=SEEDED_DOMAIN, instances=2))
                client.desire_task(f"seed-task-{i}", SEEDED_DOMAIN, task_definition())
            target = Fuzzed(server)
            target.seeded = snapshot(client)
        assert len(target.seeded) == 5 + 5 + 10
        yield target
    finally:
        server.stop()


def check(target: Fuzzed, path: str, response: RawResponse | None, kind: str,
          may_close: bool = False) -> None:
    """The answer is 200 with the route's response message, or a clean 4xx error."""
    TRIED[kind] += 1
    if response is None:
        assert may_close, f"{kind}: the server closed the connection without answering {path}"
        OUTCOMES["closed without answer"] += 1
        return
    route = target.routes.get(path)
    assert response.status != 500, f"{kind}: {path} failed inside the BBS: {response.body[:300]!r}"
    if response.status in CLEAN_ERRORS:
        OUTCOMES[f"HTTP {response.status}"] += 1
        assert response.headers.get("content-type", "").startswith("text/plain"), response.headers
        return
    assert response.status == 200, f"{kind}: {path} answered HTTP {response.status}"
    assert route is not None, f"{kind}: unknown path {path} answered 200"
    if route.stream:
        OUTCOMES["event stream opened"] += 1
        assert response.headers["content-type"].startswith("text/event-stream")
        return
    assert response.headers["content-type"] == "application/x-protobuf"
    if route.response is None:
        OUTCOMES["200"] += 1
        return
    message = route.response()
    message.ParseFromString(response.body)  # raises on a malformed answer
    if message.HasField("error"):
        assert message.error.message, f"{kind}: {path} answered an in-band error without a message"
        OUTCOMES[f"in-band {models.Error.Type.Name(message.error.type)}"] += 1
    else:
        OUTCOMES["200 ok"] += 1


def send(target: Fuzzed, path: str, body: bytes, kind: str, *, method: str = "POST",
         headers: dict[str, str] | None = None) -> None:
    stream = target.routes[path].stream if path in target.routes else False
    HIT.add(path)
    response = exchange(target.port, method, path, body, headers, stream=stream)
    check(target, path, response, kind)


paths = st.shared(st.integers(min_value=0, max_value=10_000), key="path")


def pick(target: Fuzzed, index: int) -> str:
    """Route ``index``: hypothesis draws small indices often, so the first examples of each
    strategy walk the table and every route gets its share."""
    return target.paths[index % len(target.paths)]


@FUZZ
@given(index=paths, body=st.binary(max_size=4096))
def test_random_bytes_on_every_route(fuzzed, index, body):
    send(fuzzed, pick(fuzzed, index), body, "random bytes")


@FUZZ
@given(index=paths, data=st.data())
def test_truncated_valid_messages(fuzzed, index, data):
    path = pick(fuzzed, index)
    example = data.draw(st.sampled_from(fuzzed.examples[path]))
    cut = data.draw(st.integers(min_value=0, max_value=max(len(example) - 1, 0)))
    send(fuzzed, path, example[:cut], "truncated message")


@FUZZ
@given(index=paths, data=st.data())
def test_mutated_valid_messages(fuzzed, index, data):
    path = pick(fuzzed, index)
    body = bytearray(data.draw(st.sampled_from(fuzzed.examples[path])))
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "duplicate"]))
        at = data.draw(st.integers(min_value=0, max_value=max(len(body) - 1, 0)))
        if op == "flip" and body:
            body[at] ^= data.draw(st.integers(min_value=1, max_value=255))
        elif op == "insert":
            body[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and body:
            del body[at:at + data.draw(st.integers(min_value=1, max_value=8))]
        elif op == "duplicate":
            body += body[at:]
    send(fuzzed, path, bytes(body), "mutated message")


@settings(FUZZ, max_examples=max(EXAMPLES // 5, 10))
@given(index=paths, size=st.integers(min_value=64 * 1024, max_value=4 * 1024 * 1024),
       where=st.sampled_from(["string", "repeated", "varint-length"]))
def test_huge_fields(fuzzed, index, size, where):
    path = pick(fuzzed, index)
    example = fuzzed.examples[path][-1]
    if where == "string":  # field 1 as a huge length-delimited value, then the valid message
        body = b"\x0a" + varint(size) + b"x" * size + example
    elif where == "repeated":  # a valid message repeated until it is huge
        body = example * max(size // max(len(example), 1), 1)
    else:  # a length prefix claiming more bytes than the body has
        body = b"\x0a" + varint(size * 100) + example
    send(fuzzed, path, body, "huge field")


@FUZZ
@given(index=paths, content_type=st.sampled_from(
    ["application/json", "text/plain", "multipart/form-data; boundary=x", "",
     "application/x-protobuf; x=\x01",
     None]), as_json=st.booleans())
def test_wrong_content_types(fuzzed, index, content_type, as_json):
    path = pick(fuzzed, index)
    body = b'{"process_guid": "fuzz", "task_guid": "fuzz"}' if as_json else fuzzed.examples[path][0]
    send(fuzzed, path, body, "wrong content type", headers={"Content-Type": content_type})


@FUZZ
@given(index=paths, method=st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW"]),
       junk=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/._-%", max_size=40))
def test_wrong_methods_and_paths(fuzzed, index, method, junk):
    path = pick(fuzzed, index)
    if method == "HEAD":  # a HEAD answer has no body to read; send it to an unknown path instead
        method = "GET"
    send(fuzzed, path, b"", "wrong method", method=method)
    send(fuzzed, f"/v1/{junk}", b"", "unknown path", method="POST")


def test_framing_errors_are_clean(fuzzed):
    """Bad lengths, chunked bodies, oversized and malformed headers: a 4xx, or the connection
    dropped when the body can never be read, and the next client is served."""
    path = "/v1/desired_lrps/list.r3"
    cases: list[tuple[str, dict[str, str], bytes, bool]] = [
        ("negative length", {"Content-Length": "-5"}, b"", False),
        ("non-numeric length", {"Content-Length": "ten"}, b"", False),
        ("body over the limit", {"Content-Length": str(MAX_BODY + 1)}, b"", False),
        ("chunked body", {"Transfer-Encoding": "chunked", "Content-Length": None}, b"5\r\nhello\r\n0\r\n\r\n",
         False),
        ("length beyond the body", {"Content-Length": "100"}, b"abc", True),
        ("huge header", {"X-Junk": "j" * 20_000}, b"", True),
        ("many headers", {f"X-{i}": "v" for i in range(150)}, b"", False),
    ]
    for kind, headers, body, may_close in cases:
        response = _framing(fuzzed.port, path, headers, body)
        check(fuzzed, path, response, kind, may_close=may_close)
        assert response is None or response.status in CLEAN_ERRORS | {200}, (kind, response.status)
    tls_hello = b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n"
    for line in (b"GARBAGE\r\n\r\n", b"POST /v1/ping HTTP/9.9\r\n\r\n", tls_hello):
        response = _raw(fuzzed.port, line)
        TRIED["malformed request line"] += 1
        assert response is not None and response.startswith(b"HTTP/1.1 400"), (line, response)
    with BBSClient(fuzzed.server.url) as client:
        assert client.ping()


def test_store_intact_and_server_up_after_fuzzing(fuzzed, figures):
    """Runs last in this module: the seeded records are unchanged and the BBS still serves."""
    with BBSClient(fuzzed.server.url, timeout=10) as client:
        assert client.ping()
        after = snapshot(client)
        assert SEEDED_DOMAIN in client.domains()
    changed = {k for k, v in fuzzed.seeded.items() if after.get(k) != v}
    assert not changed, f"fuzzing changed or lost seeded records: {sorted(changed)}"
    missed = set(fuzzed.paths) - HIT
    assert not missed, f"routes never fuzzed: {sorted(missed)}"
    total = sum(TRIED.values())
    figures.update(inputs_tried=total, routes=len(fuzzed.paths),
                   **{f"tried[{k}]": v for k, v in TRIED.items()},
                   **{f"answer[{k}]": v for k, v in OUTCOMES.most_common(8)})
    assert total >= 6 * EXAMPLES, TRIED


def _framing(port: int, path: str, headers: dict[str, str], body: bytes) -> RawResponse | None:
    import socket

    sent = {"Content-Length": str(len(body)), "Connection": "close", **headers}
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sent.items() if v is not None)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        sock.shutdown(socket.SHUT_WR)  # a body promised but never sent: the server must not wait forever
        data = _read_all(sock)
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return RawResponse(int(lines[0].split(" ", 2)[1]), headers, body)


def _raw(port: int, request: bytes) -> bytes | None:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return _read_all(sock) or None


def _read_all(sock) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
