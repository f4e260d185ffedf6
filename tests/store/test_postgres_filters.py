"""postgres_filters must answer exactly like qlang.evaluate / evaluate_scope, and its ARE
translations must match exactly the strings RE2 finds the original pattern in.

The documents and queries of the SQLite differential test run here too, plus cases that only
PostgreSQL could get wrong: collation order, `#>` indexing arrays, `%` and quotes reaching
psycopg or SQL literals, numeric precision.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.types.json import Jsonb

from madina.context import qlang
from madina.store import filters, postgres_filters, postgres_regex
from tests.services import postgres_schema
from tests.store.test_sqlite_filters import (
    HANDMADE,
    NS,
    QUERIES,
    SCOPE_QUERIES,
    SCOPES,
    entity,
    expand,
    prop,
    random_documents,
    rel,
)

ODD = NS + 'it\'s 100% "odd"#x'  # an attribute name no key quoting may break

EXTRA_DOCS = [
    entity(200, name=prop("zebra"), speed=prop(0.1)),
    entity(201, name=prop("émile"), speed=prop(0.30000000000000004)),  # é > z by code point
    entity(202, name=prop("Zoe"), speed=prop(10**17 + 1)),
    entity(203, name=prop("50% off 'now'"), speed=prop(-0.0)),
    entity(204, name=prop("line one\nline two"), series=prop([10, 20])),
    entity(205, name=prop('say "hi"\\'), series=prop({"0": 7})),
    entity(206, color={"type": "LanguageProperty", "languageMap": {"en": [["deep"], "red"]}}),
    entity(207, color={"type": "LanguageProperty", "languageMap": "plain"}),
    entity(208, tickets={"type": "JsonProperty", "json": [1, "Overstay", {"n": 2}]}),
    entity(209, when=prop({"@value": 5}), name=prop({"@value": "Audi", "x": 1})),
    entity(210, owner=[rel("urn:b:1"), rel("urn:a:2", datasetId="urn:ds:9")]),
    entity(211, speed=prop([[55], 56])),
    entity(212, category={"type": "VocabProperty", "vocab": [NS + "Male", NS + "Female"]}),
    {
        "id": "urn:ngsi-ld:T:213",
        "type": [NS + "T"],
        ODD: [prop("100%", observedAt="2024-01-01T00:00:00.000000Z")],
    },
    entity(214, name=prop("KELVIN \u212a and ſ")),
    entity(215, color={"type": "LanguageProperty", "languageMap": {"en": 5, "fr": ["x", 7]}}),
]

EXTRA_QUERIES = [
    'name>"Zoe"',
    'name<"a"',
    'name=="Zoe".."zz"',
    "speed==0.30000000000000004",
    "speed>0.3",
    "speed==0.1",
    "speed==100000000000000001",
    "speed>100000000000000000",
    "speed==0",
    "name==\"50% off 'now'\"",
    "name~=%",
    "name~=off 'n",
    'name~="\\"hi\\""',
    "name~=one.line",
    'name~="(?s)one.line"',
    "name~=two$",
    "name~=(?i)^kelvin \\x{212a} AND S",
    "name~=\\bone\\b",
    "name~=[[:upper:]]{2}",
    "series[0]==7",
    "series[0]==10",
    "series==20",
    'color=="deep"',
    'color=="plain"',
    "color[en]",
    'tickets=="Overstay"',
    "tickets[n]==2",
    "when==5",
    'name=="Audi"',
    "name[x]==1",
    "owner==urn:a:2",
    "owner!=urn:a:2",
    "owner.datasetId==urn:ds:9",
    "speed==56",
    "speed==55",
    'category=="Female"',
    'category!="Male"',
    'name=="say \\"hi\\"\\\\"',
    'name=="KELVIN K and ſ"',
    "speed==-3",
    "speed==-3,0.1,true",
    "speed==1e400",
    "color[*]!=5",
    "color==7",
    "color>1",
    "speed==1e17",
    "speed==-2.5e-3",
    'name=="line one\\nline two"',
    'name~="\\x{1F600}"',
]


def odd_queries() -> list[filters.Node]:
    """`q` cannot spell ODD's name, so these nodes are built as the context layer would."""
    path = filters.AttrPath(ODD)
    observed = filters.AttrPath(ODD, ("observedAt",), ("observedAt",))
    return [
        filters.Comparison(path, "==", "100%"),
        filters.Comparison(path, "~=", "^100%$"),
        filters.Exists(path),
        filters.Comparison(observed, ">", "2023-06-01T00:00:00.000000Z"),
    ]


