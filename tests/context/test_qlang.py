"""The q (clause 4.9) and scopeQ (clause 4.19) languages: parsing, resolution, evaluation."""

from __future__ import annotations

import pytest

from madina.context.errors import BadRequestData, TooComplexQuery
from madina.context.qlang import (
    And,
    AttrPath,
    Comparison,
    Exists,
    Or,
    Range,
    ScopeMatch,
    ValueList,
    attribute_names,
    canonical_datetime,
    evaluate,
    evaluate_scope,
    parse_q,
    parse_scope_q,
    resolve,
)

NS = "https://example.org/ns/"


def expand(term: str) -> str:
    return NS + term


def cmp(name: str, op: str, value, **path) -> Comparison:
    return Comparison(AttrPath(name, **path), op, value)


# -- parsing ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("temperature==20", cmp("temperature", "==", 20)),
        ('brandName!="Mercedes"', cmp("brandName", "!=", "Mercedes")),
        ("speed>50.5", cmp("speed", ">", 50.5)),
        ("speed<=-1e2", cmp("speed", "<=", -100.0)),
        ("isMonitoredBy", Exists(AttrPath("isMonitoredBy"))),
        ("!isMonitoredBy", Exists(AttrPath("isMonitoredBy"), negated=True)),
        ("temperature==10..20", cmp("temperature", "==", Range(10, 20))),
        ("temperature!=1.5..2.5", cmp("temperature", "!=", Range(1.5, 2.5))),
        ('color=="black","red"', cmp("color", "==", ValueList(("black", "red")))),
        ("flag==true", cmp("flag", "==", True)),
        ("rel==urn:ngsi-ld:Car:1", cmp("rel", "==", "urn:ngsi-ld:Car:1")),
        ("rel==https://e.org/a?b=c", cmp("rel", "==", "https://e.org/a?b=c")),
        ("d>=2024-01-31", cmp("d", ">=", "2024-01-31")),
        ("t<12:30:00Z", cmp("t", "<", "12:30:00Z")),
        ('s=="a\\"b\\u00e9"', cmp("s", "==", 'a"bé')),
        ("name~=^Sta(a|b)*", cmp("name", "~=", "^Sta(a|b)*")),
        ('name!~="x;y|z"', cmp("name", "!~=", "x;y|z")),
        ('address[city]=="Berlin"', cmp("address", "==", "Berlin", trail=("city",))),
        (
            "sensor.rawdata[airquality.particulate]==40",
            cmp("sensor", "==", 40, sub=("rawdata",), trail=("airquality", "particulate")),
        ),
        ('color[*]=="red"', cmp("color", "==", "red", trail=("*",))),
        ("schema:name", Exists(AttrPath("schema:name"))),
    ],
)
def test_parses_terms(text: str, expected) -> None:
    assert parse_q(text) == expected


def test_unquoted_datetimes_are_normalised_to_stored_form() -> None:
    node = parse_q("temperature.observedAt>=2017-12-24T12:00:00+01:00")
    assert node == cmp("temperature", ">=", "2017-12-24T11:00:00.000000Z", sub=("observedAt",))
    assert parse_q("a==2020-01-01T00:00:00.1234567Z").value == "2020-01-01T00:00:00.123456Z"


def test_quoted_datetimes_are_normalised_only_for_timestamp_members() -> None:
    assert parse_q('a.modifiedAt>"2020-01-01T00:00:00Z"').value == "2020-01-01T00:00:00.000000Z"
    assert parse_q('a>"2020-01-01T00:00:00Z"').value == "2020-01-01T00:00:00Z"


def test_and_binds_tighter_than_or_and_parentheses_nest() -> None:
    a, b, c = (Exists(AttrPath(n)) for n in "abc")
    assert parse_q("a;b|c") == Or((And((a, b)), c))
    assert parse_q("a|b;c") == Or((a, And((b, c))))
    assert parse_q("a;(b|c)") == And((a, Or((b, c))))
    assert parse_q("((a|(b;c)))") == Or((a, And((b, c))))


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("", None, "Empty"),
        ("speed==", 8, "expected a value"),
        ("speed===1", 8, "expected a value"),
        ("brand==Mercedes", 8, "double quotes"),
        ("(a;b", 5, "expected ')'"),
        ("a;b)", 4, "unbalanced"),
        ("a>true", 3, "needs a number"),
        ("a>1,2", 4, "unexpected character"),
        ('a==1.."z"', 4, "range"),
        ("a~=(x", 4, "regular expression"),
        ('a=="open', 4, "unterminated"),
        ('a=="\\q"', 4, "escape"),
        ("!a==1", 3, "negated"),
        ("a b", 2, "operator"),
        ("a.==1", 3, "attribute name"),
        ("a[]==1", 3, "member name"),
        ("a{b}==1", 2, "linked entity"),
        ("a==2024-13-01T00:00:00Z", 4, "invalid DateTime"),
        ("a;;b", 3, "attribute name"),
    ],
)
def test_syntax_errors_name_problem_and_position(text: str, position, problem: str) -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_q(text)
    assert problem in caught.value.detail
    if position is not None:
        assert f"position {position} " in caught.value.detail


