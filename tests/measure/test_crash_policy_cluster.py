"""CrashPolicy against the embedded cluster: real apps crashing on real cells, judged from the BBS's
own LRP instance event stream at a small time scale."""

from __future__ import annotations

import time
from pathlib import Path

from pytest_diego import slo
from pytest_diego.cluster import ClusterConfig, EmbeddedCluster
from pytest_diego.cluster.timing import Timing
from pytest_diego.measure import CrashPolicy, EventFollower, Measurements
from pytest_diego.workload import desired_lrp

SCALE = 0.05  # convergence every 1.5 s; crash 3 waits 1.5 s, crash 4 3 s
SLACK = 1.0  # seconds past the backoff and one convergence tick for the restart to show
JUDGED_CRASHES = 4  # per instance: two immediate restarts and two after a backoff


def test_real_crashes_on_the_embedded_cluster_are_judged_on_policy(tmp_path: Path):
    timing = Timing(time_scale=SCALE)
    config = ClusterConfig(cells=2, time_scale=SCALE, state_dir=tmp_path / "cluster")
    m = Measurements()
    # 20 s of app time is 1 s at this time scale: each life runs 1 s, then the app exits
    app = desired_lrp("crashy", instances=2, env={"MIN_SECONDS_TIL_CRASH": "20",
                                                  "MAX_SECONDS_TIL_CRASH": "20"})
    with EmbeddedCluster.start(config) as cluster, cluster.client(timeout=10) as client:
        policy = CrashPolicy(timing, m.rate("CrashRestartOnPolicy"), slack=SLACK,
                             process_guids={"crashy"})
        follower = EventFollower(client.lrp_instance_events(), m.timelines, policy).start()
        try:
            client.desire_lrp(app)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                counts = [sum(1 for j in policy.judgments if j.instance == f"crashy/{i}") for i in (0, 1)]
                if min(counts) >= JUDGED_CRASHES:
                    break
                time.sleep(0.2)
            client.remove_desired_lrp("crashy")
        finally:
            follower.stop()
        assert follower.error is None
    policy.close()
    judged = {(j.instance, j.crash_count): j for j in policy.judgments}
    for i in (0, 1):
        for n in range(1, JUDGED_CRASHES + 1):
            assert (f"crashy/{i}", n) in judged, f"crash {n} of crashy/{i} not judged: {policy.judgments}"
    bad = [j for j in policy.judgments if j.outcome != "ok"]
    assert not bad, f"restarts off Diego's policy: {bad}"
    (verdict,) = slo.evaluate_all(m, {"CrashRestartOnPolicy": "rate == 1"})
    assert verdict.passed, verdict
    # the delayed restarts really waited: crash 3 for at least its 1.5 s backoff, crash 4 for 3 s
    for i in (0, 1):
        for n, wait in ((3, 1.5), (4, 3.0)):
            j = judged[(f"crashy/{i}", n)]
            assert j.restarted_at is not None and j.restarted_at - j.crashed_at >= wait
