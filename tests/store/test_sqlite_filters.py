"""compile_q / compile_scope must answer exactly like qlang.evaluate / evaluate_scope.

The differential test runs every query over every document both ways; the documents cover
each attribute kind, multi-instance attributes, arrays, compound values, sub-attributes and
the type mismatches that SQLite would otherwise compare happily (TEXT > any number).
"""

from __future__ import annotations

import json
import random
import sqlite3

import pytest

from madina.context import qlang
from madina.store import sqlite_filters

NS = "https://example.org/ns/"


def expand(term: str) -> str:
    return NS + term


def prop(value, **extra):
    return {"type": "Property", "value": value, **extra}


def rel(obj, **extra):
    return {"type": "Relationship", "object": obj, **extra}


def entity(i: int, **attrs) -> dict:
    doc = {"id": f"urn:ngsi-ld:T:{i}", "type": [NS + "T"]}
    for name, instances in attrs.items():
        doc[NS + name] = instances if isinstance(instances, list) else [instances]
    return doc


HANDMADE = [
    entity(0, speed=prop(55), name=prop("Mercedes"), flag=prop(True)),
    entity(1, speed=prop(20.5), name=prop("Audi"), flag=prop(False)),
    entity(2, speed=prop("55"), name=prop(55)),  # types swapped: never equal, always unequal
    entity(3, speed=[prop(10), prop(70, datasetId="urn:ds:2")]),  # multi-instance
    entity(4, speed=prop([5, 60, "x"]), colors=prop(["red", "blue"])),  # arrays
    entity(5, address=prop({"city": "Berlin", "zip": {"code": 10115}})),
    entity(6, address=prop({"city": "Paris"}), colors=prop({"red": 1})),
    entity(7, isParked=rel("urn:ngsi-ld:Parking:1"), owner=rel(["urn:a:1", "urn:a:2"])),
    entity(8, color={"type": "LanguageProperty", "languageMap": {"en": "red", "fr": "rouge"}}),
    entity(9, color={"type": "LanguageProperty", "languageMap": {"en": ["cat", "red"]}}),
    entity(10, category={"type": "VocabProperty", "vocab": NS + "Male"}),
    entity(11, tickets={"type": "JsonProperty", "json": {"value": "Overstay", "n": 2}}),
    entity(12, series={"type": "ListProperty", "valueList": [1, 2, 3]}),
    entity(13, members={"type": "ListRelationship", "objectList": ["urn:x:1", "urn:x:2"]}),
    entity(
        14,
        temperature=prop(
            21,
            observedAt="2024-03-01T10:00:00.000000Z",
            unitCode="CEL",
            **{NS + "reliability": prop(0.9), NS + "sensor": rel("urn:ngsi-ld:Device:1")},
        ),
    ),
    entity(15, temperature=prop(30, observedAt="2023-01-01T00:00:00.000000Z")),
    entity(16, when=prop({"@type": "DateTime", "@value": "2024-05-01T00:00:00.000000Z"})),
    entity(17, speed=prop(None), name=prop({"nested": True})),
    entity(18, sensor=prop(40, **{NS + "rawdata": prop({"airquality": {"particulate": 40}})})),
    entity(19, sensor=prop({"rawdata": {"airquality": 7}})),  # dotted path into the value
    entity(
        20,
        speed=prop(55, datasetId="urn:ds:1"),
        location={"type": "GeoProperty", "value": {"type": "Point"}},
    ),
    entity(21),
    entity(22, name=prop("Mercedes-Benz ÄÖ"), speed=prop(1e3)),
]

