"""The generated Locket models carry Locket's names, field numbers and service, as locket.proto has them."""

from __future__ import annotations

import pytest

from pytest_diego.locket import models
from pytest_diego.locket._pb import locket_pb2

FIELDS = {
    models.Resource: {"key": 1, "owner": 2, "value": 3, "type": 4, "type_code": 5},
    models.LockRequest: {"resource": 1, "ttl_in_seconds": 2},
    models.LockResponse: {},
    models.ReleaseRequest: {"resource": 1},
    models.ReleaseResponse: {},
    models.FetchRequest: {"key": 1},
    models.FetchResponse: {"resource": 1},
    models.FetchAllRequest: {"type": 1, "type_code": 2},
    models.FetchAllResponse: {"resources": 1},
}


@pytest.mark.parametrize("message", list(FIELDS), ids=lambda m: m.DESCRIPTOR.name)
def test_field_numbers_are_lockets(message):
    assert message.DESCRIPTOR.full_name == f"models.{message.DESCRIPTOR.name}"
    assert {f.name: f.number for f in message.DESCRIPTOR.fields} == FIELDS[message]


def test_the_type_strings_are_deprecated_beside_the_code():
    for message in (models.Resource, models.FetchAllRequest):
        assert message.DESCRIPTOR.fields_by_name["type"].GetOptions().deprecated
        assert not message.DESCRIPTOR.fields_by_name["type_code"].GetOptions().deprecated
    assert dict(models.TypeCode.items()) == {"UNKNOWN": 0, "LOCK": 1, "PRESENCE": 2}


def test_the_service_is_models_locket_with_its_four_calls():
    service = locket_pb2.DESCRIPTOR.services_by_name["Locket"]
    assert service.full_name == "models.Locket"
    assert {m.name: (m.input_type.name, m.output_type.name) for m in service.methods} == {
        "Lock": ("LockRequest", "LockResponse"), "Fetch": ("FetchRequest", "FetchResponse"),
        "Release": ("ReleaseRequest", "ReleaseResponse"), "FetchAll": ("FetchAllRequest", "FetchAllResponse")}
