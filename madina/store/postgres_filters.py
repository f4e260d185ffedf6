"""Resolved NGSI-LD `q` / `scopeQ` ASTs as PostgreSQL boolean expressions over `e.doc` (jsonb).

The meaning of a query is defined once, by `qlang.evaluate`; this module must give exactly the
same answers (the tests run both on many queries and documents). It mirrors `sqlite_filters`,
with which it shares the walk over nodes and operators (`sql_filters`):

- Every fragment is strictly true or false, never NULL, so NOT, AND and OR behave like Python's.
  Comparisons first check `jsonb_typeof`, so a string never equals or orders against a number;
  strings order by code point (`COLLATE "C"`), as Python's do; numbers compare as `numeric`.
- Choices that depend on the document (kind of attribute, sub-attribute or path into the value,
  array or scalar) are `CASE` expressions, which evaluate one branch only; that also keeps
  `jsonb_array_elements` and `::numeric` away from values they would raise on.
- Keys are stepped into with `->` and a text key only: unlike `#>`, it never indexes an array,
  just as `qlang` never walks into one. Keys are quoted literals (names are our expanded IRIs,
  any quote doubled); values are parameters.
- The first instance (`->0`, the usual default instance) is tested directly; the other
  instances are unnested only when a second one exists.
- A plain `attr==literal` also gets a jsonpath prefilter (`e.doc @? ...`) that every match
  passes, so a GIN `jsonb_path_ops` index on `doc` narrows the rows before the exact test.

Client regexes are RE2 (`qlang.evaluate` runs them so); `postgres_regex` rewrites them as the
ARE the `~` operator runs.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from madina.store import filters
from madina.store.postgres_regex import regex
from madina.store.sql_filters import ItemTest, Leaf, QCompiler, Sql, either, join

FALSE: Sql = ("false", ())

_TEXT = "({} #>> '{{}}') COLLATE \"C\""  # a jsonb string scalar as text, code point order
_SQL_OPS = {">": ">", ">=": ">=", "<": "<", "<=": "<="}


def compile_q(node: filters.Node) -> tuple[str, list[Any]]:
    """An SQL expression (over `e.doc`) true exactly when `qlang.evaluate(node, doc)` is."""
    sql, params = _QCompiler().node(node)
    return sql, list(params)


def compile_scope(node: filters.Node) -> tuple[str, list[Any]]:
    """An SQL expression (over `e.doc->'scope'`) mirroring `qlang.evaluate_scope`."""
    sql, params = _scope(node, itertools.count())
    return sql, list(params)


# -- helpers ------------------------------------------------------------------------------
def _literal(text: str) -> str:
    """A key as an SQL string literal; `%` doubled because psycopg reads `%s` placeholders."""
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _get(src: str, keys: Iterable[str]) -> str:
    return src + "".join(f"->{_literal(key)}" for key in keys)


def _is(expr: str, json_type: str) -> str:
    return f"jsonb_typeof({expr}) = '{json_type}'"


def _number(value: int | float) -> Decimal:
    """The literal as `numeric`: ints exactly, floats by their shortest repr, which is how
    `json.dumps` wrote the document's floats, so order and equality agree with Python's."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


@dataclass(frozen=True)
class _Target:
    """A jsonb expression for a path's target (SQL NULL when absent); mirrors `qlang._Target`."""

    expr: str
    relationship: bool = False
    language_strings: bool = False


def _typed(value: Any, make: Callable[[str], Sql]) -> ItemTest:
    if isinstance(value, str):
        return {"string": lambda v: make(_TEXT.format(v))}
    return {"number": lambda v: make(f"({v})::numeric")}


def _param(value: Any) -> Any:
    return value if isinstance(value, str) else _number(value)


def _equal_test(value: Any) -> ItemTest:
    if isinstance(value, filters.ValueList):
        return either([_equal_test(v) for v in value.items])
    if isinstance(value, filters.Range):
        bounds = (_param(value.low), _param(value.high))
        return _typed(value.low, lambda v: (f"({v} BETWEEN %s AND %s)", bounds))
    if isinstance(value, bool):
        return {"boolean": lambda v: (f"({v} = '{json.dumps(value)}'::jsonb)", ())}
    return _typed(value, lambda v: (f"({v} = %s)", (_param(value),)))


