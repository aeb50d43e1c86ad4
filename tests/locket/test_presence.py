"""The cell presence JSON Diego's rep keeps in Locket: byte for byte as Go's json.Marshal writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_diego.bbs import models as bbs_models
from pytest_diego.locket import (
    cells_from_resources,
    marshal_cell_presence,
    models,
    new_cell_presence,
    unmarshal_cell_presence,
)

FIXTURES = Path(__file__).parent / "fixtures"


def compact(text: str) -> str:
    return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)


def test_recorded_cfdot_presence_round_trips_byte_for_byte():
    recorded = (FIXTURES / "cfdot_cells_cflinuxfs2.json").read_text()
    presence = unmarshal_cell_presence(recorded)
    assert presence.cell_id == "b92b8733-6ca5-4460-80eb-ff908d3456c8"
    assert (presence.capacity.memory_mb, presence.capacity.disk_mb, presence.capacity.containers) == (
        26127, 62527, 249)
    assert [(p.name, list(p.properties)) for p in presence.rootfs_providers] == [
        ("preloaded", ["cflinuxfs2"]), ("preloaded+layer", ["cflinuxfs2"]), ("docker", [])]
    assert marshal_cell_presence(presence) == compact(recorded)


def test_new_cell_presence_is_the_reps_with_every_field_in_go_order():
    presence = new_cell_presence(
        "some-id", "some-address", "http://some-url", "some-zone", memory_mb=128, disk_mb=1024, containers=3,
        rootfs_providers=["provider-1"], preloaded_rootfses=["provider-2@1.2.3", "provider-3"],
        extra_rootfses=["provider-4@4.5.6", "provider-5"], placement_tags=["tag-1", "tag-2"],
        optional_placement_tags=["optional-tag-1", "optional-tag-2"])
    assert marshal_cell_presence(presence) == (
        '{"cell_id":"some-id","rep_address":"some-address","zone":"some-zone",'
        '"capacity":{"memory_mb":128,"disk_mb":1024,"containers":3},'
        '"rootfs_provider_list":[{"name":"preloaded","properties":["provider-2@1.2.3","provider-3"]},'
        '{"name":"preloaded+layer","properties":["provider-2@1.2.3","provider-3"]},'
        '{"name":"extra","properties":["provider-4@4.5.6","provider-5"]},{"name":"provider-1"}],'
        '"placement_tags":["tag-1","tag-2"],"optional_placement_tags":["optional-tag-1","optional-tag-2"],'
        '"rep_url":"http://some-url"}')


def test_empty_lists_and_an_unset_capacity_are_left_out_but_empty_strings_are_not():
    presence = bbs_models.CellPresence(cell_id="cell-1",
                                       rootfs_providers=[bbs_models.Provider(name="docker")])
    assert marshal_cell_presence(presence) == (
        '{"cell_id":"cell-1","rep_address":"","zone":"","rootfs_provider_list":[{"name":"docker"}],'
        '"rep_url":""}')


def test_the_annotations_generation_always_writes_them_last_with_sorted_keys():
    presence = new_cell_presence("c", "a", "http://u", "z", memory_mb=1, disk_mb=0, containers=1)
    plain = marshal_cell_presence(presence, with_annotations=True)
    assert plain.endswith('"rep_url":"http://u","annotations":{}}')
    presence.annotations.update({"zeta": "1", "alpha": "2"})
    assert marshal_cell_presence(presence, with_annotations=True).endswith(
        '"annotations":{"alpha":"2","zeta":"1"}}')
    with pytest.raises(ValueError, match="with_annotations=True"):
        marshal_cell_presence(presence)


def test_html_characters_and_line_separators_are_escaped_like_go_and_unicode_is_not():
    presence = bbs_models.CellPresence(cell_id="a<b>&c\u2028d\u2029é", zone='q"\\\n\t')
    text = marshal_cell_presence(presence)
    assert text.startswith('{"cell_id":"a\\u003cb\\u003e\\u0026c\\u2028d\\u2029é","rep_address":"",'
                           '"zone":"q\\"\\\\\\n\\t"')
    assert unmarshal_cell_presence(text) == presence


def test_reading_is_gos_keys_any_case_unknown_keys_and_nulls_ignored():
    presence = unmarshal_cell_presence(
        '{"Cell_ID":"cell-7","zone":null,"capacity":{"MEMORY_MB":64,"disk_mb":null},"future_field":[1],'
        '"rootfs_provider_list":[{"name":"docker","properties":null}],"placement_tags":["x"]}')
    assert presence.cell_id == "cell-7" and presence.zone == ""
    assert presence.HasField("capacity") and presence.capacity.memory_mb == 64
    assert [p.name for p in presence.rootfs_providers] == ["docker"]
    assert list(presence.placement_tags) == ["x"]


@pytest.mark.parametrize(("text", "where"), [
    ("not json", "not JSON"),
    ("[]", "cell presence: expected a JSON object"),
    ('{"cell_id":7}', "cell_id: expected a string"),
    ('{"capacity":{"memory_mb":1.5}}', "capacity.memory_mb: expected a 32-bit integer"),
    ('{"capacity":{"containers":4294967296}}', "capacity.containers: expected a 32-bit integer"),
    ('{"rootfs_provider_list":{}}', "rootfs_provider_list: expected a JSON array"),
    ('{"annotations":{"a":1}}', "annotations.a: expected a string"),
])
def test_bad_values_are_refused_naming_the_field(text, where):
    with pytest.raises(ValueError, match=where):
        unmarshal_cell_presence(text)


def test_cells_from_resources_skips_what_does_not_decode_like_the_bbs():
    good = marshal_cell_presence(new_cell_presence("cell-1", "a", "http://u", "z1", memory_mb=1024,
                                                   disk_mb=1024, containers=250))
    cells, unreadable = cells_from_resources([
        models.Resource(key="cell-1", value=good, type_code=models.PRESENCE),
        models.Resource(key="cell-2", value="{broken", type_code=models.PRESENCE),
    ])
    assert [c.cell_id for c in cells] == ["cell-1"]
    assert list(unreadable) == ["cell-2"] and "not JSON" in unreadable["cell-2"]


texts = st.text(max_size=12)
int32 = st.integers(-(2**31), 2**31 - 1)


@given(cell_id=texts, zone=texts, rep_url=texts, tags=st.lists(texts, max_size=3),
       capacity=st.none() | st.tuples(int32, int32, int32),
       providers=st.lists(st.tuples(texts, st.lists(texts, max_size=2)), max_size=3),
       annotations=st.dictionaries(texts, texts, max_size=3))
def test_marshal_is_valid_json_of_the_go_shape_and_reads_back(cell_id, zone, rep_url, tags, capacity,
                                                             providers, annotations):
    presence = bbs_models.CellPresence(cell_id=cell_id, zone=zone, rep_url=rep_url, placement_tags=tags,
                                       annotations=annotations,
                                       rootfs_providers=[bbs_models.Provider(name=n, properties=p)
                                                         for n, p in providers])
    if capacity is not None:
        presence.capacity.memory_mb, presence.capacity.disk_mb, presence.capacity.containers = capacity
    text = marshal_cell_presence(presence, with_annotations=True)
    assert not any(c in text for c in "<>&\u2028\u2029")
    data = json.loads(text)
    expected_keys = ["cell_id", "rep_address", "zone"] + (["capacity"] if capacity else []) + (
        ["rootfs_provider_list"] if providers else []) + (["placement_tags"] if tags else []) + [
        "rep_url", "annotations"]
    assert list(data) == expected_keys
    assert list(data["annotations"]) == sorted(annotations)
    assert unmarshal_cell_presence(text) == presence
