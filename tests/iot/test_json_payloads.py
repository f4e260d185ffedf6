"""JSON payload parsing, with payloads in the shape of the FIWARE iotagent-json manual."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.iot import json_payloads
from madina.iot.payload import Command, CommandResult, MalformedPayload, MeasureGroup


@pytest.mark.parametrize(
    ("payload", "groups"),
    [
        ('{"h": 70, "t": 15}', [MeasureGroup({"h": 70, "t": 15})]),
        (b'[{"t": 1}, {"t": 2}]', [MeasureGroup({"t": 1}), MeasureGroup({"t": 2})]),
        (
            '{"t": 15, "TimeInstant": "2020-02-22T22:43:55.274Z"}',
            [MeasureGroup({"t": 15}, datetime(2020, 2, 22, 22, 43, 55, 274000, tzinfo=UTC))],
        ),
        (
            '{"loc": {"type": "Point", "coordinates": [24.9, 60.2]}, "on": true, "x": null}',
            [
                MeasureGroup(
                    {"loc": {"type": "Point", "coordinates": [24.9, 60.2]}, "on": True, "x": None}
                )
            ],
        ),
    ],
)
def test_measures(payload, groups):
    assert json_payloads.parse_measures(payload) == groups


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("", "empty"),
        ("[]", "empty"),
        (b"\xff", "not_json"),
        ("{'t': 1}", "not_json"),
        ('{"t": 1', "not_json"),
        ("15", "not_object"),
        ('[{"t": 1}, 2]', "not_object"),
        ('{"": 1}', "empty_key"),
        ("{}", "no_measures"),
        ('{"TimeInstant": "2020-02-22T22:43:55Z"}', "no_measures"),
        ('{"t": 1, "TimeInstant": 1582411435}', "bad_timestamp"),
        ('{"t": 1, "TimeInstant": "now"}', "bad_timestamp"),
        ('{"t": [[[[[[[[[1]]]]]]]]]}', "too_deep"),
        ('{"t": "' + "x" * 70_000 + '"}', "too_large"),
    ],
)
def test_malformed_measures(payload, reason):
    with pytest.raises(MalformedPayload) as caught:
        json_payloads.parse_measures(payload)
    assert caught.value.reason == reason


def test_limits_are_parameters():
    nested = '{"t": {"a": {"b": 1}}}'
    assert json_payloads.parse_measures(nested, max_depth=3)
    with pytest.raises(MalformedPayload, match="too_deep"):
        json_payloads.parse_measures(nested, max_depth=2)
    with pytest.raises(MalformedPayload, match="too_large"):
        json_payloads.parse_measures(nested, max_bytes=10)


@pytest.mark.parametrize(
    ("payload", "value"),
    [("23.5", 23.5), ("on", "on"), (' "on" ', "on"), ('{"type": "Point"}', {"type": "Point"})],
)
def test_single_attribute_topic(payload, value):
    assert json_payloads.parse_single_measure("t", payload) == MeasureGroup({"t": value})


def test_single_attribute_topic_errors():
    with pytest.raises(MalformedPayload, match="empty_key"):
        json_payloads.parse_single_measure("", "1")
    with pytest.raises(MalformedPayload, match="too_deep"):
        json_payloads.parse_single_measure("t", "[[[1]]]", max_depth=2)


def test_commands_and_results():
    assert json_payloads.parse_command('{"ping": {"data": "22"}}') == Command(
        "ping", {"data": "22"}
    )
    assert json_payloads.parse_command(json_payloads.format_command("on", 80)) == Command("on", 80)
    assert json_payloads.parse_command_results('{"ping": "1234567890", "on": true}') == [
        CommandResult("ping", "1234567890"),
        CommandResult("on", True),
    ]
    with pytest.raises(ValueError):
        json_payloads.format_command("", 1)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("[]", "not_object"),
        ('{"a": 1, "b": 2}', "not_one_command"),
        ('{"": 1}', "empty_key"),
        ("{}", "not_one_command"),
        ("nope", "not_json"),
    ],
)
def test_malformed_commands(payload, reason):
    with pytest.raises(MalformedPayload) as caught:
        json_payloads.parse_command(payload)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("payload", "reason"), [("[]", "not_object"), ("{}", "empty"), ('{"": 1}', "empty_key")]
)
def test_malformed_results(payload, reason):
    with pytest.raises(MalformedPayload) as caught:
        json_payloads.parse_command_results(payload)
    assert caught.value.reason == reason


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["", "t", "TimeInstant"]) | st.text(max_size=3), children, max_size=3
        )
    ),
    max_leaves=20,
)


@given(JSON.map(json.dumps) | st.binary(max_size=100) | st.text(max_size=50))
def test_never_crashes(payload):
    for parse in (
        json_payloads.parse_measures,
        json_payloads.parse_command,
        json_payloads.parse_command_results,
    ):
        try:
            parse(payload, max_depth=3)
        except MalformedPayload as error:
            assert error.reason
    try:
        json_payloads.parse_single_measure("t", payload, max_depth=3)
    except MalformedPayload as error:
        assert error.reason
