"""Jepsen-style set checking of acknowledged desires."""

import pytest

from pytest_diego.measure import Measurements, SetCheck


def test_classifies_stable_lost_recovered_never_confirmed_and_unexpected():
    check = SetCheck()
    for guid in ("a", "b", "c"):
        check.acknowledge(guid)
    check.attempt("timed-out-but-there")
    check.attempt("errored")
    check.read({"a", "b", "timed-out-but-there", "stranger"})
    result = check.result()
    assert result.stable == {"a", "b"}
    assert result.lost == {"c"}
    assert result.recovered == {"timed-out-but-there"}
    assert result.never_confirmed == {"errored"}
    assert result.unexpected == {"stranger"}
    assert not result.valid
    assert "1 lost" in result.summary()


def test_nothing_lost_is_valid():
    check = SetCheck()
    check.acknowledge("a")
    check.read(["a"])
    assert check.result().valid


def test_no_final_read_never_passes():
    check = SetCheck()
    check.acknowledge("a")
    with pytest.raises(ValueError, match="no final read"):
        check.result()


def test_workers_acknowledgements_merge():
    a, b = Measurements(), Measurements()
    a.set_check("lrps").acknowledge("x")
    b.set_check("lrps").acknowledge("y")
    merged = Measurements.merged([a.to_dict(), b.to_dict()])
    merged.set_check("lrps").read({"x"})
    assert merged.set_check("lrps").result().lost == {"y"}
