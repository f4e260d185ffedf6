"""A warning as a Smart Data Models Alert entity and back, as a CAP info block, and the issuer
that threads Alert → Update → Cancel with references."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from madina.domains.safety import cap
from madina.domains.safety.config import (
    ALERT_SEVERITIES,
    FLOOD_POLICIES,
    HEAT_POLICIES,
    WarningSettings,
)
from madina.domains.safety.issuer import Issuer
from madina.domains.safety.model import Area
from madina.domains.safety.public_warning import (
    CLEARED,
    FLOOD,
    HEAT,
    PublicWarning,
    alert_attributes,
    cap_info,
    warning_from_alert,
)

NOW = datetime(2026, 4, 1, 6, 30, tzinfo=UTC)
WARNING = PublicWarning(
    alert_id="urn:ngsi-ld:Alert:madina-flood-e4aaa3c5-20260401T063000Z",
    source_id="urn:ngsi-ld:WaterObserved:vantaa-1",
    hazard=FLOOD,
    level="warning",
    policy=FLOOD_POLICIES["warning"],
    headline="Flood warning: Vantaa river",
    description="The water level was 2.10 m.",
    issued=NOW,
    valid_to=NOW + timedelta(hours=6),
    area=Area("Vantaa river", circles=((60.22, 24.96, 1.0),), geocodes=(("NUTS3", "FI1B1"),)),
    location={"type": "Point", "coordinates": [24.96, 60.22]},
)
# Smart Data Models dataModel.Alert (Alert/schema.json, alert-schema.json)
SDM_CATEGORIES = {"traffic", "naturalDisaster", "weather", "environment", "health", "security",
                  "agriculture"}
SDM_SUBCATEGORIES = {"flood", "floodRisk", "highTemperature", "heatWave", "rainfall"}


def keyvalues(attributes: dict) -> dict:
    """The keyValues form of normalized attributes, as a client asking options=keyValues sees."""
    out = {}
    for name, attribute in attributes.items():
        out[name] = attribute["object"] if attribute["type"] == "Relationship" \
            else attribute["value"]
    return out


def test_the_alert_entity_speaks_smart_data_models() -> None:
    attributes = alert_attributes(WARNING)
    assert attributes["category"] == {"type": "Property", "value": "weather"}
    assert attributes["subCategory"] == {"type": "Property", "value": "flood"}
    assert attributes["severity"] == {"type": "Property", "value": "high"}
    assert attributes["description"]["value"] == "The water level was 2.10 m."
    assert attributes["dateIssued"] == {
        "type": "Property", "value": {"@type": "DateTime", "@value": "2026-04-01T06:30:00Z"}}
    assert attributes["validFrom"] == attributes["dateIssued"]
    assert attributes["validTo"]["value"]["@value"] == "2026-04-01T12:30:00Z"
    assert attributes["alertSource"] == {"type": "Relationship",
                                         "object": "urn:ngsi-ld:WaterObserved:vantaa-1"}
    assert attributes["location"] == {"type": "GeoProperty", "value": WARNING.location}
    assert attributes["data"]["value"]["level"] == "warning"
    assert attributes["data"]["value"]["capSeverity"] == "Severe"


@pytest.mark.parametrize("hazard", [FLOOD, HEAT])
def test_categories_and_severities_are_in_the_sdm_enums(hazard) -> None:
    assert hazard.alert_category in SDM_CATEGORIES
    assert hazard.sub_category in SDM_SUBCATEGORIES
    for policy in (*FLOOD_POLICIES.values(), *HEAT_POLICIES.values()):
        assert policy.alert_severity in ALERT_SEVERITIES


@pytest.mark.parametrize("warning", [
    WARNING,
    replace(WARNING, area=None, location=None),
    replace(WARNING, hazard=HEAT, level="danger", policy=HEAT_POLICIES["danger"]),
    replace(WARNING, level=CLEARED),
], ids=["full", "no-area", "heat", "cleared"])
def test_back_from_the_alert_entity_normalized_or_key_values(warning: PublicWarning) -> None:
    attributes = alert_attributes(warning)
    assert warning_from_alert({"id": warning.alert_id, "type": "Alert", **attributes}) == warning
    assert warning_from_alert({"id": warning.alert_id, "type": "Alert",
                               **keyvalues(attributes)}) == warning


def test_the_cap_info_of_an_active_and_a_cleared_warning() -> None:
    info = cap_info(WARNING, sent=NOW, language="fi-FI", sender_name="Helsinki")
    assert (info.categories, info.event, info.urgency, info.severity, info.certainty) == \
        (("Met",), "Flood", "Immediate", "Severe", "Observed")
    assert info.response_types == ("Prepare",)
    assert (info.effective, info.expires) == (NOW, NOW + timedelta(hours=6))
    assert info.language == "fi-FI"
    assert info.instruction == FLOOD_POLICIES["warning"].instruction
    assert info.areas == (WARNING.area,)
    over = cap_info(replace(WARNING, level=CLEARED), sent=NOW, language="en-US",
                    sender_name="Helsinki")
    assert (over.urgency, over.response_types, over.instruction) == ("Past", ("AllClear",), "")


def test_the_issuer_threads_alert_update_cancel_with_every_earlier_reference() -> None:
    issuer = Issuer(WarningSettings(sender="warnings@hel.fi"))
    first = issuer.issue(WARNING, NOW)
    second = issuer.issue(replace(WARNING, level="danger", policy=FLOOD_POLICIES["danger"]),
                          NOW + timedelta(minutes=30))
    third = issuer.issue(replace(WARNING, level=CLEARED), NOW + timedelta(hours=2))
    assert [m.msg_type for m in (first, second, third)] == ["Alert", "Update", "Cancel"]
    assert [m.identifier for m in (first, second, third)] == [
        "madina-flood-e4aaa3c5-20260401T063000Z-1", "madina-flood-e4aaa3c5-20260401T063000Z-2",
        "madina-flood-e4aaa3c5-20260401T063000Z-3"]
    assert first.references == ()
    assert second.references == (first.reference(),)
    assert third.references == (first.reference(), second.reference())
    assert issuer.take_messages() == [first, second, third]
    assert issuer.take_messages() == []
    assert issuer.active() == 0  # a cancelled warning is forgotten
    for message in (first, second, third):
        cap.validate(cap.message_xml(message))


def test_the_issuer_keeps_the_first_message_when_it_bounds_a_long_thread() -> None:
    issuer = Issuer(WarningSettings(max_messages_per_warning=3))
    sent = [issuer.issue(replace(WARNING, valid_to=NOW + timedelta(hours=h + 6)),
                         NOW + timedelta(hours=h)) for h in range(6)]
    assert issuer.history(WARNING.alert_id) == (sent[0], sent[4], sent[5])
    last = issuer.issue(replace(WARNING, level=CLEARED, valid_to=NOW + timedelta(hours=8)),
                        NOW + timedelta(hours=7))
    assert last.references == tuple(m.reference() for m in (sent[0], sent[4], sent[5]))


def test_renewal_is_due_after_renew_minutes() -> None:
    issuer = Issuer(WarningSettings(renew_minutes=180, validity_minutes=360))
    issuer.issue(WARNING, NOW)
    assert not issuer.due_for_renewal(WARNING.alert_id, NOW + timedelta(minutes=179))
    assert issuer.due_for_renewal(WARNING.alert_id, NOW + timedelta(minutes=180))
    assert not issuer.due_for_renewal("urn:ngsi-ld:Alert:unknown", NOW)


def test_a_warning_never_raised_cannot_be_cancelled() -> None:
    with pytest.raises(ValueError, match="never raised"):
        Issuer(WarningSettings()).issue(replace(WARNING, level=CLEARED), NOW)
