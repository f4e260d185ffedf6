"""From NGSI-LD query parameters (compact names, text) to the store's `EntityQuery` (expanded).

Shared by GET /entities, POST /entityOperations/query, purge and, later, subscriptions, so every
entry point validates the same way and gives the same errors.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from madina.context import geo, qlang
from madina.context.errors import BadRequestData, TooManyResults
from madina.context.jsonld import TermMap
from madina.store.base import EntityQuery, EntitySelector, GeoFilter, TypeExpr
from madina.store.filters import PatternError, compiled_pattern

_TYPE_TOKEN = re.compile(r"\s*([(),;|])\s*|\s*([^(),;|\s]+)\s*")


@dataclass
class SelectorParams:
    """One entity selector as the client sent it (compact type names)."""

    ids: list[str] | None = None
    id_pattern: str | None = None
    type: str | None = None


@dataclass
class QueryParams:
    """The selection part of a query as the client sent it (compact names)."""

    selectors: list[SelectorParams] = field(default_factory=list)
    attrs: list[str] | None = None
    q: str | None = None
    scope_q: str | None = None
    georel: str | None = None
    geometry: str | None = None
    coordinates: Any = None
    geoproperty: str | None = None
    order_by: str | None = None

    def restricts(self) -> bool:
        return bool(self.selectors) or any(
            v is not None for v in (self.attrs, self.q, self.scope_q, self.georel)
        )


def split_list(value: str | None) -> list[str] | None:
    """A comma-separated parameter; empty items are a client error, not silently dropped."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        raise BadRequestData(f"empty item in list parameter {value!r}")
    return items


def parse_type_expression(text: str, terms: TermMap) -> TypeExpr:
    """`A,B` and `A|B` mean either, `A;B` both, with parentheses (clause 4.17)."""
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TYPE_TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise BadRequestData(f"invalid type expression {text!r}")
        tokens.append(m.group(1) or m.group(2))
        pos = m.end()
    if not tokens:
        raise BadRequestData("empty type expression")
    expr, rest = _parse_or(tokens, terms)
    if rest:
        raise BadRequestData(f"invalid type expression {text!r} near {''.join(rest)!r}")
    return expr


def _parse_or(tokens: list[str], terms: TermMap) -> tuple[TypeExpr, list[str]]:
    left, tokens = _parse_and(tokens, terms)
    operands = [left]
    while tokens and tokens[0] in (",", "|"):
        right, tokens = _parse_and(tokens[1:], terms)
        operands.append(right)
    return (operands[0] if len(operands) == 1 else ("or", tuple(operands))), tokens


def _parse_and(tokens: list[str], terms: TermMap) -> tuple[TypeExpr, list[str]]:
    left, tokens = _parse_atom(tokens, terms)
    operands = [left]
    while tokens and tokens[0] == ";":
        right, tokens = _parse_atom(tokens[1:], terms)
        operands.append(right)
    return (operands[0] if len(operands) == 1 else ("and", tuple(operands))), tokens


def _parse_atom(tokens: list[str], terms: TermMap) -> tuple[TypeExpr, list[str]]:
    if not tokens:
        raise BadRequestData("type expression ends too early")
    head = tokens[0]
    if head == "(":
        expr, rest = _parse_or(tokens[1:], terms)
        if not rest or rest[0] != ")":
            raise BadRequestData("unbalanced parentheses in type expression")
        return expr, rest[1:]
    if head in "(),;|":
        raise BadRequestData(f"unexpected {head!r} in type expression")
    return terms.expand(head), tokens[1:]


