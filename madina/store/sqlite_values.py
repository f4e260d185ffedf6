"""The attribute-value index of the SQLite engine, and the `q` prefilter that reads it.

`json_extract` re-parses an entity's JSON text on every call, so a `q` evaluated row by row costs
a full scan of the entity type (~0.5 s at 100k entities). This index keeps, for every attribute
instance, the scalar(s) a plain `attr<op>value` comparison looks at. A query first takes the
candidates from the index with one range scan, then the exact compiled `q` (sqlite_filters)
decides on those few rows, so answers stay exactly those of `qlang.evaluate`.

Soundness rule: the prefilter must return a superset of the true matches. Values the index
cannot represent (objects, booleans, language maps, long texts, huge integers) are stored as
"opaque" rows, which every prefilter on that attribute returns as candidates. When no attribute
a query reads has an opaque row, the index rows say exactly what `qlang.evaluate` would, so the
store can skip the exact `q` (see `Prefilter.exact`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from madina.store import filters

CONTENT_MEMBERS = ("value", "object", "vocab", "json", "valueList", "objectList")
MAX_TEXT = 256
MAX_ARRAY = 32
MAX_EXACT_INT = 2**53

Row = tuple[int, float | None, str | None, int, int]
"""(attribute name id, number, text, opaque flag, relationship flag) for one indexed scalar."""

RELATIONSHIP_KINDS = ("Relationship", "ListRelationship")


@dataclass
class Prefilter:
    """`sql` selects entity pks; `exact` says it selects exactly the matches provided none of
    `attrs` (name ids) has an opaque row."""

    sql: str
    params: list[Any]
    attrs: set[int] = field(default_factory=set)
    exact: bool = True

_ORDERED = {">", ">=", "<", "<="}


def _scalar(value: Any) -> tuple[float | None, str | None] | None:
    """The (num, txt) pair for an indexable scalar, or None when it must be opaque."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (float(value), None) if abs(value) <= MAX_EXACT_INT else None
    if isinstance(value, float):
        return (value, None)
    if isinstance(value, str):
        return (None, value) if len(value) <= MAX_TEXT else None
    return None


def instance_rows(name_id: int, instance: dict[str, Any]) -> list[Row]:
    """Index rows for one attribute instance: its content scalar(s), or one opaque row.

    GeoProperties get none: a GeoJSON object never equals or orders against a q literal."""
    kind = instance.get("type")
    if kind == "Property" and "value" in instance:
        # A Property holding one number or short text, as nearly every measure does.
        value = instance["value"]
        if value.__class__ is float:
            return [(name_id, value, None, 0, 0)]
        if value.__class__ is int and -MAX_EXACT_INT <= value <= MAX_EXACT_INT:
            return [(name_id, float(value), None, 0, 0)]
        if value.__class__ is str and len(value) <= MAX_TEXT:
            return [(name_id, None, value, 0, 0)]
    elif kind == "GeoProperty":
        return []
    content = None
    for member in CONTENT_MEMBERS:
        if member in instance:
            content = instance[member]
            break
    items = content if isinstance(content, list) and len(content) <= MAX_ARRAY else [content]
    ref = int(instance.get("type") in RELATIONSHIP_KINDS)
    rows: list[Row] = []
    for item in items:
        pair = _scalar(item)
        if pair is None:
            return [(name_id, None, None, 1, ref)]
        rows.append((name_id, pair[0], pair[1], 0, ref))
    return rows or [(name_id, None, None, 1, ref)]


def prefilter(node: Any, name_id: Any) -> Prefilter | None:
    """A `SELECT entity_pk ...` returning a superset of the entities `node` matches, or None
    when the index cannot narrow this query. `name_id(iri)` gives the attribute's id, or None
    when no entity ever had that attribute."""
    if isinstance(node, filters.And):
        parts = [p for p in (prefilter(item, name_id) for item in node.items) if p is not None]
        if not parts:
            return None
        return _combine(parts, " INTERSECT ", exact=len(parts) == len(node.items))
    if isinstance(node, filters.Or):
        parts = [prefilter(item, name_id) for item in node.items]
        if any(p is None for p in parts):
            return None
        return _combine(parts, " UNION ", exact=True)
    if isinstance(node, filters.Comparison):
        return _comparison(node, name_id)
    return None


def _combine(parts: list[Prefilter], operator: str, exact: bool) -> Prefilter:
    return Prefilter(
        sql=operator.join(f"SELECT * FROM ({p.sql})" for p in parts),
        params=[x for p in parts for x in p.params],
        attrs=set().union(*(p.attrs for p in parts)),
        exact=exact and all(p.exact for p in parts),
    )


def _comparison(node: Any, name_id: Any) -> Prefilter | None:
    path = node.path
    if path.sub or path.trail or node.op not in _ORDERED | {"=="}:
        return None
    conditions = _conditions(node.op, node.value)
    if conditions is None:
        return None
    attr = name_id(path.name)
    if attr is None:
        return Prefilter("SELECT NULL WHERE 0", [])
    # Relationships only answer == (clause 4.9): their targets never order against literals.
    only_values = " AND ref = 0" if node.op in _ORDERED else ""
    selects = [
        f"SELECT entity_pk FROM attr_values WHERE attr = ? AND {c}{only_values}"
        for c, _ in conditions
    ]
    selects.append("SELECT entity_pk FROM attr_values WHERE attr = ? AND opaque = 1")
    params: list[Any] = []
    for _, values in conditions:
        params.extend([attr, *values])
    params.append(attr)
    return Prefilter(" UNION ".join(selects), params, {attr})


def _column(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, str):
        return "txt"
    return None


def _conditions(op: str, value: Any) -> list[tuple[str, list[Any]]] | None:
    if isinstance(value, filters.Range):
        column = _column(value.low)
        if op != "==" or column is None or _column(value.high) != column:
            return None
        return [(f"{column} BETWEEN ? AND ?", [value.low, value.high])]
    if isinstance(value, filters.ValueList):
        if op != "==":
            return None
        by_column: dict[str, list[Any]] = {}
        for item in value.items:
            column = _column(item)
            if column is None:
                return None
            by_column.setdefault(column, []).append(item)
        return [
            (f"{column} IN ({','.join('?' * len(items))})", items)
            for column, items in by_column.items()
        ]
    column = _column(value)
    if column is None:
        return None
    sql_op = "=" if op == "==" else op
    return [(f"{column} {sql_op} ?", [value])]
