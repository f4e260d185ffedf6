"""The `q` and `scopeQ` syntax trees, as every storage engine executes them.

`context.qlang` parses client text into these nodes and defines what they mean
(`qlang.evaluate`); the engines (`sqlite_filters`, `sqlite_values`, later PostgreSQL) compile
them. They live here, below both, because the store may import nothing of the context layer.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import re2

#: Members of an attribute instance that a dotted path may name; never expanded as terms.
INSTANCE_MEMBERS = frozenset(
    {"observedAt", "createdAt", "modifiedAt", "deletedAt", "expiresAt", "unitCode", "datasetId"}
)
#: Which member of an instance holds its value, by attribute kind (docs/internals.md).
VALUE_MEMBER_BY_TYPE = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
}
#: Kinds whose targets only take `==` and `!=` (clause 4.9: other operators do not match).
RELATIONSHIP_TYPES = frozenset({"Relationship", "ListRelationship"})
#: A trail naming no language: every string of a LanguageProperty (`color[*]==...`).
ANY_LANGUAGE = "*"

EQUALITY_OPS = frozenset({"==", "!="})
ORDER_OPS = frozenset({">", ">=", "<", "<="})
PATTERN_OPS = frozenset({"~=", "!~="})


# -- AST ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttrPath:
    name: str  # attribute name; compact as parsed, expanded IRI after resolve()
    sub: tuple[str, ...] = ()  # dotted segments after the name, compact as written
    sub_expanded: tuple[str, ...] = ()  # same segments expanded by resolve() (empty before)
    trail: tuple[str, ...] = ()  # segments inside [...]: path into the compound value

    @property
    def segments(self) -> tuple[str, ...]:
        """Sub-attribute segments to look up in a stored document (expanded once resolved)."""
        return self.sub_expanded or self.sub


@dataclass(frozen=True)
class Range:
    low: Any
    high: Any


@dataclass(frozen=True)
class ValueList:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Comparison:
    path: AttrPath
    op: str
    value: Any  # a literal (str, int, float, bool), Range, ValueList, or a regex str


@dataclass(frozen=True)
class Exists:
    path: AttrPath
    negated: bool = False


@dataclass(frozen=True)
class ScopeMatch:
    pattern: str  # e.g. "/Madrid/#"


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Comparison | Exists | ScopeMatch | And | Or


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a client's bad pattern is a 400, not a line in our log


class PatternError(ValueError):
    """A client regex RE2 cannot run; the message says why, for the client's 400."""


@functools.lru_cache(maxsize=256)
def compiled_pattern(source: str) -> Any:
    """Client regexes (`~=`, `idPattern`) run on RE2: linear time whatever the pattern, so a
    hostile `(a+)+$` cannot stall a worker as Python's backtracking `re` would. RE2 has no
    backreferences or lookarounds; such patterns are refused (PatternError). Compiled regexes
    are shared by `evaluate` and the SQL `regexp` function."""
    try:
        return re2.compile(source, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(reason) from None


def scope_regex(pattern: str) -> str:
    """The regex (for `compiled_pattern`) equivalent to one scopeQ pattern; shared with SQL.

    `+` is one level, a trailing `/#` the scope itself and everything below it, and `/#`
    alone any (non-empty) scope.
    """
    if pattern == "/#":
        return r"(?s)^.+\z"
    body, subtree = (pattern[:-2], True) if pattern.endswith("/#") else (pattern, False)
    parts = ["[^/]+" if level == "+" else re.escape(level) for level in body.split("/")]
    return "(?s)^" + "/".join(parts) + ("(?:/.*)?" if subtree else "") + r"\z"


class UnqueryableName(ValueError):
    """An attribute or member name no engine can address (the context layer answers 400)."""
