"""Resolved NGSI-LD `q` / `scopeQ` ASTs as SQLite boolean expressions over `e.doc`.

The meaning of a query is defined once, by `qlang.evaluate`; this module must give exactly
the same answers (the tests compare both on many queries and documents). Three things keep
that true and fast:

- Every fragment is strictly 0 or 1, never NULL, so NOT, AND and OR behave like Python's.
  SQLite orders any TEXT above any number, so each comparison first checks `json_type`.
- Choices that depend on the document (which kind of attribute, is there a sub-attribute of
  that name, is the target an array) are `CASE` expressions, which evaluate one branch only.
- SQLite caches the parse of `e.doc` across the json_* calls of one row, so repeated calls
  with different paths are cheap; the expensive part is walking several instances, so the
  first instance (`[0]`, the usual default instance) is tested directly and `json_each` over
  all instances runs only when a second instance exists.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from madina.store import filters

Sql = tuple[str, tuple[Any, ...]]
FALSE: Sql = ("0", ())

_NUMBER_TYPES = "('integer', 'real')"
_SQL_OPS = {">": ">", ">=": ">=", "<": "<", "<=": "<="}


def register_functions(conn: sqlite3.Connection) -> None:
    """`regexp(pattern, value)`: an RE2 search, as `qlang.evaluate` uses; also backs the
    `REGEXP` operator. Non-text values never match."""
    conn.create_function("regexp", 2, _regexp, deterministic=True)


def _regexp(pattern: Any, value: Any) -> bool:
    if not isinstance(pattern, str) or not isinstance(value, str):
        return False
    return filters.compiled_pattern(pattern).search(value) is not None


def compile_q(node: filters.Node) -> tuple[str, list[Any]]:
    """An SQL expression (over `e.doc`) true exactly when `qlang.evaluate(node, doc)` is."""
    sql, params = _QCompiler().node(node)
    return sql, list(params)


def compile_scope(node: filters.Node) -> tuple[str, list[Any]]:
    """An SQL expression (over `e.doc`'s `scope` list) mirroring `qlang.evaluate_scope`."""
    sql, params = _scope(node, itertools.count())
    return sql, list(params)


# -- helpers ------------------------------------------------------------------------------
def _literal(path: str) -> str:
    """A JSON path as an SQL string literal (paths are built by us, values are parameters)."""
    return "'" + path.replace("'", "''") + "'"


def _key(name: str) -> str:
    if '"' in name:
        raise filters.UnqueryableName(f"Attribute or member name {name!r} cannot be queried")
    return f'."{name}"'


def _keys(names: Iterable[str]) -> str:
    return "".join(_key(n) for n in names)


def _join(parts: list[Sql], operator: str) -> Sql:
    sql = "(" + f" {operator} ".join(p[0] for p in parts) + ")"
    return sql, tuple(itertools.chain.from_iterable(p[1] for p in parts))


def _case_when(condition: str, then: Sql, otherwise: Sql) -> Sql:
    if then == otherwise == FALSE:
        return FALSE
    return f"(CASE WHEN {condition} THEN {then[0]} ELSE {otherwise[0]} END)", then[1] + otherwise[1]


@dataclass(frozen=True)
class _Target:
    """Where a path's target sits: JSON text `src` at `path`; mirrors `qlang._Target`."""

    src: str
    path: str
    relationship: bool = False
    language_strings: bool = False


_Leaf = Callable[[_Target], Sql]

# A test of one item, by its JSON type: {json_type: value SQL -> 0/1 fragment}. Types not
# listed fail, so each test reads the type once and never compares TEXT with numbers.
_ItemTest = dict[str, Callable[[str], Sql]]


def _typed(value: Any, make: Callable[[str], Sql]) -> _ItemTest:
    if isinstance(value, str):
        return {"text": make}
    return {"integer": make, "real": make}


def _either(tests: list[_ItemTest]) -> _ItemTest:
    merged: dict[str, list[Callable[[str], Sql]]] = {}
    for test in tests:
        for json_type, make in test.items():
            merged.setdefault(json_type, []).append(make)
    return {
        json_type: (lambda v, makes=makes: _join([m(v) for m in makes], "OR"))
        for json_type, makes in merged.items()
    }


def _equal_test(value: Any) -> _ItemTest:
    if isinstance(value, filters.ValueList):
        return _either([_equal_test(v) for v in value.items])
    if isinstance(value, filters.Range):
        return _typed(value.low, lambda v: (f"({v} BETWEEN ? AND ?)", (value.low, value.high)))
    if isinstance(value, bool):
        return {"true" if value else "false": lambda v: ("1", ())}
    return _typed(value, lambda v: (f"({v} = ?)", (value,)))


def _order_test(op: str, value: Any) -> _ItemTest:
    return _typed(value, lambda v: (f"({v} {_SQL_OPS[op]} ?)", (value,)))


def _pattern_test(pattern: str) -> _ItemTest:
    return {"text": lambda v: (f"regexp(?, {v})", (pattern,))}


_TEXT_TEST: _ItemTest = {"text": lambda v: ("1", ())}


def _dispatch(type_sql: str, value_sql: str, test: _ItemTest, array: Sql | None = None) -> Sql:
    arms = [("'array'", array)] if array is not None else []
    arms += [(f"'{json_type}'", make(value_sql)) for json_type, make in test.items()]
    whens = " ".join(f"WHEN {json_type} THEN {arm[0]}" for json_type, arm in arms)
    params = tuple(itertools.chain.from_iterable(arm[1] for _, arm in arms))
    return f"(CASE {type_sql} {whens} ELSE 0 END)", params


def _reads_strings(op: str, value: Any) -> bool:
    """Whether unwrapping a string `@value` can change this comparison's answer."""
    if op in filters.PATTERN_OPS:
        return True
    if isinstance(value, filters.ValueList):
        return any(isinstance(v, str) for v in value.items)
    if isinstance(value, filters.Range):
        return isinstance(value.low, str)
    return isinstance(value, str)


# -- q ------------------------------------------------------------------------------------
class _QCompiler:
    def __init__(self) -> None:
        self.aliases = itertools.count()

    def alias(self, prefix: str) -> str:
        return f"{prefix}{next(self.aliases)}"

    def node(self, node: filters.Node) -> Sql:
        if isinstance(node, filters.And):
            return _join([self.node(item) for item in node.items], "AND")
        if isinstance(node, filters.Or):
            return _join([self.node(item) for item in node.items], "OR")
        if isinstance(node, filters.Exists):
            sql, params = self.exists(node.path)
            return (f"(NOT {sql})", params) if node.negated else (sql, params)
        if isinstance(node, filters.Comparison):
            leaf = self.comparison_leaf(node.op, node.value)
            strings = _reads_strings(node.op, node.value)
            return self.any_instance(node.path, leaf, strings)
        raise TypeError(f"not a q node: {node!r}")

    def exists(self, path: filters.AttrPath) -> Sql:
        if not path.sub and not path.trail:
            first = "$" + _key(path.name) + "[0]"
            return f"(json_type(e.doc, {_literal(first)}) IS NOT NULL)", ()
        return self.any_instance(path, self.present, reads_strings=False)

    def any_instance(self, path: filters.AttrPath, leaf: _Leaf, reads_strings: bool) -> Sql:
        """True when any instance passes: `[0]` directly, the rest only if there are more."""
        attribute = "$" + _key(path.name)

        def instance_test(src: str, base: str) -> Sql:
            walk = _Walk(src, path.trail, leaf, reads_strings)
            return self.descend(walk, base, path.segments, path.sub)

        first = instance_test("e.doc", attribute + "[0]")
        if first == FALSE:
            return FALSE
        alias = self.alias("i")
        others = instance_test(f"{alias}.value", "$")
        sql = (
            f"({first[0]} OR (json_type(e.doc, {_literal(attribute + '[1]')}) IS NOT NULL"
            f" AND EXISTS (SELECT 1 FROM json_each(e.doc, {_literal(attribute)}) AS {alias}"
            f" WHERE {others[0]})))"
        )
        return sql, first[1] + others[1]

    def descend(
        self, walk: _Walk, base: str, segments: tuple[str, ...], compact: tuple[str, ...]
    ) -> Sql:
        """Sub-attribute by expanded name if the instance has one, else a path into the value."""
        if not segments:
            return self.element(walk, base, walk.trail)
        segment = segments[0]
        if segment in filters.INSTANCE_MEMBERS:
            rest = (*compact[1:], *walk.trail)
            return walk.leaf(_Target(walk.src, base + _key(segment) + _keys(rest)))
        child = base + _key(segment)
        return _case_when(
            f"json_type({walk.src}, {_literal(child)}) IS 'object'",
            self.descend(walk, child, segments[1:], compact[1:]),
            self.element(walk, base, (*compact, *walk.trail)),
        )

    def element(self, walk: _Walk, base: str, rest: tuple[str, ...]) -> Sql:
        """The value member chosen by the instance's `type`, then `rest` into it."""
        src, leaf = walk.src, walk.leaf
        arms: list[tuple[str, Sql]] = []
        for kind, member in filters.VALUE_MEMBER_BY_TYPE.items():
            member_path = base + _key(member)
            if member == "value" and (rest or walk.reads_strings):
                unwrapped = member_path + _key("@value")
                arm = _case_when(
                    f"json_type({src}, {_literal(unwrapped)}) IS 'text'",
                    leaf(_Target(src, unwrapped + _keys(rest))),
                    leaf(_Target(src, member_path + _keys(rest))),
                )
            elif member == "languageMap" and rest in ((), (filters.ANY_LANGUAGE,)):
                arm = leaf(_Target(src, member_path, language_strings=True))
            else:
                relationship = kind in filters.RELATIONSHIP_TYPES
                arm = leaf(_Target(src, member_path + _keys(rest), relationship=relationship))
            if arm != FALSE:
                arms.append((kind, arm))
        if not arms:
            return FALSE
        whens = " ".join(f"WHEN '{kind}' THEN {arm[0]}" for kind, arm in arms)
        params = tuple(itertools.chain.from_iterable(arm[1] for _, arm in arms))
        kind_sql = f"json_extract({src}, {_literal(base + '.type')})"
        return f"(CASE {kind_sql} {whens} ELSE 0 END)", params

    # -- leaves: one target ---------------------------------------------------------------
    @staticmethod
    def present(target: _Target) -> Sql:
        return f"(json_type({target.src}, {_literal(target.path)}) IS NOT NULL)", ()

    def any_item(self, target: _Target, test: _ItemTest) -> Sql:
        """Some item passes: array elements, every string of a languageMap, or the value."""
        alias = self.alias("j")
        src, path = target.src, _literal(target.path)
        if target.language_strings:
            if "text" not in test:
                return FALSE
            # Only the strings of a language map take part; a stray number never matches.
            strings = _dispatch(f"{alias}.type", f"{alias}.value", {"text": test["text"]})
            sql = f"EXISTS (SELECT 1 FROM json_tree({src}, {path}) AS {alias} WHERE {strings[0]})"
            return sql, strings[1]
        in_array = _dispatch(f"{alias}.type", f"{alias}.value", test)
        array = (
            f"EXISTS (SELECT 1 FROM json_each({src}, {path}) AS {alias} WHERE {in_array[0]})",
            in_array[1],
        )
        return _dispatch(f"json_type({src}, {path})", f"json_extract({src}, {path})", test, array)

    def comparison_leaf(self, op: str, value: Any) -> _Leaf:
        def leaf(target: _Target) -> Sql:
            if target.relationship and op not in filters.EQUALITY_OPS:
                return FALSE
            if op == "==":
                return self.any_item(target, _equal_test(value))
            if op == "!=":
                found = self.any_item(target, _equal_test(value))
                return _join([self.present(target), _negate(found)], "AND")
            if op in filters.ORDER_OPS:
                return self.any_item(target, _order_test(op, value))
            matched = self.any_item(target, _pattern_test(value))
            if op == "~=":
                return matched
            return _join([self.any_item(target, _TEXT_TEST), _negate(matched)], "AND")

        return leaf


@dataclass(frozen=True)
class _Walk:
    """What stays fixed while descending one instance: its JSON source and the leaf."""

    src: str
    trail: tuple[str, ...]
    leaf: _Leaf
    reads_strings: bool  # False: unwrapping a string @value cannot change the answer


def _negate(fragment: Sql) -> Sql:
    return f"(NOT {fragment[0]})", fragment[1]


# -- scopeQ -------------------------------------------------------------------------------
def _scope(node: filters.Node, aliases: itertools.count) -> Sql:
    if isinstance(node, filters.And):
        return _join([_scope(item, aliases) for item in node.items], "AND")
    if isinstance(node, filters.Or):
        return _join([_scope(item, aliases) for item in node.items], "OR")
    if isinstance(node, filters.ScopeMatch):
        alias = f"s{next(aliases)}"
        pattern = node.pattern
        if "+" in pattern or pattern.endswith("#"):
            test, param = f"regexp(?, {alias}.value)", filters.scope_regex(pattern)
        else:
            test, param = f"{alias}.value = ?", pattern
        sql = (
            f"EXISTS (SELECT 1 FROM json_each(e.doc, '$.scope') AS {alias}"
            f" WHERE {alias}.type = 'text' AND {test})"
        )
        return sql, (param,)
    raise TypeError(f"not a scopeQ node: {node!r}")