QUERIES = [
    "speed",
    "!speed",
    "speed==55",
    "speed!=55",
    "speed>50",
    "speed>=55",
    "speed<20.5",
    "speed<=20.5",
    "speed==10..60",
    "speed!=10..60",
    "speed==5,70",
    "speed!=5,70",
    'speed=="55"',
    'speed!="55"',
    'speed>"5"',
    "name",
    "!name",
    'name=="Mercedes"',
    'name!="Mercedes"',
    'name=="Audi","Mercedes"',
    "name~=^Merc",
    "name!~=^Merc",
    'name~="(?i)mercedes"',
    'name=="A".."N"',
    "name==55",
    "flag==true",
    "flag==false",
    "flag!=true",
    "flag>0",
    'colors=="red"',
    'colors!="red"',
    "colors[red]==1",
    'address[city]=="Berlin"',
    'address[city]!="Berlin"',
    "address[zip.code]==10115",
    "address[zip.code]>10000",
    "address[city]",
    "!address[city]",
    "address[zip]",
    "isParked==urn:ngsi-ld:Parking:1",
    'isParked!="urn:ngsi-ld:Parking:1"',
    'isParked~="Parking"',
    'isParked>"a"',
    "owner==urn:a:2",
    "owner!=urn:a:2",
    'color=="red"',
    'color!="red"',
    'color[en]=="red"',
    'color[fr]=="red"',
    'color[*]=="rouge"',
    'color~="^rou"',
    "color==5",
    "color!=5",
    f'category=="{NS}Male"',
    "category",
    'tickets[value]=="Overstay"',
    "tickets[n]>1",
    'tickets=="Overstay"',
    "series==2",
    "series>2",
    "series!=4",
    "members==urn:x:2",
    'members>"urn"',
    "temperature.observedAt>=2024-01-01T00:00:00Z",
    'temperature.observedAt<"2024-01-01T00:00Z"',
    "temperature.observedAt==2024-03-01T11:00:00+01:00",
    'temperature.unitCode=="CEL"',
    "temperature.reliability>0.5",
    "temperature.reliability",
    "!temperature.reliability",
    "temperature.sensor==urn:ngsi-ld:Device:1",
    'temperature.sensor>"a"',
    "temperature.missing",
    "temperature>20;temperature<25",
    "(temperature>25|speed>60);name",
    "when>2024-04-01T00:00:00Z",
    'when~="^2024"',
    "when",
    "when==5",
    "sensor.rawdata[airquality.particulate]==40",
    "sensor.rawdata.airquality==7",
    "sensor.rawdata",
    "speed==urn:x:1",
    "location",
    "location!=1",
    "speed>50|name~=Audi;flag==false",
    "((speed>50));!name",
    'name!="Mercedes-Benz ÄÖ"',
    'name>"Mercedes"',
    "speed==1000",
    "speed.datasetId==urn:ds:2",
    "speed.datasetId",
]


@pytest.fixture(scope="module")
def database() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    sqlite_filters.register_functions(conn)
    conn.execute("CREATE TABLE entities(rowid INTEGER PRIMARY KEY, doc TEXT)")
    for doc in HANDMADE + random_documents(60):
        conn.execute("INSERT INTO entities(doc) VALUES (?)", (json.dumps(doc),))
    return conn