def _order_test(op: str, value: Any) -> ItemTest:
    return _typed(value, lambda v: (f"({v} {_SQL_OPS[op]} %s)", (_param(value),)))


def _pattern_test(pattern: str) -> ItemTest:
    return {"string": lambda v: (f"({_TEXT.format(v)} ~ %s)", (regex(pattern),))}


_TEXT_TEST: ItemTest = {"string": lambda v: ("true", ())}


def _dispatch(expr: str, test: ItemTest, array: Sql | None = None) -> Sql:
    arms = [("array", array)] if array is not None else []
    arms += [(json_type, make(expr)) for json_type, make in test.items()]
    whens = " ".join(f"WHEN '{json_type}' THEN {arm[0]}" for json_type, arm in arms)
    params = tuple(itertools.chain.from_iterable(arm[1] for _, arm in arms))
    return f"(CASE jsonb_typeof({expr}) {whens} ELSE false END)", params


# -- the GIN prefilter --------------------------------------------------------------------
_CONTENT_MEMBERS = ("value", "object", "vocab", "json", "valueList", "objectList")


def _prefilter(name: str, value: Any) -> Sql | None:
    """A jsonpath test (`@?`, served by GIN `jsonb_path_ops`) that every document matching
    `name==value` passes; the exact test then decides.

    A literal can be any content member, or an element of it when it is an array (lax mode
    unwraps one level, as `qlang` does); a string can also be a wrapped `@value`, or any string
    of a languageMap, whose language no indexable path can leave open: there the attribute's
    `LanguageProperty` type stands in. Value lists (`resolve` widens vocabulary terms into
    one) OR their items.
    """
    items = value.items if isinstance(value, filters.ValueList) else (value,)
    if not all(isinstance(i, str | bool | int) or _finite(i) for i in items):
        return None  # a Range, or a float jsonpath cannot spell
    conditions: list[str] = []
    for item in items:
        literal = json.dumps(item, ensure_ascii=False)
        conditions += [f'@."{member}" == {literal}' for member in _CONTENT_MEMBERS]
        if isinstance(item, str):
            conditions.append(f'@."value"."@value" == {literal}')
    if any(isinstance(item, str) for item in items):
        conditions.append('@."type" == "LanguageProperty"')
    path = f"lax $.{json.dumps(name, ensure_ascii=False)}[*] ? ({' || '.join(conditions)})"
    return "(e.doc @? %s::jsonpath)", (path,)


def _finite(value: Any) -> bool:
    return isinstance(value, float) and value - value == 0


