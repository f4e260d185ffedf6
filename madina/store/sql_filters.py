"""What the two SQL compilers of `q` (`sqlite_filters`, `postgres_filters`) share: fragments as
(SQL, parameters) and their AND, OR and NOT, item tests merged, and the walk over the syntax
tree's nodes and comparison operators, which must mean the same on both engines.

Each engine's compiler supplies its SQL: how an attribute's instances are reached (`exists`,
`any_instance`), when a target is present or holds a passing item (`present`, `any_item`),
its item tests and its false.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from madina.store import filters

Sql = tuple[str, tuple[Any, ...]]
ItemTest = dict[str, Callable[[str], Sql]]
"""A test of one item, by its JSON type: {type: the item's SQL -> fragment}. Types not listed
fail, so each test reads the type once and never compares text with numbers."""
Leaf = Callable[[Any], Sql]
"""A test of one target (the engine's description of where a path's target sits)."""


def join(parts: list[Sql], operator: str) -> Sql:
    sql = "(" + f" {operator} ".join(p[0] for p in parts) + ")"
    return sql, tuple(itertools.chain.from_iterable(p[1] for p in parts))


def negate(fragment: Sql) -> Sql:
    return f"(NOT {fragment[0]})", fragment[1]


def either(tests: list[ItemTest]) -> ItemTest:
    """Passes when any of `tests` does."""
    merged: dict[str, list[Callable[[str], Sql]]] = {}
    for test in tests:
        for json_type, make in test.items():
            merged.setdefault(json_type, []).append(make)
    return {
        json_type: (lambda v, makes=makes: join([m(v) for m in makes], "OR"))
        for json_type, makes in merged.items()
    }


def reads_strings(op: str, value: Any) -> bool:
    """Whether unwrapping a string `@value` can change this comparison's answer."""
    if op in filters.PATTERN_OPS:
        return True
    if isinstance(value, filters.ValueList):
        return any(isinstance(v, str) for v in value.items)
    if isinstance(value, filters.Range):
        return isinstance(value.low, str)
    return isinstance(value, str)


class QCompiler:
    """One `q` tree to one SQL expression (over `e.doc`); aliases are numbered per tree."""

    FALSE: Sql
    TEXT_TEST: ItemTest
    """Passes any string."""

    def __init__(self) -> None:
        self.aliases = itertools.count()

    def alias(self, prefix: str) -> str:
        return f"{prefix}{next(self.aliases)}"

    def node(self, node: filters.Node) -> Sql:
        if isinstance(node, filters.And):
            return join([self.node(item) for item in node.items], "AND")
        if isinstance(node, filters.Or):
            return join([self.node(item) for item in node.items], "OR")
        if isinstance(node, filters.Exists):
            sql, params = self.exists(node.path)
            return (f"(NOT {sql})", params) if node.negated else (sql, params)
        if isinstance(node, filters.Comparison):
            return self.comparison(node)
        raise TypeError(f"not a q node: {node!r}")

    def comparison(self, node: filters.Comparison) -> Sql:
        leaf = self.comparison_leaf(node.op, node.value)
        return self.any_instance(node.path, leaf, reads_strings(node.op, node.value))

    def comparison_leaf(self, op: str, value: Any) -> Leaf:
        def leaf(target: Any) -> Sql:
            if target.relationship and op not in filters.EQUALITY_OPS:
                return self.FALSE
            if op == "==":
                return self.any_item(target, self.equal_test(value))
            if op == "!=":
                found = self.any_item(target, self.equal_test(value))
                return join([self.present(target), negate(found)], "AND")
            if op in filters.ORDER_OPS:
                return self.any_item(target, self.order_test(op, value))
            matched = self.any_item(target, self.pattern_test(value))
            if op == "~=":
                return matched
            return join([self.any_item(target, self.TEXT_TEST), negate(matched)], "AND")

        return leaf

    def case_when(self, condition: str, then: Sql, otherwise: Sql) -> Sql:
        if then == otherwise == self.FALSE:
            return self.FALSE
        return (f"(CASE WHEN {condition} THEN {then[0]} ELSE {otherwise[0]} END)",
                then[1] + otherwise[1])

    # -- the engine's SQL ------------------------------------------------------------------
    def exists(self, path: filters.AttrPath) -> Sql:
        raise NotImplementedError

    def any_instance(self, path: filters.AttrPath, leaf: Leaf, reads_strings: bool) -> Sql:
        """True when any instance of the attribute passes `leaf`."""
        raise NotImplementedError

    def present(self, target: Any) -> Sql:
        raise NotImplementedError

    def any_item(self, target: Any, test: ItemTest) -> Sql:
        """Some item passes: array elements, every string of a languageMap, or the value."""
        raise NotImplementedError

    def equal_test(self, value: Any) -> ItemTest:
        raise NotImplementedError

    def order_test(self, op: str, value: Any) -> ItemTest:
        raise NotImplementedError

    def pattern_test(self, pattern: str) -> ItemTest:
        raise NotImplementedError
