"""The load runner driving the real BBS client at a stand-in BBS: every request is recorded."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from pytest_diego import slo
from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSError
from pytest_diego.measure import Measurements, RequestRecorder
from pytest_diego.workload import OpenModel, fezzik_task_definition


class StandInBBS(BaseHTTPRequestHandler):
    """Answers DesireTask; every third task already exists (ResourceExists)."""

    desired: ClassVar[set[str]] = set()
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = models.DesireTaskRequest.FromString(body)
        response = models.TaskLifecycleResponse()
        if int(request.task_guid.rsplit("-", 1)[1]) % 3 == 2:
            response.error.CopyFrom(models.Error(type=models.Error.ResourceExists, message="exists"))
        else:
            with self.lock:
                self.desired.add(request.task_guid)
        payload = response.SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bbs_url():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StandInBBS)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_every_desire_is_measured_and_acknowledged_desires_are_checked(bbs_url):
    m = Measurements()
    client = BBSClient(bbs_url, observer=RequestRecorder(m), timeout=10)
    tasks = m.set_check("tasks")

    def desire(i: int) -> None:
        guid = f"task-{i}"
        tasks.attempt(guid)
        client.desire_task(guid, "pytest-diego", fezzik_task_definition(guid))
        tasks.acknowledge(guid)

    result = OpenModel(rate=60, duration=0.5, workers=4, max_in_flight=30, drain_timeout=30).run(desire, m)
    assert result.started == 30 and result.failures == {"ResourceExists": 10}
    per_route = m.metric("RequestLatency.DesireTask")
    assert (per_route.count, per_route.ok, per_route.failures) == (30, 20, {"ResourceExists": 10})
    assert m.metric("RequestLatency").count == 30

    tasks.read(StandInBBS.desired)
    check = tasks.result()
    assert check.valid and len(check.stable) == 20 and len(check.never_confirmed) == 10

    merged = Measurements.merged([m.to_dict()])
    verdicts = slo.evaluate_all(merged, {"RequestLatency.DesireTask": ["rate >= 0.6", "rate >= 0.999"]})
    assert [v.passed for v in verdicts] == [True, False]
    with pytest.raises(BBSError):
        client.desire_task("task-2", "pytest-diego", fezzik_task_definition("task-2"))