# -- q ------------------------------------------------------------------------------------
class _QCompiler(QCompiler):
    FALSE = FALSE
    TEXT_TEST = _TEXT_TEST
    equal_test = staticmethod(_equal_test)
    order_test = staticmethod(_order_test)
    pattern_test = staticmethod(_pattern_test)

    def comparison(self, node: filters.Comparison) -> Sql:
        exact = super().comparison(node)
        path = node.path
        if node.op == "==" and not path.sub and not path.trail and exact != FALSE:
            prefilter = _prefilter(path.name, node.value)
            if prefilter is not None:
                return join([prefilter, exact], "AND")
        return exact

    def exists(self, path: filters.AttrPath) -> Sql:
        if not path.sub and not path.trail:
            first = _get("e.doc", (path.name,)) + "->0"
            return f"coalesce({_is(first, 'object')}, false)", ()
        return self.any_instance(path, self.present, reads_strings=False)

    def any_instance(self, path: filters.AttrPath, leaf: Leaf, reads_strings: bool) -> Sql:
        """True when any instance passes: `->0` directly, the rest only if there are more.

        The attribute's list is taken out of the document once, in a subquery (`OFFSET 0`
        keeps the planner from inlining it back): every `e.doc` access decompresses a TOASTed
        document again, which made a comparison three times slower on 2 kB documents.
        """
        source = self.alias("a")
        attribute = f"{source}.v"

        def instance_test(base: str) -> Sql:
            walk = _Walk(path.trail, leaf, reads_strings)
            return self.descend(walk, base, path.segments, path.sub)

        first = instance_test(attribute + "->0")
        if first == FALSE:
            return FALSE
        alias = self.alias("i")
        others = instance_test(f"{alias}.value")
        sql = (
            f"(SELECT {first[0]} OR (CASE WHEN {attribute}->1 IS NULL THEN false ELSE EXISTS"
            f" (SELECT 1 FROM jsonb_array_elements({attribute}) WITH ORDINALITY AS {alias}"
            f" WHERE {alias}.ordinality > 1 AND {others[0]}) END)"
            f" FROM (SELECT {_get('e.doc', (path.name,))} AS v OFFSET 0) AS {source})"
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
            return walk.leaf(_Target(_get(base, (segment, *compact[1:], *walk.trail))))
        child = _get(base, (segment,))
        return self.case_when(
            _is(child, "object"),
            self.descend(walk, child, segments[1:], compact[1:]),
            self.element(walk, base, (*compact, *walk.trail)),
        )

    def element(self, walk: _Walk, base: str, rest: tuple[str, ...]) -> Sql:
        """The value member chosen by the instance's `type`, then `rest` into it."""
        leaf = walk.leaf
        arms: list[tuple[str, Sql]] = []
        for kind, member in filters.VALUE_MEMBER_BY_TYPE.items():
            member_expr = _get(base, (member,))
            if member == "value" and (rest or walk.reads_strings):
                unwrapped = _get(member_expr, ("@value",))
                arm = self.case_when(
                    _is(unwrapped, "string"),
                    leaf(_Target(_get(unwrapped, rest))),
                    leaf(_Target(_get(member_expr, rest))),
                )
            elif member == "languageMap" and rest in ((), (filters.ANY_LANGUAGE,)):
                arm = leaf(_Target(member_expr, language_strings=True))
            else:
                relationship = kind in filters.RELATIONSHIP_TYPES
                arm = leaf(_Target(_get(member_expr, rest), relationship=relationship))
            if arm != FALSE:
                arms.append((kind, arm))
        if not arms:
            return FALSE
        whens = " ".join(f"WHEN '{kind}' THEN {arm[0]}" for kind, arm in arms)
        params = tuple(itertools.chain.from_iterable(arm[1] for _, arm in arms))
        return f"(CASE {base}->>'type' {whens} ELSE false END)", params

    # -- leaves: one target ---------------------------------------------------------------
    @staticmethod
    def present(target: _Target) -> Sql:
        return f"({target.expr} IS NOT NULL)", ()

    def any_item(self, target: _Target, test: ItemTest) -> Sql:
        alias = self.alias("j")
        if target.language_strings:  # only the strings count, at any depth
            if "string" not in test:
                return FALSE
            in_tree = _dispatch(f"{alias}.value", {"string": test["string"]})
            sql = (
                f"EXISTS (SELECT 1 FROM jsonb_path_query({target.expr}, 'strict $.**')"
                f" AS {alias}(value) WHERE {in_tree[0]})"
            )
            return sql, in_tree[1]
        in_array = _dispatch(f"{alias}.value", test)
        array = (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements({target.expr}) AS {alias}"
            f" WHERE {in_array[0]})",
            in_array[1],
        )
        return _dispatch(target.expr, test, array)


@dataclass(frozen=True)
class _Walk:
    """What stays fixed while descending one instance: the trail and the leaf."""

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
        pattern = node.pattern
        if "+" not in pattern and not pattern.endswith("#"):
            return "e.doc @> %s::jsonb", (json.dumps({"scope": [pattern]}),)
        alias = f"s{next(aliases)}"
        scopes = "e.doc->'scope'"
        sql = (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN {_is(scopes, 'array')}"
            f" THEN {scopes} END) AS {alias} WHERE {_is(f'{alias}.value', 'string')}"
            f" AND {_TEXT.format(f'{alias}.value')} ~ %s)"
        )
        return sql, (regex(filters.scope_regex(pattern)),)
    raise TypeError(f"not a scopeQ node: {node!r}")
