"""measure/, slo and workload are usable without pytest (pytest-benchmark's stats.py model)."""

import subprocess
import sys


def test_importable_with_pytest_blocked():
    code = ("import sys; sys.modules['pytest'] = None; sys.modules['_pytest'] = None\n"
            "import pytest_diego.measure, pytest_diego.slo, pytest_diego.workload\n"
            "m = pytest_diego.measure.Measurements(); m.trend('RequestLatency').record(1.0, 0.1)\n"
            "print(pytest_diego.slo.evaluate_all(m, {'RequestLatency': 'p(99) < 1s'})[0].passed)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
