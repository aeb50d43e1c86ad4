"""SLO expressions: k6's forms, units, windows, and errors that say where and what."""

import pytest

from pytest_diego.slo import SLOSyntaxError, parse


@pytest.mark.parametrize(("text", "aggregation", "percentile", "op", "value", "window"), [
    ("p(99) < 1s", "p", 99.0, "<", 1.0, None),
    ("p(99.9) <= 250ms", "p", 99.9, "<=", 0.25, None),
    ("p(99)<1s", "p", 99.0, "<", 1.0, None),
    ("med < 0.5", "med", None, "<", 0.5, None),
    ("avg > 100us", "avg", None, ">", 1e-4, None),
    ("min >= 10ns", "min", None, ">=", 1e-8, None),
    ("max != 2m", "max", None, "!=", 120.0, None),
    ("max == 1h", "max", None, "==", 3600.0, None),
    ("count > 0", "count", None, ">", 0.0, None),
    ("rate >= 0.999", "rate", None, ">=", 0.999, None),
    ("rate >= 99.9%", "rate", None, ">=", 0.999, None),
    ("value < 5", "value", None, "<", 5.0, None),
    ("p(99) < 1s over 1m", "p", 99.0, "<", 1.0, 60.0),
    ("rate >= 0.99 over 30s", "rate", None, ">=", 0.99, 30.0),
    ("p(0) < 1", "p", 0.0, "<", 1.0, None),
    ("p(100) < 1", "p", 100.0, "<", 1.0, None),
])
def test_parses(text, aggregation, percentile, op, value, window):
    t = parse(text)
    assert (t.aggregation, t.percentile, t.op, t.window) == (aggregation, percentile, op, window)
    assert t.value == pytest.approx(value)


def test_bare_numbers_are_seconds_and_rate_percent_is_exact():
    assert parse("p(99) < 2").value == 2.0
    assert parse("rate >= 99.9%").value == 0.999


@pytest.mark.parametrize(("text", "message"), [
    ("p(99) < 1x", "unknown unit 'x' at column 9; expected one of ns, us, ms, s, m, h"),
    ("p(101) < 1s", "percentile 101 is outside 0..100 at column 3"),
    ("p(-1) < 1s", "at column 3"),
    ("p99 < 1s", "unexpected '99' at column 2; expected '(' after p"),
    ("p(99 < 1s", "unexpected '<' at column 6; expected ')' after the percentile"),
    ("mean < 1s", "unknown aggregation 'mean' at column 1; expected one of p(N), med"),
    ("p(99) =< 1s", "at column 7"),
    ("p(99) < ", "unexpected end of expression at column 9; expected a number"),
    ("", "unexpected end of expression at column 1; expected an aggregation"),
    ("count > 5s", "count takes a plain number, not unit 's' at column 9"),
    ("rate > 1ms", "rate takes a plain number or a percentage, not unit 'ms'"),
    ("p(99) < 1s over", "expected a window duration such as 1m"),
    ("p(99) < 1s over 1", "a window needs a unit at column 17"),
    ("p(99) < 1s over 1x", "unknown unit 'x' at column 17"),
    ("p(99) < 1s under 1m", "unexpected 'under' at column 12; expected the end, or 'over <duration>'"),
    ("p(99) < 1s over 1m extra", "unexpected 'extra' at column 20; expected the end of the expression"),
])
def test_bad_expressions_fail_fast_with_position_and_expectation(text, message):
    with pytest.raises(SLOSyntaxError) as info:
        parse(text)
    assert message in str(info.value)
    assert "^" in str(info.value)  # a caret under the column