def all_documents() -> list[dict]:
    return HANDMADE + EXTRA_DOCS + random_documents(60)


@pytest.fixture(scope="module")
def conn() -> Iterator[psycopg.Connection]:
    with postgres_schema() as url, psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE e_docs (n int, doc jsonb)")
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO e_docs (n, doc) VALUES (%s, %s)",
                [(n, Jsonb(doc)) for n, doc in enumerate(all_documents())],
            )
        yield connection


def sql_rows(conn: psycopg.Connection, node: filters.Node, scope: bool = False) -> list[int]:
    compile_ = postgres_filters.compile_scope if scope else postgres_filters.compile_q
    sql, params = compile_(node)
    rows = conn.execute(f"SELECT n FROM e_docs e WHERE {sql} ORDER BY n", params)
    return [n for (n,) in rows]


def python_rows(match) -> list[int]:
    # Round-tripped like the stored documents (-0.0 and big ints stay as JSON wrote them).
    docs = [json.loads(json.dumps(doc)) for doc in all_documents()]
    return [n for n, doc in enumerate(docs) if match(doc)]


def parse(text: str) -> filters.Node:
    return qlang.resolve(qlang.parse_q(text), expand)


@pytest.mark.parametrize("text", QUERIES + EXTRA_QUERIES)
def test_sql_matches_evaluate(conn: psycopg.Connection, text: str) -> None:
    node = parse(text)
    assert sql_rows(conn, node) == python_rows(lambda d: qlang.evaluate(node, d))


@pytest.mark.parametrize("node", odd_queries(), ids=repr)
def test_names_with_quotes_and_percent(conn: psycopg.Connection, node: filters.Node) -> None:
    expected = python_rows(lambda d: qlang.evaluate(node, d))
    assert expected == [len(HANDMADE) + 13]
    assert sql_rows(conn, node) == expected


def test_queries_are_not_trivial(conn: psycopg.Connection) -> None:
    total = len(all_documents())
    counts = [len(sql_rows(conn, parse(t))) for t in QUERIES + EXTRA_QUERIES]
    assert sum(0 < c < total for c in counts) > len(counts) * 0.8


def test_examples_select_the_expected_entities(conn: psycopg.Connection) -> None:
    base = len(HANDMADE)

    def rows(text: str) -> set[int]:
        return set(sql_rows(conn, parse(text)))

    assert rows("speed==55") & set(range(base)) == {0, 20}
    assert rows('name>"Zoe"') & {base, base + 1, base + 2} == {base, base + 1}
    assert base + 5 not in rows("series[0]==10")  # `[0]` names a key, never an array index
    assert base + 5 in rows("series[0]==7")
    assert base + 4 not in rows("name~=one.line")  # `.` stops at a newline, as in RE2


@pytest.mark.parametrize("text", ["speed==55", 'name=="Audi"', "flag==true", "owner==urn:a:2"])
def test_equality_gets_a_containment_prefilter(text: str) -> None:
    sql, params = postgres_filters.compile_q(parse(text))
    assert sql.startswith("((e.doc @? %s::jsonpath) AND ")
    assert json.dumps(expand(text.split("=")[0])) in params[0]


def test_prefilter_uses_a_gin_index(conn: psycopg.Connection) -> None:
    conn.execute("CREATE INDEX IF NOT EXISTS e_docs_gin ON e_docs USING gin (doc jsonb_path_ops)")
    conn.execute("ANALYZE e_docs")
    sql, params = postgres_filters.compile_q(parse('name=="Audi"'))
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = conn.execute(f"EXPLAIN SELECT n FROM e_docs e WHERE {sql}", params).fetchall()
    assert "e_docs_gin" in "\n".join(line for (line,) in plan)