def test_too_complex_queries_are_refused() -> None:
    with pytest.raises(TooComplexQuery):
        parse_q("(" * 17 + "a" + ")" * 17)
    with pytest.raises(TooComplexQuery):
        parse_q(";".join(["a"] * 65))
    with pytest.raises(TooComplexQuery):
        parse_q("a==" + '"' + "x" * 5000 + '"')
    assert parse_q("(" * 16 + "a" + ")" * 16) == Exists(AttrPath("a"))


# -- resolution ---------------------------------------------------------------------------
def test_resolve_expands_names_but_not_instance_members() -> None:
    node = resolve(parse_q("a.observedAt>1;b.c.unitCode==1|!d[x.y]"), expand)
    left, right = node.items
    assert left.items[0].path == AttrPath(NS + "a", ("observedAt",), ("observedAt",))
    assert left.items[1].path == AttrPath(NS + "b", ("c", "unitCode"), (NS + "c", "unitCode"))
    assert right == Exists(AttrPath(NS + "d", trail=("x", "y")), negated=True)
    assert attribute_names(node) == {NS + "a", NS + "b", NS + "d"}
    assert attribute_names(parse_q("x==1|(y;!z)")) == {"x", "y", "z"}


# -- evaluation ---------------------------------------------------------------------------
def doc(**attrs) -> dict:
    out = {"id": "urn:ngsi-ld:T:1", "type": [NS + "T"]}
    for name, instances in attrs.items():
        out[NS + name] = instances if isinstance(instances, list) else [instances]
    return out


def matches(text: str, document: dict) -> bool:
    return evaluate(resolve(parse_q(text), expand), document)


def prop(value, **extra) -> dict:
    return {"type": "Property", "value": value, **extra}


def test_comparisons_follow_the_json_type_of_the_target() -> None:
    d = doc(speed=prop(55), name=prop("55"), flag=prop(True))
    assert matches("speed==55", d) and matches("speed>=55;speed<56", d)
    assert not matches('speed=="55"', d) and not matches("name==55", d)
    assert not matches('speed>"1"', d) and not matches("flag==1", d)
    assert matches("flag==true", d) and not matches("flag>0", d)
    assert matches('speed!="55"', d)  # different data types count as unequal


def test_unequal_needs_the_target_to_exist() -> None:
    assert not matches("speed!=1", doc(name=prop("x")))
    assert not matches("speed.observedAt!=2020-01-01T00:00:00Z", doc(speed=prop(1)))


def test_arrays_match_any_element_and_unequal_means_none() -> None:
    d = doc(colors=prop(["blue", "red", "green"]))
    assert matches('colors=="red"', d) and matches('colors=="black","red"', d)
    assert not matches('colors!="red"', d) and matches('colors!="black"', d)
    assert matches('colors=="a".."c"', d)


def test_multi_instance_attributes_match_when_any_instance_does() -> None:
    d = doc(speed=[prop(10), prop(70, datasetId="urn:ds:1")])
    assert matches("speed>50", d) and matches("speed<20", d)
    assert matches("speed.datasetId==urn:ds:1", d)


def test_ranges_and_patterns() -> None:
    d = doc(t=prop(15), name=prop("Mercedes-Benz"))
    assert matches("t==10..20", d) and not matches("t!=10..20", d) and matches("t!=16..20", d)
    assert matches("name~=^Merc", d) and not matches("name~=^merc", d)
    assert matches('name~="(?i)^merc"', d) and matches("name!~=^Audi", d)
    assert not matches("t~=1", d) and not matches("t!~=1", d)  # patterns need strings


def test_compound_values_sub_attributes_and_members() -> None:
    d = doc(
        address=prop({"city": "Berlin", "street": "Ulrich Strasse"}),
        sensor=prop(
            40,
            observedAt="2024-03-01T10:00:00.000000Z",
            **{NS + "rawdata": prop({"airquality": {"particulate": 40, "PM20": 85}})},
        ),
        wind=prop({"speed": {"max": 9}}),
    )
    assert matches('address[city]=="Berlin"', d) and not matches('address[city]=="Paris"', d)
    assert matches("address[street]", d) and not matches("address[zip]", d)
    assert matches("!address[zip]", d)
    assert matches("sensor.rawdata[airquality.particulate]==40", d)
    assert matches("sensor.observedAt>2024-01-01T00:00:00Z", d)
    assert matches("wind.speed.max>5", d)  # no such sub-attribute: a path into the value


