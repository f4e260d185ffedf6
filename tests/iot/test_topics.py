"""The agents' MQTT topic forms."""

import pytest

from madina.iot import topics
from madina.iot.topics import Topic


@pytest.mark.parametrize(("topic", "parsed"), [
    ("/ul/k/d/attrs", Topic("k", "d", "ul")),
    ("/ul/k/d/attrs/t", Topic("k", "d", "ul", attribute="t")),
    ("/json/k/d/attrs", Topic("k", "d", "json")),
    ("/json/k/d/cmdexe", Topic("k", "d", "json", results=True)),
    ("/k/d/attrs", Topic("k", "d", None)),
    ("/k/d/attrs/h", Topic("k", "d", None, attribute="h")),
    ("/k/d/cmdexe", Topic("k", "d", None, results=True)),
    ("/k/d/cmd", None),              # the agents' downlink, not ours to consume
    ("k/d/attrs", None),             # the agents' topics start with a slash
    ("/ul/k/d/attrs/", None),
    ("/ul/k/d/attrs/a/b", None),
    ("//d/attrs", None),
])
def test_parse(topic, parsed):
    assert topics.parse(topic) == parsed


def test_every_subscription_keeps_its_leading_slash_when_shared():
    assert topics.shared("/ul/+/+/attrs", "madina") == "$share/madina//ul/+/+/attrs"
    assert topics.shared("/+/+/cmdexe", "") == "/+/+/cmdexe"
    assert topics.command_topic("k", "d") == "/k/d/cmd"
