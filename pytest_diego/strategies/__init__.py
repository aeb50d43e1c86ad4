"""Hypothesis strategies for Diego's BBS models: test your own BBS, client or tooling with them.

Each is a function returning a strategy, like ``hypothesis.strategies``:

- **Valid** (``strategies.valid``): what a BBS must accept by Diego's validation
  (``bbs:models/*.go`` ``Validate()``, stricter than the embedded BBS's in places):
  ``desired_lrps()``, ``task_definitions()``, ``desire_task_requests()``,
  ``desired_lrp_updates()`` (``updated_desired_lrp(lrp, update)`` is what Diego makes of one),
  ``actions()`` (run, download, upload, timeout, try, emit-progress,
  serial, parallel, codependent), ``cf_routes()`` (``cf-router`` routes JSON in
  ``DesiredLRP.routes``), ``metric_tags()``, ``egress_rules()``. Strings are printable and routes
  JSON is compact ASCII, so a real BBS stores and returns them byte for byte.
- **Invalid** (``strategies.invalid``): ``invalid_desired_lrps()``,
  ``invalid_desire_task_requests()`` and ``invalid_desired_lrp_updates()`` draw
  ``Invalid(message, field)``, a valid message broken in one field that both Diego's BBS and the
  embedded one refuse with ``InvalidRequest`` (``field`` is the one its error names; ``fields=``
  picks which, from ``DESIRED_LRP_FIELDS``, ``TASK_FIELDS``, ``UPDATE_FIELDS``);
  ``malformed_protobuf()`` and ``malformed_requests()`` draw bytes no protobuf decoder reads (a
  truncated length, field number 0, wire type 6 or 7, an 11-byte varint), which a BBS answers
  with ``InvalidRequest`` too. ``REQUESTS`` maps Diego's route names to their request and
  response messages.
- **Any** (``strategies.wire``): ``any_desired_lrps()``, ``any_tasks()``, ``any_actual_lrps()``,
  ``any_events()``, ``any_actions()`` set every commonly used field to any value of its type,
  valid or not, for encoders, decoders and event parsers; ``filled(message_type)`` sets every field
  of any message.

Example, against your own BBS (nothing runs: no instances, its own domain, removed after)::

    from hypothesis import given, strategies as st
    from pytest_diego import strategies
    from pytest_diego.bbs import BBSClient

    @given(strategies.desired_lrps(domain=st.just("my-fuzz"), instances=st.just(0)))
    def test_what_i_desire_is_what_i_read_back(lrp):
        with BBSClient("http://127.0.0.1:8889") as bbs:
            bbs.desire_lrp(lrp)
            try:
                stored = bbs.desired_lrp_by_process_guid(lrp.process_guid)
                stored.ClearField("modification_tag")  # the BBS sets it
                assert stored == lrp
            finally:
                bbs.remove_desired_lrp(lrp.process_guid)
"""

from pytest_diego.strategies.invalid import (
    DESIRED_LRP_FIELDS,
    REQUESTS,
    TASK_FIELDS,
    UPDATE_FIELDS,
    Invalid,
    invalid_desire_task_requests,
    invalid_desired_lrp_updates,
    invalid_desired_lrps,
    malformed_protobuf,
    malformed_requests,
)
from pytest_diego.strategies.valid import (
    actions,
    cf_routes,
    desire_task_requests,
    desired_lrp_updates,
    desired_lrps,
    domains,
    egress_rules,
    guids,
    hostnames,
    metric_tags,
    task_definitions,
    text,
    updated_desired_lrp,
)
from pytest_diego.strategies.wire import (
    any_actions,
    any_actual_lrps,
    any_desired_lrps,
    any_events,
    any_tasks,
    filled,
    valid_examples,
)

__all__ = [
    "DESIRED_LRP_FIELDS",
    "REQUESTS",
    "TASK_FIELDS",
    "UPDATE_FIELDS",
    "Invalid",
    "actions",
    "any_actions",
    "any_actual_lrps",
    "any_desired_lrps",
    "any_events",
    "any_tasks",
    "cf_routes",
    "desire_task_requests",
    "desired_lrp_updates",
    "desired_lrps",
    "domains",
    "egress_rules",
    "filled",
    "guids",
    "hostnames",
    "invalid_desire_task_requests",
    "invalid_desired_lrp_updates",
    "invalid_desired_lrps",
    "malformed_protobuf",
    "malformed_requests",
    "metric_tags",
    "task_definitions",
    "text",
    "updated_desired_lrp",
    "valid_examples",
]
