"""UltraLight 2.0 parsing, with the payloads of the FIWARE iotagent-ul manual."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.iot import ultralight
from madina.iot.payload import Command, CommandResult, MalformedPayload, MeasureGroup

STAMP = datetime(2016, 6, 13, 0, 35, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "groups"),
    [
        ("t|15|k|abc", [MeasureGroup({"t": "15", "k": "abc"})]),
        ("gps|1.2/3.4#t|10", [MeasureGroup({"gps": "1.2/3.4"}), MeasureGroup({"t": "10"})]),
        ("2016-06-13T00:35:30Z|lle|100", [MeasureGroup({"lle": "100"}, STAMP)]),
        ("TimeInstant|2016-06-13T00:35:30Z|lle|100", [MeasureGroup({"lle": "100"}, STAMP)]),
        (
            "2016-06-13T02:35:30|t|1",
            [MeasureGroup({"t": "1"}, datetime(2016, 6, 13, 2, 35, 30))],
        ),
        (b"t|15\r\n", [MeasureGroup({"t": "15"})]),
        ("|t|1", [MeasureGroup({"t": "1"})]),  # ulParser.js drops one leading bar
        ("c|3|m|caf\u00e9", [MeasureGroup({"c": "3", "m": "caf\u00e9"})]),
    ],
)
def test_measures(payload, groups):
    assert ultralight.parse_measures(payload) == groups


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("", "empty"),
        ("  \n", "empty"),
        (b"t|\xff", "not_utf8"),
        ("t", "odd_pairs"),
        ("t|15|k", "odd_pairs"),
        ("2016-13-45T00:00:00Z|t|1", "odd_pairs"),
        ("||15", "empty_key"),
        ("t|1| |2", "empty_key"),
        ("t|", "empty_value"),  # ulParser.js refuses empty fields
        ("t||h|2", "empty_value"),
        ("t|1##h|2", "empty_group"),
        ("t|1#", "empty_group"),
        ("t|1|t|2", "duplicate_key"),
        ("2016-06-13T00:35:30Z|TimeInstant|2016-06-13T00:35:30Z", "duplicate_key"),
        ("TimeInstant|yesterday", "bad_timestamp"),
        ("2016-06-13T00:35:30Z", "odd_pairs"),
        ("TimeInstant|2016-06-13T00:35:30Z", "no_measures"),
        ("t|" + "9" * 70_000, "too_large"),
    ],
)
def test_malformed_measures(payload, reason):
    with pytest.raises(MalformedPayload) as caught:
        ultralight.parse_measures(payload)
    assert caught.value.reason == reason


def test_size_limit_counts_utf8_bytes():
    with pytest.raises(MalformedPayload, match="too_large"):
        ultralight.parse_measures("m|" + "\u00e9" * 10, max_bytes=15)
    assert ultralight.parse_measures("m|" + "\u00e9" * 6, max_bytes=15)


def test_commands_and_results_from_the_manual():
    assert ultralight.parse_command("weatherStation167@ping|param1=1|param2=2") == Command(
        "ping", "param1=1|param2=2", "weatherStation167"
    )
    assert ultralight.parse_command("dev1@reset") == Command("reset", "", "dev1")
    assert ultralight.parse_command_result("weatherStation167@ping|Ping ok") == CommandResult(
        "ping", "Ping ok", "weatherStation167"
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("ping|1", "missing_at"),
        ("@ping|1", "missing_device"),
        ("dev@|1", "missing_command"),
        ("", "empty"),
    ],
)
def test_malformed_commands(payload, reason):
    for parse in (ultralight.parse_command, ultralight.parse_command_result):
        with pytest.raises(MalformedPayload) as caught:
            parse(payload)
        assert caught.value.reason == reason


def test_command_results_are_told_from_measures():
    assert ultralight.is_command_result("dev1@ping|ok")
    assert ultralight.is_command_result(b"dev1@ping")
    assert not ultralight.is_command_result("t|1|mail|a@b")
    assert not ultralight.is_command_result(b"t|15")


def test_format_command_round_trips():
    line = ultralight.format_command("lamp1", "on", "brightness=80")
    assert line == "lamp1@on|brightness=80"
    assert ultralight.parse_command(line) == Command("on", "brightness=80", "lamp1")
    assert ultralight.format_command("lamp1", "off") == "lamp1@off"


@pytest.mark.parametrize(
    ("device", "name", "value"),
    [("a|b", "x", ""), ("a", "x@y", ""), ("", "x", ""), ("a", "x", "1#2")],
)
def test_format_command_refuses_what_cannot_be_split(device, name, value):
    with pytest.raises(ValueError):
        ultralight.format_command(device, name, value)


SEPARATORS = st.sampled_from(list("|#@=:-TZ \n")) | st.text(max_size=3)


@given(st.lists(SEPARATORS, max_size=40).map("".join) | st.binary(max_size=200))
def test_never_crashes(payload):
    for parse in (
        ultralight.parse_measures,
        ultralight.parse_command,
        ultralight.parse_command_result,
    ):
        try:
            parse(payload)
        except MalformedPayload as error:
            assert error.reason
