"""The NGSI-LD query languages: `q` (ETSI GS CIM 009 clause 4.9) and `scopeQ` (clause 4.19).

Text is parsed into a small immutable AST. The broker resolves attribute names against the
request's @context (`resolve`), then either the store compiles the AST to SQL or `evaluate`
runs it in memory (subscriptions, and the oracle the SQL compiler is tested against). Both
must give the same answers, so the matching rules below are the single definition of what a
query means:

- A path selects, in each attribute instance, one *target*: the instance's value by kind, an
  NGSI-LD member (`observedAt`, …), a sub-attribute's value, or a path into a compound value.
- The entity matches when ANY instance of the attribute matches.
- Array targets match `==`, ranges, value lists, orderings and patterns when ANY element does;
  `!=` when NO element does. Values of different JSON types never compare equal or ordered.
- `!=`, like every other operator, needs the target to exist (clause 4.9: "A matching entity
  shall contain the target element"); a differing type then counts as unequal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from madina.context.errors import BadRequestData, TooComplexQuery
from madina.store.filters import (
    ANY_LANGUAGE,
    EQUALITY_OPS,
    INSTANCE_MEMBERS,
    ORDER_OPS,
    PATTERN_OPS,
    RELATIONSHIP_TYPES,
    VALUE_MEMBER_BY_TYPE,
    And,
    AttrPath,
    Comparison,
    Exists,
    Node,
    Or,
    PatternError,
    Range,
    ScopeMatch,
    ValueList,
    compiled_pattern,
    scope_regex,
)

MAX_QUERY_LENGTH = 4000
MAX_NESTING = 16
MAX_TERMS = 64
MAX_PATH_SEGMENTS = 8

#: Members holding timestamps: quoted DateTimes compared with them are normalised too.
TIMESTAMP_MEMBERS = frozenset({"observedAt", "createdAt", "modifiedAt", "deletedAt", "expiresAt"})

# -- lexical pieces -----------------------------------------------------------------------
_ATTR_NAME = re.compile(r"[^\W\d]\w*(?::[^\W\d]\w*)?")
_TRAIL_SEGMENT = re.compile(r"\*|[\w\-]+")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\dT])")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_BOOLEAN = re.compile(r"(true|false)(?!\w)")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^;|,()\s\"]+")
_OPERATORS = ("==", "!~=", "!=", ">=", "<=", "~=", ">", "<")
_SCOPE = re.compile(r"/(?:\w+|\+)(?:/(?:\w+|\+))*(?:/#)?|/#")
_INT64 = 2**63


def canonical_datetime(text: str) -> str | None:
    """The store's form of a DateTime (UTC, microseconds, `Z`), or None if `text` is not one.

    One fixed width makes string order time order, both here and in SQL.
    """
    m = _DATETIME.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    offset: timezone = UTC
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        offset = timezone(-delta if zone[0] == "-" else delta)
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            micro,
            tzinfo=offset,
        )
    except ValueError:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- parsing ------------------------------------------------------------------------------
class _Parser:
    """Recursive descent over the raw text; AND binds tighter than OR (clause 4.9)."""

    def __init__(self, text: str, language: str) -> None:
        if not isinstance(text, str) or not text:
            raise BadRequestData(f"Empty {language}")
        if len(text) > MAX_QUERY_LENGTH:
            raise TooComplexQuery(f"{language} longer than {MAX_QUERY_LENGTH} characters")
        self.text = text
        self.language = language
        self.pos = 0
        self.depth = 0
        self.terms = 0

    def error(self, problem: str, pos: int | None = None) -> BadRequestData:
        where = self.pos if pos is None else pos
        shown = self.text[where : where + 20] or "end of text"
        return BadRequestData(
            f"Invalid {self.language} at position {where + 1} (near {shown!r}): {problem}"
        )

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def expect(self, token: str) -> None:
        if not self.peek(token):
            raise self.error(f"expected {token!r}")
        self.pos += len(token)

    def at_term_end(self) -> bool:
        return self.pos >= len(self.text) or self.text[self.pos] in ";|)"

    def parse(self, term: Callable[[], Node], or_ops: str) -> Node:
        node = self.disjunction(term, or_ops)
        if self.pos < len(self.text):
            unbalanced = self.text[self.pos] == ")"
            raise self.error("unbalanced ')'" if unbalanced else "unexpected character")
        return node

    def disjunction(self, term: Callable[[], Node], or_ops: str) -> Node:
        items = [self.conjunction(term, or_ops)]
        while self.pos < len(self.text) and self.text[self.pos] in or_ops:
            self.pos += 1
            items.append(self.conjunction(term, or_ops))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self, term: Callable[[], Node], or_ops: str) -> Node:
        items = [self.primary(term, or_ops)]
        while self.peek(";"):
            self.pos += 1
            items.append(self.primary(term, or_ops))
        return items[0] if len(items) == 1 else And(tuple(items))

    def primary(self, term: Callable[[], Node], or_ops: str) -> Node:
        if not self.peek("("):
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise TooComplexQuery(f"{self.language} has more than {MAX_TERMS} terms")
            return term()
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise TooComplexQuery(f"{self.language} nests parentheses deeper than {MAX_NESTING}")
        self.pos += 1
        node = self.disjunction(term, or_ops)
        self.expect(")")
        self.depth -= 1
        return node

    # -- q terms ----------------------------------------------------------------------
    def q_term(self) -> Node:
        if self.peek("!") and not self.peek("!="):
            self.pos += 1
            path = self.path()
            if not self.at_term_end():
                raise self.error("a negated attribute ('!attr') takes no operator")
            return Exists(path, negated=True)
        path = self.path()
        if self.at_term_end():
            return Exists(path)
        op = next((o for o in _OPERATORS if self.peek(o)), None)
        if op is None:
            raise self.error("expected an operator (== != > >= < <= ~= !~=) or ';' '|' ')'")
        self.pos += len(op)
        if op in PATTERN_OPS:
            value: Any = self.pattern()
        elif op in EQUALITY_OPS:
            value = self.equality_value(path)
        else:
            start = self.pos
            value = self.normalise(path, self.value())
            if not _orderable(value):
                raise self.error(f"{op} needs a number, string, date or time", start)
        if not self.at_term_end():
            raise self.error("unexpected character after the value")
        return Comparison(path, op, value)

    def path(self) -> AttrPath:
        name = self.name()
        sub: list[str] = []
        while self.peek(".") and not self.peek(".."):
            self.pos += 1
            sub.append(self.name())
        if self.peek("{"):
            raise self.error("linked entity paths ('attr{...}') are not supported")
        trail: list[str] = []
        while self.peek("["):  # attr[a.b] and attr[a][b] name the same member
            self.pos += 1
            trail.append(self.trail_segment())
            while self.peek("."):
                self.pos += 1
                trail.append(self.trail_segment())
            self.expect("]")
        if len(sub) + len(trail) > MAX_PATH_SEGMENTS:
            raise TooComplexQuery(f"attribute path longer than {MAX_PATH_SEGMENTS} segments")
        return AttrPath(name, tuple(sub), (), tuple(trail))

    def name(self) -> str:
        m = _ATTR_NAME.match(self.text, self.pos)
        if m is None:
            raise self.error("expected an attribute name")
        self.pos = m.end()
        return m.group()

    def trail_segment(self) -> str:
        m = _TRAIL_SEGMENT.match(self.text, self.pos)
        if m is None:
            raise self.error("expected a member name inside [...]")
        self.pos = m.end()
        return m.group()

    def equality_value(self, path: AttrPath) -> Any:
        start = self.pos
        first = self.normalise(path, self.value())
        if self.peek(".."):
            self.pos += 2
            high = self.normalise(path, self.value())
            if not _orderable(first) or _kind(first) != _kind(high):
                raise self.error("a range needs two numbers or two strings/dates", start)
            return Range(first, high)
        if not self.peek(","):
            return first
        items = [first]
        while self.peek(","):
            self.pos += 1
            items.append(self.normalise(path, self.value()))
        return ValueList(tuple(items))

    def value(self) -> Any:
        text, pos = self.text, self.pos
        if self.peek('"'):
            literal = self.quoted()
            try:
                return json.loads(literal)
            except ValueError:
                raise self.error("invalid escape in quoted string", pos) from None
        for pattern, convert in (
            (_DATETIME, canonical_datetime),
            (_DATE, str),
            (_TIME, str),
        ):
            m = pattern.match(text, pos)
            if m is not None:
                converted = convert(m.group())
                if converted is None:
                    raise self.error("invalid DateTime", pos)
                self.pos = m.end()
                return converted
        m = _NUMBER.match(text, pos)
        if m is not None:
            self.pos = m.end()
            number = json.loads(m.group())
            return float(number) if isinstance(number, int) and abs(number) >= _INT64 else number
        for pattern in (_BOOLEAN, _URI):
            m = pattern.match(text, pos)
            if m is not None:
                self.pos = m.end()
                return {"true": True, "false": False}.get(m.group(), m.group())
        raise self.error(
            'expected a value: number, "quoted string", true/false, date/time or URI'
            " (strings need double quotes)"
        )

    def quoted(self) -> str:
        """The quoted literal at the cursor, quotes included; escapes are left to the caller."""
        i = self.pos + 1
        while i < len(self.text):
            if self.text[i] == "\\":
                i += 2
            elif self.text[i] == '"':
                literal = self.text[self.pos : i + 1]
                self.pos = i + 1
                return literal
            else:
                i += 1
        raise self.error("unterminated quoted string")

    def pattern(self) -> str:
        """A regex, quoted (only `\\"` unescaped) or raw up to a top-level `;`, `|` or `)`.

        Raw patterns keep balanced parentheses and character classes, so `(a|b)` is a regex;
        a top-level alternation must be quoted or parenthesised.
        """
        start = self.pos
        if self.peek('"'):
            source = self.quoted()[1:-1].replace('\\"', '"')
        else:
            i, depth, in_class = self.pos, 0, False
            while i < len(self.text):
                char = self.text[i]
                if char == "\\":
                    i += 2
                    continue
                if in_class:
                    in_class = char != "]"
                elif char == "[":
                    in_class = True
                elif char == "(":
                    depth += 1
                elif char == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif char in ";|" and depth == 0:
                    break
                i += 1
            source = self.text[self.pos : min(i, len(self.text))]
            self.pos = min(i, len(self.text))
        if not source:
            raise self.error("empty pattern", start)
        try:
            compiled_pattern(source)
        except PatternError as exc:
            raise self.error(f"invalid regular expression ({exc})", start) from None
        return source

    @staticmethod
    def normalise(path: AttrPath, value: Any) -> Any:
        """Quoted DateTimes compared with a timestamp member get the stored form too."""
        timestamp = bool(path.sub) and path.sub[-1] in TIMESTAMP_MEMBERS and not path.trail
        if timestamp and isinstance(value, str):
            return canonical_datetime(value) or value
        return value

    # -- scopeQ terms -----------------------------------------------------------------
    def scope_term(self) -> Node:
        m = _SCOPE.match(self.text, self.pos)
        if m is None:
            raise self.error("expected a scope such as /Madrid/Centro, /Madrid/+ or /Madrid/#")
        self.pos = m.end()
        return ScopeMatch(m.group())


def _kind(value: Any) -> str | None:
    """The JSON type family used for comparisons; bool is not a number here (unlike Python)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _orderable(value: Any) -> bool:
    return _kind(value) in ("number", "string")


