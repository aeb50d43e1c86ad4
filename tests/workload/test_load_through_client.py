"""The load runner driving the real BBS client at a stand-in BBS: every request is recorded."""

import threading
from collections.abc import Iterator

import pytest

from pytest_diego import slo
from pytest_diego.bbs import models
from pytest_diego.bbs.client import BBSClient
from pytest_diego.bbs.errors import BBSError
from pytest_diego.measure import Measurements, RequestRecorder
from pytest_diego.workload import OpenModel, fezzik_task_definition
from tests.support.stub_server import Answer, Recorded, StubServer


class StandInBBS:
    """Answers DesireTask; every third task already exists (ResourceExists)."""

    def __init__(self) -> None:
        self.desired: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, request: Recorded, handler: object) -> Answer:
        desire = models.DesireTaskRequest.FromString(request.body)
        response = models.TaskLifecycleResponse()
        if int(desire.task_guid.rsplit("-", 1)[1]) % 3 == 2:
            response.error.CopyFrom(models.Error(type=models.Error.ResourceExists, message="exists"))
        else:
            with self.lock:
                self.desired.add(desire.task_guid)
        return 200, {"Content-Type": "application/x-protobuf"}, response.SerializeToString()


@pytest.fixture
def stand_in_bbs() -> Iterator[tuple[StubServer, StandInBBS]]:
    stand_in = StandInBBS()
    with StubServer(stand_in) as server:
        yield server, stand_in


def test_every_desire_is_measured_and_acknowledged_desires_are_checked(stand_in_bbs):
    server, stand_in = stand_in_bbs
    m = Measurements()
    client = BBSClient(server.url, observer=RequestRecorder(m), timeout=10)
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

    tasks.read(stand_in.desired)
    check = tasks.result()
    assert check.valid and len(check.stable) == 20 and len(check.never_confirmed) == 10

    merged = Measurements.merged([m.to_dict()])
    verdicts = slo.evaluate_all(merged, {"RequestLatency.DesireTask": ["rate >= 0.6", "rate >= 0.999"]})
    assert [v.passed for v in verdicts] == [True, False]
    with pytest.raises(BBSError):
        client.desire_task("task-2", "pytest-diego", fezzik_task_definition("task-2"))