def test_relationships_only_take_equality() -> None:
    d = doc(
        isParked={"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:Downtown1"},
        owners={"type": "ListRelationship", "objectList": ["urn:a:1", "urn:a:2"]},
    )
    assert matches('isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"', d)
    assert matches("isParked!=urn:other:1", d)
    assert not matches('isParked>"a"', d) and not matches("isParked~=Downtown", d)
    assert matches("owners==urn:a:2", d) and not matches("owners!=urn:a:2", d)


def test_language_properties() -> None:
    d = doc(
        color={"type": "LanguageProperty", "languageMap": {"fr": "rouge", "en": ["red", "cat"]}}
    )
    assert matches('color=="rouge"', d) and matches('color[*]=="red"', d)
    assert matches('color[en]=="red"', d) and not matches('color[fr]=="red"', d)
    assert not matches('color!="red"', d) and matches('color[fr]!="red"', d)


def test_other_kinds_and_typed_values() -> None:
    d = doc(
        gender={"type": "VocabProperty", "vocab": NS + "Male"},
        tickets={"type": "JsonProperty", "json": {"value": "Overstay 60 minutes"}},
        series={"type": "ListProperty", "valueList": [1, 2, 3]},
        since=prop({"@type": "DateTime", "@value": "2024-05-01T00:00:00.000000Z"}),
    )
    assert matches(f'gender=="{NS}Male"', d)
    assert matches('tickets[value]=="Overstay 60 minutes"', d)
    assert matches("series==2", d) and matches("series>2", d) and not matches("series>3", d)
    assert matches("since>2024-04-30T23:00:00-02:00", d) is False
    assert matches("since>=2024-04-30T23:00:00Z", d)


def test_logic() -> None:
    d = doc(speed=prop(60), rpm=prop(1000), brandName=prop("Mercedes"))
    assert matches('((speed>50|rpm>3000);brandName=="Mercedes")', d)
    assert not matches('(speed>70|rpm>3000);brandName=="Mercedes"', d)
    assert matches("(speed>=70;rpm<=25)|brandName", d)
    assert matches("!missing;speed", d) and not matches("missing|!speed", d)


def test_canonical_datetime() -> None:
    assert canonical_datetime("2024-02-29T23:30:00-01:30") == "2024-03-01T01:00:00.000000Z"
    assert canonical_datetime("2024-02-30T00:00:00Z") is None
    assert canonical_datetime("2024-01-01T10:00Z") == "2024-01-01T10:00:00.000000Z"


# -- scopeQ -------------------------------------------------------------------------------
def test_parses_scope_queries() -> None:
    madrid, gardens, company = (ScopeMatch(p) for p in ("/Madrid/#", "/Madrid/+/G", "/CompanyA"))
    assert parse_scope_q("/Madrid/#") == madrid
    assert parse_scope_q("/#") == ScopeMatch("/#")
    assert parse_scope_q("(/Madrid/#;/Madrid/+/G)|/CompanyA") == Or(
        (And((madrid, gardens)), company)
    )
    assert parse_scope_q("/Madrid/#,/CompanyA") == Or((madrid, company))
    for bad in ("", "/Madrid/", "Madrid#", "(/a", "/a;", "/a b", "/a/#/b"):
        with pytest.raises(BadRequestData):
            parse_scope_q(bad)


@pytest.mark.parametrize(
    ("text", "scopes", "expected"),
    [
        ("/Madrid", ["/Madrid"], True),
        ("/Madrid", ["/Madrid/Gardens"], False),
        ("/Madrid/Gardens/#", ["/Madrid/Gardens"], True),
        ("/Madrid/Gardens/#", ["/Madrid/Gardens/ParqueNorte/Parterre1"], True),
        ("/Madrid/Gardens/#", ["/Madrid/GardensX"], False),
        ("/Madrid/+/ParqueNorte", ["/Madrid/Sights/ParqueNorte"], True),
        ("/Madrid/+/ParqueNorte", ["/Madrid/ParqueNorte"], False),
        ("/#", ["/Anything"], True),
        ("/#", [], False),
        ("(/Madrid/Districts;/CompanyA)", ["/CompanyA", "/Madrid/Districts"], True),
        ("(/Madrid/Districts;/CompanyA)", ["/CompanyA"], False),
        ("(/Madrid/Districts;/CompanyA),/CompanyB", ["/CompanyB"], True),
    ],
)
def test_scope_matching(text: str, scopes: list[str], expected: bool) -> None:
    assert evaluate_scope(parse_scope_q(text), scopes) is expected
