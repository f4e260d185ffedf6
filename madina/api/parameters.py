"""Query parameters the entity, temporal and live APIs read alike: the representation
(`options`, `format`), projections (`pick`, `omit`), attribute names, paging and `count`,
true/false flags, and the entity selection (from the URL or a Query body).

One reading for all three, so a parameter means the same and fails with the same error on
/entities, /temporal/entities and /live.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from starlette.requests import Request

from madina.api import http
from madina.context.errors import BadRequestData
from madina.context.jsonld import TermMap
from madina.context.query import QueryParams, SelectorParams, parse_paging, split_list


def flag(request: Request, name: str) -> bool:
    """A `true`/`false` parameter; false when absent, anything else a 400."""
    value = request.query_params.get(name, "false")
    if value not in ("true", "false"):
        raise BadRequestData(f"{name} must be true or false")
    return value == "true"


def representation(
    request: Request, form: str | None, forms: Collection[str], aliases: Mapping[str, str]
) -> tuple[str | None, bool]:
    """(the representation asked for, sysAttrs): `form` is the `format` parameter as the API
    takes it, and `options` may name the form too, if they agree; any other option is a
    400. None: the API's default."""
    form = aliases.get(form, form) if form else form
    options = http.options_of(request)
    for option in options:
        option = aliases.get(option, option)
        if option in forms:
            if form is not None and form != option:
                raise BadRequestData("conflicting representation options")
            form = option
        elif option != "sysAttrs":
            raise BadRequestData(f"unknown option {option!r}")
    if form is not None and form not in forms:
        raise BadRequestData(f"unknown format {form!r}")
    return form, "sysAttrs" in options


def projections(request: Request) -> tuple[set[str] | None, set[str] | None]:
    """`pick` and `omit` (clause 4.21), which exclude each other."""
    pick = _projection(request.query_params.get("pick"))
    omit = _projection(request.query_params.get("omit"))
    if pick is not None and omit is not None:
        raise BadRequestData("pick and omit cannot be used together")
    return pick, omit


def _projection(text: str | None) -> set[str] | None:
    """Names separated by `,` or `|`; linked-entity paths `a{b}` only make sense with `join`,
    which is not offered."""
    if text is None:
        return None
    if "{" in text or "}" in text:
        raise BadRequestData(f"{text!r}: nested projections need join, which is not supported")
    return set(split_list(text.replace("|", ",")) or ())


def expanded(terms: TermMap, names: list[str] | None) -> frozenset[str] | None:
    """Attribute names as the request's @context expands them; None stays None (all)."""
    return frozenset(terms.expand(n) for n in names) if names is not None else None


def paging(request: Request) -> tuple[int, int, bool]:
    """(limit, offset, count) within the settings' limits; count=true adds
    NGSILD-Results-Count, and limit=0 only makes sense with it (clause 5.5.9)."""
    settings = request.app.state.settings
    limit, offset = parse_paging(
        request.query_params.get("limit"), request.query_params.get("offset"),
        settings.default_limit, settings.max_limit,
    )
    count = flag(request, "count")
    if limit == 0 and not count:
        raise BadRequestData("limit=0 is only allowed together with count=true")
    return limit, offset, count


# -- the entity selection ----------------------------------------------------------------------
def url_query(request: Request) -> QueryParams:
    """The entities a query or purge selects, from the URL."""
    p = request.query_params
    selector = SelectorParams(
        ids=split_list(p.get("id")), id_pattern=p.get("idPattern"), type=p.get("type")
    )
    return QueryParams(
        selectors=[selector] if selector != SelectorParams() else [],
        attrs=split_list(p.get("attrs")),
        q=p.get("q"),
        scope_q=p.get("scopeQ"),
        georel=p.get("georel"),
        geometry=p.get("geometry"),
        coordinates=p.get("coordinates"),
        geoproperty=p.get("geoproperty"),
        order_by=p.get("orderBy"),
    )


def check_restricted(request: Request, params: QueryParams) -> None:
    """A query from the URL must select something, unless it asks for everything local."""
    if not params.restricts() and request.query_params.get("local") != "true":
        raise BadRequestData(
            "a query needs at least one of id, idPattern, type, attrs, q, georel or scopeQ"
        )


def body_query(body: dict[str, Any]) -> QueryParams:
    """The Query data type (clause 5.2.23) as the same parameters GET /entities takes; members
    of the wrong JSON type are a 400 here, before any parser meets them."""
    _check_strings(body, "q", "scopeQ")
    params = QueryParams(q=body.get("q"), scope_q=body.get("scopeQ"))
    selectors = body.get("entities")
    if selectors is not None:
        if not isinstance(selectors, list) or not all(isinstance(s, dict) for s in selectors):
            raise BadRequestData("entities must be a list of EntitySelectors")
        for selector in selectors:
            if "type" not in selector:
                raise BadRequestData("an EntitySelector needs a type (Table 5.2.33-1)")
            _check_strings(selector, "type", "idPattern")
            ids = selector.get("id")
            if isinstance(ids, str):
                ids = [ids]
            if ids is not None and (
                not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)
            ):
                raise BadRequestData("an EntitySelector id is a URI or a list of URIs")
            params.selectors.append(
                SelectorParams(ids=ids, id_pattern=selector.get("idPattern"),
                               type=selector.get("type"))
            )
    attrs = body.get("attrs")
    if attrs is not None:
        if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
            raise BadRequestData("attrs must be a list of attribute names")
        params.attrs = list(attrs)
    geo_q = body.get("geoQ")
    if geo_q is not None:
        if not isinstance(geo_q, dict):
            raise BadRequestData("geoQ must be an object")
        _check_strings(geo_q, "georel", "geometry", "geoproperty")
        params.georel = geo_q.get("georel")
        params.geometry = geo_q.get("geometry")
        params.coordinates = geo_q.get("coordinates")
        params.geoproperty = geo_q.get("geoproperty")
    if not params.restricts():
        raise BadRequestData("a query needs entities, attrs, q, geoQ or scopeQ")
    return params


def _check_strings(member: dict[str, Any], *names: str) -> None:
    for name in names:
        if name in member and not isinstance(member[name], str):
            raise BadRequestData(f"{name} must be a string, not {member[name]!r}")