def random_documents(count: int) -> list[dict]:
    """Mixed kinds and types per attribute, with several instances now and then."""
    rng = random.Random(7)
    values = [
        0,
        55,
        60.5,
        -3,
        "55",
        "Mercedes",
        "Audi",
        True,
        False,
        None,
        [55, "red"],
        ["red", "blue"],
        {"city": "Berlin"},
        {"@value": "2024-05-01T00:00:00.000000Z"},
    ]

    def instance():
        kind = rng.choice(["p", "p", "p", "r", "l", "lp"])
        if kind == "r":
            return rel(rng.choice(["urn:a:1", "urn:a:2", ["urn:a:1", "urn:x:2"]]))
        if kind == "l":
            return {"type": "LanguageProperty", "languageMap": {"en": rng.choice(["red", "x"])}}
        if kind == "lp":
            return {"type": "ListProperty", "valueList": rng.sample(values[:6], 2)}
        return prop(
            rng.choice(values),
            observedAt=rng.choice(["2023-01-01T00:00:00.000000Z", "2024-03-01T10:00:00.000000Z"]),
        )

    docs = []
    for i in range(count):
        attrs = {}
        for name in ("speed", "name", "colors", "owner", "color"):
            if rng.random() < 0.7:
                attrs[name] = [instance() for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        docs.append(entity(100 + i, **attrs))
    return docs


def sql_ids(conn: sqlite3.Connection, node: qlang.Node, scope: bool = False) -> list[str]:
    sql, params = (sqlite_filters.compile_scope if scope else sqlite_filters.compile_q)(node)
    rows = conn.execute(
        f"SELECT json_extract(e.doc, '$.id') FROM entities e WHERE {sql} ORDER BY e.rowid", params
    )
    return [r[0] for r in rows]


def python_ids(conn: sqlite3.Connection, match) -> list[str]:
    docs = [json.loads(r[0]) for r in conn.execute("SELECT doc FROM entities ORDER BY rowid")]
    return [d["id"] for d in docs if match(d)]


@pytest.mark.parametrize("text", QUERIES)
def test_sql_matches_evaluate(database: sqlite3.Connection, text: str) -> None:
    node = qlang.resolve(qlang.parse_q(text), expand)
    assert sql_ids(database, node) == python_ids(database, lambda d: qlang.evaluate(node, d))


def test_queries_are_not_trivial(database: sqlite3.Connection) -> None:
    """Guards the differential test itself: most queries select some but not all entities."""
    total = database.execute("SELECT count(*) FROM entities").fetchone()[0]
    counts = [len(sql_ids(database, qlang.resolve(qlang.parse_q(t), expand))) for t in QUERIES]
    assert sum(0 < c < total for c in counts) > len(QUERIES) * 0.8


def test_examples_select_the_expected_entities(database: sqlite3.Connection) -> None:
    def ids(text: str) -> set[int]:
        node = qlang.resolve(qlang.parse_q(text), expand)
        return {int(i.rsplit(":", 1)[1]) for i in sql_ids(database, node) if i.count(":") == 3}

    handmade = set(range(len(HANDMADE)))
    assert ids("speed==55") & handmade == {0, 20}  # "55" (entity 2) is a string
    # exists and differs; a string "55" is unequal; 3 has one instance that differs
    assert ids("speed!=55") & handmade == {1, 2, 3, 4, 17, 22}
    assert ids('isParked>"a"') & {7} == set()  # only == and != apply to relationships
    assert 16 in ids("when>2024-04-01T00:00:00Z")
    assert 14 in ids("temperature.observedAt==2024-03-01T11:00:00+01:00")


SCOPES = [
    ["/Madrid"],
    ["/Madrid/Gardens/ParqueNorte"],
    ["/Madrid/Sights/ParqueNorte"],
    ["/CompanyA", "/Madrid/Districts"],
    ["/MadridX"],
    [],
    ["/Madrid/Gardens"],
]
SCOPE_QUERIES = [
    "/Madrid",
    "/Madrid/#",
    "/Madrid/+/ParqueNorte",
    "/#",
    "/Madrid/+",
    "(/Madrid/Districts;/CompanyA)|/MadridX",
    "/CompanyA,/Madrid/Gardens/#",
    "/Madrid/Gardens/#",
]


@pytest.fixture(scope="module")
def scoped() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    sqlite_filters.register_functions(conn)
    conn.execute("CREATE TABLE entities(rowid INTEGER PRIMARY KEY, doc TEXT)")
    for i, scopes in enumerate(SCOPES):
        doc = {"id": f"e{i}", **({"scope": scopes} if scopes else {})}
        conn.execute("INSERT INTO entities(doc) VALUES (?)", (json.dumps(doc),))
    return conn


@pytest.mark.parametrize("text", SCOPE_QUERIES)
def test_scope_sql_matches_evaluate_scope(scoped: sqlite3.Connection, text: str) -> None:
    node = qlang.parse_scope_q(text)
    expected = python_ids(scoped, lambda d: qlang.evaluate_scope(node, d.get("scope", [])))
    assert sql_ids(scoped, node, scope=True) == expected


def test_scope_examples(scoped: sqlite3.Connection) -> None:
    def ids(text: str) -> list[str]:
        return sql_ids(scoped, qlang.parse_scope_q(text), scope=True)

    assert ids("/Madrid/#") == ["e0", "e1", "e2", "e3", "e6"]
    assert ids("/Madrid/+/ParqueNorte") == ["e1", "e2"]
    assert ids("/#") == ["e0", "e1", "e2", "e3", "e4", "e6"]
    assert ids("(/Madrid/Districts;/CompanyA)|/MadridX") == ["e3", "e4"]


def test_regexp_function_is_registered() -> None:
    conn = sqlite3.connect(":memory:")
    sqlite_filters.register_functions(conn)
    assert conn.execute(
        "SELECT regexp('^a.c$', 'abc'), 'xyz' REGEXP 'y', regexp('a', 3)"
    ).fetchone() == (1, 1, 0)


def test_only_strings_of_a_language_map_take_part() -> None:
    """A number inside a languageMap (invalid, but storable) never matches, even when a value
    list mixes a string and that number (found by the PostgreSQL engine's differential fuzz)."""
    conn = sqlite3.connect(":memory:")
    sqlite_filters.register_functions(conn)
    conn.execute("CREATE TABLE entities (doc TEXT)")
    doc = entity(1, color={"type": "LanguageProperty", "languageMap": {"en": 5, "fr": "bleu"}})
    conn.execute("INSERT INTO entities VALUES (?)", (json.dumps(doc),))
    for text, expected in (('color==5,"red"', False), ('color==5,"bleu"', True)):
        node = qlang.resolve(qlang.parse_q(text), expand)
        assert qlang.evaluate(node, doc) is expected
        assert bool(sql_ids(conn, node)) is expected, text
