"""SSE parsing and event decoding, independent of any connection."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_diego.bbs import models
from pytest_diego.bbs.errors import BBSProtocolError
from pytest_diego.bbs.events import EVENT_TYPES, SSEParser, decode_event, encode_event
from pytest_diego.strategies import any_events


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    positions = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, start = [], 0
    for position in [*positions, len(data)]:
        pieces.append(data[start:position])
        start = position
    return pieces


@given(st.lists(any_events(), min_size=1, max_size=4), st.lists(st.integers(0, 10**6), max_size=40))
def test_events_survive_arbitrary_chunk_boundaries(messages, cuts):
    stream = b"".join(encode_event(index + 1, message) for index, message in enumerate(messages))
    parser = SSEParser()
    raw = [event for piece in split(stream, cuts) for event in parser.feed(piece)]
    decoded = [decode_event(*event, source="test") for event in raw]
    assert [event.message for event in decoded] == messages
    assert [event.id for event in decoded] == list(range(1, len(messages) + 1))
    assert [event.type for event in decoded] == [
        {cls: name for name, cls in EVENT_TYPES.items()}[type(message)] for message in messages
    ]


def test_byte_at_a_time_with_crlf_comments_and_multiline_data():
    payload = base64.b64encode(models.TaskRemovedEvent(task=models.Task(task_guid="t")).SerializeToString())
    half = len(payload) // 2
    stream = (
        b": keep-alive comment\r\n"
        b"retry: 1000\r\n"
        b"id: 7\r\nevent: task_removed\r\ndata: "
        + payload[:half]
        + b"\r\ndata:"
        + payload[half:]
        + b"\r\n\r\n"
        b"event: task_removed\ndata: " + payload + b"\n\n"
    )
    parser = SSEParser()
    raw = [event for index in range(len(stream)) for event in parser.feed(stream[index : index + 1])]
    # data lines join with LF (the BBS never splits its payload over data lines)
    assert raw[0] == ("7", "task_removed", payload[:half] + b"\n" + payload[half:])
    assert raw[1] == ("7", "task_removed", payload)  # the last id carries over
    assert decode_event(*raw[1], source="s").message.task.task_guid == "t"


def test_blank_lines_without_data_dispatch_nothing():
    parser = SSEParser()
    assert parser.feed(b"\n\nid: 1\nevent: task_created\n\n") == []
    assert parser.feed(b"data: \n") == []
    assert parser.feed(b"\n") == [("1", "", b"")]


def test_encode_event_is_what_the_bbs_writes():
    message = models.ActualLRPCrashedEvent(crash_count=3, crash_reason="exit 1")
    assert encode_event(12, message) == (
        b"id: 12\nevent: actual_lrp_crashed\ndata: " + base64.b64encode(message.SerializeToString()) + b"\n\n"
    )


def test_unknown_event_type_is_a_protocol_error():
    with pytest.raises(BBSProtocolError, match="unknown event type 'lrp_exploded'") as info:
        decode_event("1", "lrp_exploded", b"", source="http://bbs/v1/events/lrp_instances.r1")
    assert info.value.outcome == "InvalidProtobufMessage"


@pytest.mark.parametrize(
    "data",
    [b"not base64!", base64.b64encode(b"\xff\xff\xff\xff"), b"Zm9v\nYmFy"],
    ids=["text", "proto", "lines"],
)
def test_undecodable_payload_is_a_protocol_error(data):
    with pytest.raises(BBSProtocolError, match=r"task_created.*TaskCreatedEvent"):
        decode_event("3", "task_created", data, source="s")


def test_every_stream_event_name_maps_to_diegos_payload():
    lrp_stream = {
        "desired_lrp_created", "desired_lrp_changed", "desired_lrp_removed", "actual_lrp_instance_created",
        "actual_lrp_instance_changed", "actual_lrp_instance_removed", "actual_lrp_crashed",
    }  # fmt: skip
    assert lrp_stream | {"task_created", "task_changed", "task_removed"} <= set(EVENT_TYPES)
    assert EVENT_TYPES["actual_lrp_instance_changed"] is models.ActualLRPInstanceChangedEvent
    assert EVENT_TYPES["actual_lrp_changed"] is models.ActualLRPChangedEvent  # deprecated group event