def parse_q(text: str) -> Node:
    """Parse an NGSI-LD `q` (clause 4.9); raises BadRequestData naming the position."""
    parser = _Parser(text, "q")
    return parser.parse(parser.q_term, "|")


def parse_scope_q(text: str) -> Node:
    """Parse an NGSI-LD `scopeQ` (clause 4.19); `,` is an alternative spelling of `|`."""
    parser = _Parser(text, "scopeQ")
    return parser.parse(parser.scope_term, "|,")


# -- resolution ---------------------------------------------------------------------------
def resolve(node: Node, expand: Callable[[str], str]) -> Node:
    """A copy with attribute and sub-attribute names expanded; instance members stay as is."""
    if isinstance(node, And | Or):
        return type(node)(tuple(resolve(item, expand) for item in node.items))
    if isinstance(node, Comparison | Exists):
        path = node.path
        sub_expanded = tuple(s if s in INSTANCE_MEMBERS else expand(s) for s in path.sub)
        resolved = replace(
            node, path=replace(path, name=expand(path.name), sub_expanded=sub_expanded)
        )
        if isinstance(node, Comparison) and node.op in EQUALITY_OPS and not path.sub:
            resolved = replace(resolved, value=_with_vocab(node.value, expand))
        return resolved
    return node


_TERM = re.compile(r"[^\W\d][\w\-]*(?::[\w\-]+)?\Z")


