"""What the service accepts from outside: block fields and names, listen addresses, MQTT URLs.

Every wrong value is refused with an error that names the field, before anything
reaches the controller.
"""

from __future__ import annotations

import pytest

from actors.spark.blocks import (
    BadField,
    BlockFields,
    check_name,
    merged,
    new_object,
    parse_block_fields,
    parse_block_ref,
)
from actors.spark.http_guards import is_loopback
from actors.spark.http_service import parse_listen
from actors.spark.mqtt import check_prefix, parse_mqtt_url
from actors.spark.protocol import SparkObject
from actors.spark.service import ServiceOptions


@pytest.mark.parametrize("name", ["a", "fermenter", "Fermenter 2", "_x", "kettle-1.temp", "a" * 64])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "1", "123", "1abc", " lead", "trail ", "a/b", "a" * 65, "é", None, 5, "a\nb"]
)
def test_invalid_names_are_refused(name: object) -> None:
    with pytest.raises(BadField) as refused:
        check_name(name)
    assert refused.value.field == "name"


def test_a_block_ref_is_an_id_or_a_name() -> None:
    assert parse_block_ref("100") == 100
    assert parse_block_ref("fermenter") == "fermenter"
    with pytest.raises(BadField, match="0-65535"):
        parse_block_ref("65536")
    with pytest.raises(BadField) as refused:
        parse_block_ref("no/slash")
    assert refused.value.field == "id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"type": True}, "type"),
        ({"type": 0}, "type"),
        ({"groups": -1}, "groups"),
        ({"id": 70000}, "id"),
        ({"data": 12}, "data"),
        ({"data": "abc"}, "data"),
        ({"data": "00" * 2049}, "data"),
        ({"name": "9lives"}, "name"),
        ({"extra": 1}, "extra"),
    ],
)
def test_wrong_fields_name_themselves(body: object, field: str) -> None:
    with pytest.raises(BadField) as refused:
        parse_block_fields(body)
    assert refused.value.field == field


def test_fields_merge_into_the_object_as_the_controller_has_it() -> None:
    fields = parse_block_fields({"data": "0c0d", "name": "kettle"})
    assert fields == BlockFields(data=b"\x0c\x0d", name="kettle")
    current = SparkObject(100, 3, 301, b"\x01")
    assert merged(current, fields) == SparkObject(100, 3, 301, b"\x0c\x0d")
    assert new_object(parse_block_fields({"type": 301})) == SparkObject(0, 1, 301, b"")
    with pytest.raises(BadField) as refused:
        new_object(parse_block_fields({"data": "00"}))
    assert refused.value.field == "type"


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:5000") == ("127.0.0.1", 5000)
    assert parse_listen("[::1]:0") == ("::1", 0)
    assert parse_listen("off") is None
    for wrong in ("5000", "host:", "host:99999", ":80"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(wrong)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_an_api_beyond_loopback_needs_a_token() -> None:
    for host in ("0.0.0.0", "192.168.1.2", "::"):
        with pytest.raises(ValueError, match="reachable from the network: give it a token"):
            ServiceOptions(http=(host, 5000))
        assert ServiceOptions(http=(host, 5000), token="s3cret").token == "s3cret"
    for host in ("127.0.0.1", "::1", "localhost"):
        assert ServiceOptions(http=(host, 5000)).token is None
    assert ServiceOptions(http=None).http is None  # MQTT only: nothing listens


def test_mqtt_urls_and_prefixes() -> None:
    assert parse_mqtt_url("mqtt://broker") == ("broker", 1883, False, None, None)
    assert parse_mqtt_url("mqtts://u:p@broker:8884") == ("broker", 8884, True, "u", "p")
    with pytest.raises(ValueError, match="mqtt://"):
        parse_mqtt_url("http://broker")
    assert check_prefix("brewcast/spark") == "brewcast/spark"
    for wrong in ("", "a/#", "a/+/b", "a//b", "/a"):
        with pytest.raises(ValueError, match="prefix"):
            check_prefix(wrong)