@pytest.fixture(scope="module")
def scoped(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    conn.execute("CREATE TABLE scoped (n int, doc jsonb)")
    for n, scopes in enumerate(SCOPES):
        doc = {"id": f"e{n}", **({"scope": scopes} if scopes else {})}
        conn.execute("INSERT INTO scoped VALUES (%s, %s)", (n, Jsonb(doc)))
    yield conn
    conn.execute("DROP TABLE scoped")


@pytest.mark.parametrize("text", SCOPE_QUERIES)
def test_scope_sql_matches_evaluate_scope(scoped: psycopg.Connection, text: str) -> None:
    node = qlang.parse_scope_q(text)
    sql, params = postgres_filters.compile_scope(node)
    got = [n for (n,) in scoped.execute(f"SELECT n FROM scoped e WHERE {sql} ORDER BY n", params)]
    expected = [n for n, s in enumerate(SCOPES) if qlang.evaluate_scope(node, s)]
    assert got == expected


# -- regex translation --------------------------------------------------------------------
SUBJECTS = [
    "",
    "a",
    "abc",
    "ABC",
    "a\nb",
    "a\n",
    "\n",
    "x.y",
    "foo bar",
    "foo_bar",
    "a1b2",
    "ǅemal",
    "straße",
    "STRASSE",
    "K\u212a",
    "kelvin",
    "ſ",
    "tab\there",
    "vt\x0bhere",
    "é",
    "😀",
    "a{2}",
    "aaaa",
    "{}[]()",
    "\\",
    "^$",
    "x-y",
    "]",
    "100%",
    "Σσς",
]
PATTERNS = [
    "a",
    "^a",
    "a$",
    "^a\\z",
    "a.b",
    "(?s)a.b",
    "a.",
    "^.*$",
    "(?s)^.*$",
    "(?m)^b",
    "(?m)a$",
    "\\Aa",
    "[^a]",
    "[^a]b",
    "\\d",
    "\\D\\d",
    "\\w+_",
    "\\W",
    "\\s",
    "\\S\\s\\S",
    "\\bbar",
    "[^\\x00-\\x{10FFFF}]*x",
    "(?i)abc",
    "(?i)K",
    "(?i)\\w",
    "(?i)\\W",
    "(?i)[^k]",
    "(?i)[k-m]",
    "(?i)s",
    "(?i)ǆ",
    "(?i)σ",
    "(?i)STRAẞE",
    "a(?i)B",
    "(?i:A)bc",
    "(?i)a(?-i)BC",
    "[[:upper:]]",
    "[[:^alpha:][:digit:]]",
    "[]x]",
    "[a-]",
    "[\\d-z]",
    "[\\]\\\\]",
    "\\Q{}[]\\E",
    "\\Qa.b",
    "a{2}",
    "a{2,}",
    "a{1,3}?b",
    "(?U)a+b",
    "(?P<n>a)(?<m>b)",
    "a{",
    "a{,2}",
    "x|",
    "(|a)c",
    "\\x{1F600}",
    "\\x61\\141",
    "\\t|\\v",
    "\\.|\\-|\\_",
    "é",
    "[^\\x00-\\x{10FFFF}]",
    "\\^\\$",
    "100%",
    "[[:word:]]{2}",
]
REFUSED = [
    "\\pL",
    "\\p{Greek}",
    "\\PN",
    "[\\p{Lu}]",
    "\\C",
    "o\\B",  # RE2 also finds \B inside a multibyte character (it runs on UTF-8 bytes)
    "a{256}",
    "^*",
    "\\b+",
    "(a",
    "a\\1",
]


@pytest.fixture(scope="module")
def pg(conn: psycopg.Connection) -> psycopg.Connection:
    return conn


def pg_matches(pg: psycopg.Connection, are: str) -> list[bool]:
    query = "SELECT s ~ %s FROM unnest(%s::text[]) WITH ORDINALITY AS t(s, i) ORDER BY i"
    return [m for (m,) in pg.execute(query, (are, SUBJECTS))]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_translated_regex_matches_like_re2(pg: psycopg.Connection, pattern: str) -> None:
    re2 = filters.compiled_pattern(pattern)
    expected = [re2.search(s) is not None for s in SUBJECTS]
    assert pg_matches(pg, postgres_regex.regex(pattern)) == expected


def test_translation_examples() -> None:
    assert postgres_regex.regex("^a.c\\z") == "^a[^\\n]c\\Z"
    assert postgres_regex.regex("(?s)a.c") == "a.c"
    assert postgres_regex.regex("(?i)k") == "[Kk\\u212A]"


@pytest.mark.parametrize("pattern", REFUSED)
def test_untranslatable_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(filters.PatternError):
        postgres_regex.regex(pattern)


def test_case_folding_agrees_with_re2() -> None:
    """The orbits used for `(?i)` are the characters RE2 itself matches case-insensitively."""
    orbits = postgres_regex._fold_orbits()
    candidates = [chr(c) for c in sorted(orbits)]
    for char in "aksıİßǅσΩæ\u0345ϐꭰ𐐀":
        folded = filters.compiled_pattern("(?i)" + char)
        re2_orbit = {c for c in candidates if folded.fullmatch(c)} | {char}
        assert re2_orbit == {chr(c) for c in orbits.get(ord(char), (ord(char),))}, char