def _with_vocab(value: Any, expand: Callable[[str], str]) -> Any:
    """VocabProperty values are stored expanded, so `category=="commercial"` must also match
    the IRI the request's @context gives that term; other values keep matching the literal."""
    items = value.items if isinstance(value, ValueList) else (value,)
    widened: list[Any] = []
    for item in items:
        widened.append(item)
        if isinstance(item, str) and _TERM.match(item) and expand(item) != item:
            widened.append(expand(item))
    if len(widened) == len(items):
        return value
    return ValueList(tuple(dict.fromkeys(widened)))


def attribute_names(node: Node) -> set[str]:
    """The top-level attribute names a query reads (compact or expanded, as the node holds)."""
    if isinstance(node, And | Or):
        return set().union(*(attribute_names(item) for item in node.items))
    if isinstance(node, Comparison | Exists):
        return {node.path.name}
    return set()


# -- evaluation ---------------------------------------------------------------------------
_MISSING = object()


@dataclass(frozen=True)
class _Target:
    """What a path selects in one instance. `value` is _MISSING when the target is absent."""

    value: Any
    relationship: bool = False
    language_strings: bool = False  # value is the list of every string of a languageMap

    def items(self) -> list[Any]:
        return self.value if isinstance(self.value, list) else [self.value]


