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

The walk over nodes and operators is the one `postgres_filters` takes too (`sql_filters`).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from madina.store import filters
from madina.store.sql_filters import ItemTest, Leaf, QCompiler, Sql, either, join

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


@dataclass(frozen=True)
class _Target:
    """Where a path's target sits: JSON text `src` at `path`; mirrors `qlang._Target`."""

    src: str
    path: str
    relationship: bool = False
    language_strings: bool = False


def _typed(value: Any, make: Callable[[str], Sql]) -> ItemTest:
    if isinstance(value, str):
        return {"text": make}
    return {"integer": make, "real": make}


def _equal_test(value: Any) -> ItemTest:
    if isinstance(value, filters.ValueList):
        return either([_equal_test(v) for v in value.items])
    if isinstance(value, filters.Range):
        return _typed(value.low, lambda v: (f"({v} BETWEEN ? AND ?)", (value.low, value.high)))
    if isinstance(value, bool):
        return {"true" if value else "false": lambda v: ("1", ())}
    return _typed(value, lambda v: (f"({v} = ?)", (value,)))


def _order_test(op: str, value: Any) -> ItemTest:
    return _typed(value, lambda v: (f"({v} {_SQL_OPS[op]} ?)", (value,)))


def _pattern_test(pattern: str) -> ItemTest:
    return {"text": lambda v: (f"regexp(?, {v})", (pattern,))}


_TEXT_TEST: ItemTest = {"text": lambda v: ("1", ())}


def _dispatch(type_sql: str, value_sql: str, test: ItemTest, array: Sql | None = None) -> Sql:
    arms = [("'array'", array)] if array is not None else []
    arms += [(f"'{json_type}'", make(value_sql)) for json_type, make in test.items()]
    whens = " ".join(f"WHEN {json_type} THEN {arm[0]}" for json_type, arm in arms)
    params = tuple(itertools.chain.from_iterable(arm[1] for _, arm in arms))
    return f"(CASE {type_sql} {whens} ELSE 0 END)", params


# -- q ------------------------------------------------------------------------------------
class _QCompiler(QCompiler):
    FALSE = FALSE
    TEXT_TEST = _TEXT_TEST
    equal_test = staticmethod(_equal_test)
    order_test = staticmethod(_order_test)
    pattern_test = staticmethod(_pattern_test)

    def exists(self, path: filters.AttrPath) -> Sql:
        if not path.sub and not path.trail:
            first = "$" + _key(path.name) + "[0]"
            return f"(json_type(e.doc, {_literal(first)}) IS NOT NULL)", ()
        return self.any_instance(path, self.present, reads_strings=False)

    def any_instance(self, path: filters.AttrPath, leaf: Leaf, reads_strings: bool) -> Sql:
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
        return self.case_when(
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
                arm = self.case_when(
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

    def any_item(self, target: _Target, test: ItemTest) -> Sql:
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


@dataclass(frozen=True)
class _Walk:
    """What stays fixed while descending one instance: its JSON source and the leaf."""

    src: str
    trail: tuple[str, ...]
    leaf: Leaf
    reads_strings: bool  # False: unwrapping a string @value cannot change the answer


# -- scopeQ -------------------------------------------------------------------------------
def _scope(node: filters.Node, aliases: itertools.count) -> Sql:
    if isinstance(node, filters.And):
        return join([_scope(item, aliases) for item in node.items], "AND")
    if isinstance(node, filters.Or):
        return join([_scope(item, aliases) for item in node.items], "OR")
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