def build_query(
    params: QueryParams,
    terms: TermMap,
    *,
    limit: int,
    offset: int,
    count: bool,
) -> EntityQuery:
    """Validate and expand everything the client asked for; errors name the parameter."""
    query = EntityQuery(limit=limit, offset=offset, count=count)
    query.selectors = [_selector(s, terms) for s in params.selectors]
    if params.attrs is not None:
        query.attrs = [terms.expand(a) for a in params.attrs]
    if params.q is not None:
        query.q = qlang.resolve(_parse_q(params.q), terms.expand)
    if params.scope_q is not None:
        query.scope_q = _parse_scope_q(params.scope_q)
    geo_query = _parse_geoquery(
        params.georel, params.geometry, _hashable(params.coordinates), params.geoproperty
    )
    if geo_query is not None:
        query.geo = GeoFilter(
            attribute=terms.expand(geo_query.geoproperty),
            bbox=geo_query.prefilter_bbox(),
            matches=geo_query.matches,
            georel=geo_query.georel,
            geometry=geo_query.geometry,
            max_distance=geo_query.max_distance,
            min_distance=geo_query.min_distance,
        )
    elif params.geoproperty is not None:
        raise BadRequestData("geoproperty needs georel, geometry and coordinates")
    if params.order_by is not None:
        query.order_by = parse_order_by(params.order_by, terms)
    return query


# Dashboards and map views repeat the same queries; parsing them (and preparing the query
# geometry) once saves a noticeable share of a small query's cost. All three are pure.
_parse_q = functools.lru_cache(maxsize=1024)(qlang.parse_q)
_parse_scope_q = functools.lru_cache(maxsize=256)(qlang.parse_scope_q)
_parse_geoquery = functools.lru_cache(maxsize=1024)(geo.parse_geoquery)


def _hashable(coordinates: Any) -> Any:
    """Coordinates from a JSON body arrive as lists; the cache key needs their text."""
    return coordinates if not isinstance(coordinates, list) else orjson.dumps(coordinates).decode()


def _selector(params: SelectorParams, terms: TermMap) -> EntitySelector:
    if params.ids is not None:
        for entity_id in params.ids:
            check_uri(entity_id, "id")
    if params.id_pattern is not None:
        try:
            compiled_pattern(params.id_pattern)
        except PatternError as exc:
            raise BadRequestData(f"idPattern is not a valid regular expression: {exc}") from exc
    return EntitySelector(
        ids=params.ids,
        # Clause 5.2.33: when both are given, id takes precedence over idPattern.
        id_pattern=params.id_pattern if params.ids is None else None,
        types=parse_type_expression(params.type, terms) if params.type is not None else None,
    )


def parse_order_by(text: str, terms: TermMap) -> list[tuple[str, bool]]:
    """`a,b;desc,!c`: ascending by default; `;desc` or a leading `!` (Orion's form) descends."""
    out = []
    for item in split_list(text) or []:
        name, _, direction = item.partition(";")
        descending = direction == "desc" or name.startswith("!")
        name = name.lstrip("!")
        if direction not in ("", "asc", "desc") or not name:
            raise BadRequestData(f"invalid orderBy item {item!r}")
        key = name if name in ("id", "createdAt", "modifiedAt") else terms.expand(name)
        out.append((key, descending))
    return out


def parse_paging(
    limit: str | None, offset: str | None, default_limit: int, max_limit: int
) -> tuple[int, int]:
    """limit/offset: malformed → BadRequestData, above the maximum → TooManyResults."""
    lim = _non_negative_int(limit, "limit", default_limit)
    off = _non_negative_int(offset, "offset", 0)
    if lim > max_limit:
        raise TooManyResults(f"limit {lim} exceeds the maximum of {max_limit}")
    return lim, off


def _non_negative_int(text: str | None, name: str, default: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequestData(f"{name} must be a non-negative integer, not {text!r}") from None
    if value < 0:
        raise BadRequestData(f"{name} must be a non-negative integer, not {text!r}")
    return value


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")


def check_uri(value: Any, what: str) -> str:
    """NGSI-LD ids and datasetIds are URIs (RFC 3986): a scheme, a colon, no blanks."""
    if not isinstance(value, str) or not _URI.match(value):
        raise BadRequestData(f"{what} must be a URI, not {value!r}")
    return value