def instances(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The stored instances of an attribute (a list, one per datasetId)."""
    value = doc.get(name)
    return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []


def _walk(value: Any, keys: Iterable[str]) -> Any:
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def language_strings(value: Any) -> list[str]:
    """Every string in a languageMap, however nested (mirrors SQLite's json_tree)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [s for item in value for s in language_strings(item)]
    return []


def _element_target(element: dict[str, Any], rest: tuple[str, ...]) -> _Target:
    """The value of an attribute (or sub-attribute) by its kind, then `rest` into it."""
    kind = element.get("type")
    member = VALUE_MEMBER_BY_TYPE.get(kind) if isinstance(kind, str) else None
    if member is None or member not in element:
        return _Target(_MISSING)
    value = element[member]
    if member == "value" and isinstance(value, dict) and isinstance(value.get("@value"), str):
        value = value["@value"]  # {"@type": "DateTime", "@value": "..."} compares by @value
    if member == "languageMap" and rest in ((), (ANY_LANGUAGE,)):
        return _Target(language_strings(value), language_strings=True)
    return _Target(_walk(value, rest), relationship=kind in RELATIONSHIP_TYPES)


def _target(instance: dict[str, Any], path: AttrPath) -> _Target:
    element, segments = instance, path.segments
    for i, segment in enumerate(segments):
        if segment in INSTANCE_MEMBERS:
            return _Target(_walk(element.get(segment, _MISSING), (*path.sub[i + 1 :], *path.trail)))
        child = element.get(segment)
        if not isinstance(child, dict):
            return _element_target(element, (*path.sub[i:], *path.trail))
        element = child
    return _element_target(element, path.trail)


def _equal(item: Any, value: Any) -> bool:
    kind = _kind(item)
    return kind is not None and kind == _kind(value) and item == value


def _ordered(item: Any, op: str, value: Any) -> bool:
    if _kind(item) not in ("number", "string") or _kind(item) != _kind(value):
        return False
    if op == ">":
        return item > value
    if op == ">=":
        return item >= value
    if op == "<":
        return item < value
    return item <= value


def _equality_match(item: Any, value: Any) -> bool:
    if isinstance(value, Range):
        return _ordered(item, ">=", value.low) and _ordered(item, "<=", value.high)
    if isinstance(value, ValueList):
        return any(_equal(item, v) for v in value.items)
    return _equal(item, value)


def _compare(target: _Target, op: str, value: Any) -> bool:
    if target.value is _MISSING or (target.relationship and op not in EQUALITY_OPS):
        return False
    items = target.items()
    if op == "==":
        return any(_equality_match(item, value) for item in items)
    if op == "!=":
        return not any(_equality_match(item, value) for item in items)
    if op in ORDER_OPS:
        return any(_ordered(item, op, value) for item in items)
    strings = [item for item in items if isinstance(item, str)]
    found = any(compiled_pattern(value).search(s) for s in strings)
    return found if op == "~=" else bool(strings) and not found


def _exists_in(instance: dict[str, Any], path: AttrPath) -> bool:
    if not path.sub and not path.trail:
        return True
    return _target(instance, path).value is not _MISSING


def evaluate(node: Node, doc: dict[str, Any]) -> bool:
    """Does a stored entity document match a resolved `q`?"""
    if isinstance(node, And):
        return all(evaluate(item, doc) for item in node.items)
    if isinstance(node, Or):
        return any(evaluate(item, doc) for item in node.items)
    if isinstance(node, Exists):
        found = any(_exists_in(i, node.path) for i in instances(doc, node.path.name))
        return found != node.negated
    if isinstance(node, Comparison):
        return any(
            _compare(_target(i, node.path), node.op, node.value)
            for i in instances(doc, node.path.name)
        )
    raise TypeError(f"not a q node: {node!r}")


# -- scopes -------------------------------------------------------------------------------
def evaluate_scope(node: Node, scopes: list[str]) -> bool:
    """Does an entity with these scopes match a parsed `scopeQ`?"""
    if isinstance(node, And):
        return all(evaluate_scope(item, scopes) for item in node.items)
    if isinstance(node, Or):
        return any(evaluate_scope(item, scopes) for item in node.items)
    if isinstance(node, ScopeMatch):
        regex = compiled_pattern(scope_regex(node.pattern))
        return any(isinstance(s, str) and regex.search(s) is not None for s in scopes)
    raise TypeError(f"not a scopeQ node: {node!r}")
