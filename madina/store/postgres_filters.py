"""Resolved NGSI-LD `q` / `scopeQ` ASTs as PostgreSQL boolean expressions over `e.doc` (jsonb).

The meaning of a query is defined once, by `qlang.evaluate`; this module must give exactly the
same answers (the tests run both on many queries and documents). It mirrors `sqlite_filters`:

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

Client regexes are RE2 (`qlang.evaluate` runs them so); `regex` rewrites one as the ARE the
`~` operator runs, or refuses it with `PatternError` when ARE cannot say the same thing.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from madina.store import filters

Sql = tuple[str, tuple[Any, ...]]
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


def _join(parts: list[Sql], operator: str) -> Sql:
    sql = "(" + f" {operator} ".join(p[0] for p in parts) + ")"
    return sql, tuple(itertools.chain.from_iterable(p[1] for p in parts))


def _case_when(condition: str, then: Sql, otherwise: Sql) -> Sql:
    if then == otherwise == FALSE:
        return FALSE
    return f"(CASE WHEN {condition} THEN {then[0]} ELSE {otherwise[0]} END)", then[1] + otherwise[1]


def _is(expr: str, json_type: str) -> str:
    return f"jsonb_typeof({expr}) = '{json_type}'"


def _negate(fragment: Sql) -> Sql:
    return f"(NOT {fragment[0]})", fragment[1]


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


_Leaf = Callable[[_Target], Sql]

# A test of one item, by its jsonb_typeof: {type: jsonb expression -> fragment}. Types not
# listed fail, so each test reads the type once and never compares strings with numbers.
_ItemTest = dict[str, Callable[[str], Sql]]


def _typed(value: Any, make: Callable[[str], Sql]) -> _ItemTest:
    if isinstance(value, str):
        return {"string": lambda v: make(_TEXT.format(v))}
    return {"number": lambda v: make(f"({v})::numeric")}


def _param(value: Any) -> Any:
    return value if isinstance(value, str) else _number(value)


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
        bounds = (_param(value.low), _param(value.high))
        return _typed(value.low, lambda v: (f"({v} BETWEEN %s AND %s)", bounds))
    if isinstance(value, bool):
        return {"boolean": lambda v: (f"({v} = '{json.dumps(value)}'::jsonb)", ())}
    return _typed(value, lambda v: (f"({v} = %s)", (_param(value),)))


def _order_test(op: str, value: Any) -> _ItemTest:
    return _typed(value, lambda v: (f"({v} {_SQL_OPS[op]} %s)", (_param(value),)))


def _pattern_test(pattern: str) -> _ItemTest:
    return {"string": lambda v: (f"({_TEXT.format(v)} ~ %s)", (regex(pattern),))}


_TEXT_TEST: _ItemTest = {"string": lambda v: ("true", ())}


def _dispatch(expr: str, test: _ItemTest, array: Sql | None = None) -> Sql:
    arms = [("array", array)] if array is not None else []
    arms += [(json_type, make(expr)) for json_type, make in test.items()]
    whens = " ".join(f"WHEN '{json_type}' THEN {arm[0]}" for json_type, arm in arms)
    params = tuple(itertools.chain.from_iterable(arm[1] for _, arm in arms))
    return f"(CASE jsonb_typeof({expr}) {whens} ELSE false END)", params


def _reads_strings(op: str, value: Any) -> bool:
    """Whether unwrapping a string `@value` can change this comparison's answer."""
    if op in filters.PATTERN_OPS:
        return True
    if isinstance(value, filters.ValueList):
        return any(isinstance(v, str) for v in value.items)
    if isinstance(value, filters.Range):
        return isinstance(value.low, str)
    return isinstance(value, str)


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
            exact = self.any_instance(node.path, leaf, strings)
            path = node.path
            if node.op == "==" and not path.sub and not path.trail and exact != FALSE:
                prefilter = _prefilter(path.name, node.value)
                if prefilter is not None:
                    return _join([prefilter, exact], "AND")
            return exact
        raise TypeError(f"not a q node: {node!r}")

    def exists(self, path: filters.AttrPath) -> Sql:
        if not path.sub and not path.trail:
            first = _get("e.doc", (path.name,)) + "->0"
            return f"coalesce({_is(first, 'object')}, false)", ()
        return self.any_instance(path, self.present, reads_strings=False)

    def any_instance(self, path: filters.AttrPath, leaf: _Leaf, reads_strings: bool) -> Sql:
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
        return _case_when(
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
                arm = _case_when(
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

    def any_item(self, target: _Target, test: _ItemTest) -> Sql:
        """Some item passes: array elements, every string of a languageMap, or the value."""
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
    """What stays fixed while descending one instance: the trail and the leaf."""

    trail: tuple[str, ...]
    leaf: _Leaf
    reads_strings: bool  # False: unwrapping a string @value cannot change the answer


# -- scopeQ -------------------------------------------------------------------------------
def _scope(node: filters.Node, aliases: itertools.count) -> Sql:
    if isinstance(node, filters.And):
        return _join([_scope(item, aliases) for item in node.items], "AND")
    if isinstance(node, filters.Or):
        return _join([_scope(item, aliases) for item in node.items], "OR")
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


# -- RE2 -> ARE ---------------------------------------------------------------------------
# Character sets are sorted, disjoint, inclusive code point ranges. The translation spells
# every class out as an explicit bracket, so no ARE class, case folding or word boundary
# depends on the collation or locale the `~` runs under.
Ranges = list[tuple[int, int]]

_MAX_BOUND = 255  # ARE's largest repetition count (RE2 allows 1000)
_UNIVERSE: Ranges = [(1, 0xD7FF), (0xE000, 0x10FFFF)]  # PostgreSQL text holds no NUL
_WORD: Ranges = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
_PERL = {
    "d": [(0x30, 0x39)],
    "s": [(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)],
    "w": _WORD,
}
_POSIX = {
    "alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "ascii": [(0x00, 0x7F)],
    "blank": [(0x09, 0x09), (0x20, 0x20)],
    "cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "digit": [(0x30, 0x39)],
    "graph": [(0x21, 0x7E)],
    "lower": [(0x61, 0x7A)],
    "print": [(0x20, 0x7E)],
    "punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "space": [(0x09, 0x0D), (0x20, 0x20)],
    "upper": [(0x41, 0x5A)],
    "word": _WORD,
    "xdigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
}
_CONTROL_ESCAPES = {"a": 7, "f": 12, "t": 9, "n": 10, "r": 13, "v": 11}
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
_GROUP_FLAGS = re.compile(r"\(\?([imsU]*(?:-[imsU]*)?)([:)])")
_NAMED_GROUP = re.compile(r"\(\?P?<\w+>")
_HEX = re.compile(r"x(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{2}))")
_OCTAL = re.compile(r"[0-7]{1,3}")
_WORD_ARE = "[0-9A-Za-z_]"
_WORD_BOUNDARY = f"(?:(?<={_WORD_ARE})(?!{_WORD_ARE})|(?<!{_WORD_ARE})(?={_WORD_ARE}))"


@functools.lru_cache(maxsize=256)
def regex(pattern: str) -> str:
    """The PostgreSQL ARE (for `~`) matching exactly the strings RE2 finds `pattern` in.

    Raises `filters.PatternError` for invalid RE2 and for what ARE cannot express alike:
    Unicode classes (`\\p{..}`), `\\C`, `\\B`, repetition counts above 255, repeated assertions.
    Captures and laziness cannot change whether a match exists, so groups become `(?:` and
    lazy quantifiers greedy.
    """
    filters.compiled_pattern(pattern)  # RE2 decides validity; below, the input is valid RE2
    return _Translator(pattern).translate()


def _refuse(construct: str) -> filters.PatternError:
    return filters.PatternError(f"{construct} is not supported by the PostgreSQL store")


class _Translator:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.flags: list[set[str]] = [set()]  # innermost group's flags last
        self.out: list[str] = []
        self.last = ""  # "atom", "assertion" or "" (nothing to repeat yet)

    def translate(self) -> str:
        while self.pos < len(self.src):
            self.step()
        return "".join(self.out)

    def emit(self, text: str, kind: str = "atom") -> None:
        self.out.append(text)
        self.last = kind

    @property
    def folding(self) -> bool:
        return "i" in self.flags[-1]

    def step(self) -> None:
        src, char = self.src, self.src[self.pos]
        if char == "(":
            self.open_group()
        elif char == ")":
            self.pos += 1
            self.flags.pop()
            self.emit(")")
        elif char == "|":
            self.pos += 1
            self.emit("|", "")
        elif char in "*+?" or (char == "{" and _REPEAT.match(src, self.pos)):
            self.repeat()
        elif char == "^" or char == "$":
            self.pos += 1
            multiline = "m" in self.flags[-1]
            if char == "^":
                self.emit("(?:^|(?<=\\n))" if multiline else "^", "assertion")
            else:
                self.emit("(?:$|(?=\\n))" if multiline else "$", "assertion")
        elif char == ".":
            self.pos += 1
            self.emit("." if "s" in self.flags[-1] else "[^\\n]")
        elif char == "[":
            self.emit(_bracket(self.char_class()))
        elif char == "\\":
            self.escape()
        else:
            self.pos += 1
            self.literal(ord(char))

    def open_group(self) -> None:
        flags = set(self.flags[-1])
        named = _NAMED_GROUP.match(self.src, self.pos)
        setting = _GROUP_FLAGS.match(self.src, self.pos)
        if named:
            self.pos = named.end()
        elif setting:
            self.pos = setting.end()
            on, _, off = setting.group(1).partition("-")
            flags = (flags | set(on)) - set(off)
            if setting.group(2) == ")":  # (?i) sets flags for the rest of the group
                self.flags[-1] = flags
                return
        else:
            self.pos += 1
        self.flags.append(flags)
        self.emit("(?:", "")

    def repeat(self) -> None:
        if self.last == "assertion":
            raise _refuse("Repeating an anchor or word boundary")
        m = _REPEAT.match(self.src, self.pos)
        if m is None:
            quantifier, self.pos = self.src[self.pos], self.pos + 1
        else:
            low, high = int(m.group(1)), m.group(3)
            if max(low, int(high or 0)) > _MAX_BOUND:
                raise _refuse(f"A repetition count above {_MAX_BOUND}")
            quantifier, self.pos = m.group(), m.end()
        if self.src.startswith("?", self.pos):  # lazy: the same strings match
            self.pos += 1
        self.emit(quantifier)

    def literal(self, code: int) -> None:
        if self.folding and code in _fold_orbits():
            self.emit(_bracket(_fold([(code, code)])))
        else:
            self.emit(_char(code))

    def escape(self) -> None:
        letter = self.src[self.pos + 1]
        if letter == "Q":
            end = self.src.find("\\E", self.pos + 2)
            end = len(self.src) if end < 0 else end
            for char in self.src[self.pos + 2 : end]:
                self.literal(ord(char))
            self.pos = end + 2
            return
        if letter == "B":  # RE2 runs on UTF-8 bytes: \B also holds inside a multibyte character
            raise _refuse("\\B (not a word boundary)")
        assertions = {"A": "^", "z": "\\Z", "b": _WORD_BOUNDARY}
        if letter in assertions:
            self.pos += 2
            self.emit(assertions[letter], "assertion")
            return
        single = self.class_escape()
        if isinstance(single, int):
            self.literal(single)
        else:
            self.emit(_bracket(single))

    def class_escape(self) -> int | Ranges:
        """A `\\` escape that is one character or a class; valid inside and outside `[...]`."""
        src = self.src
        letter = src[self.pos + 1]
        self.pos += 2
        if letter.lower() in _PERL:
            ranges = _PERL[letter.lower()]
            return self.fold(ranges, negated=letter.isupper())
        if letter in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[letter]
        hexadecimal = _HEX.match(src, self.pos - 1)
        if hexadecimal:
            self.pos = hexadecimal.end()
            return int(hexadecimal.group(1) or hexadecimal.group(2), 16)
        octal = _OCTAL.match(src, self.pos - 1)
        if octal:
            self.pos = octal.end()
            return int(octal.group(), 8)
        if letter in "pP":
            raise _refuse(f"The Unicode class \\{letter}")
        if letter == "C":
            raise _refuse("\\C (any byte)")
        if letter.isascii() and not letter.isalnum():
            return ord(letter)
        raise _refuse(f"The escape \\{letter}")

    def fold(self, ranges: Ranges, negated: bool = False) -> Ranges:
        """A class item as RE2 builds it: case-folded first, then negated."""
        folded = _fold(ranges) if self.folding else _normal(ranges)
        return _complement(folded) if negated else folded

    def char_class(self) -> Ranges:
        """`[...]` at the cursor, as the set of characters it matches."""
        src = self.src
        self.pos += 1
        negated = src.startswith("^", self.pos)
        self.pos += negated
        items: Ranges = []
        first = True
        while first or src[self.pos] != "]":
            first = False
            if src.startswith("[:", self.pos):
                end = src.index(":]", self.pos)
                name = src[self.pos + 2 : end]
                self.pos = end + 2
                items += self.fold(_POSIX[name.lstrip("^")], negated=name.startswith("^"))
                continue
            low = self.class_char()
            if isinstance(low, list):
                items += low
                continue
            high = low
            if src.startswith("-", self.pos) and src[self.pos + 1] != "]":
                self.pos += 1
                end = self.class_char()
                assert isinstance(end, int)  # RE2 refuses a class as a range's end
                high = end
            items += self.fold([(low, high)])
        self.pos += 1
        ranges = _normal(items)
        return _complement(ranges) if negated else ranges

    def class_char(self) -> int | Ranges:
        if self.src[self.pos] == "\\":
            if self.src[self.pos + 1] == "Q":
                raise _refuse("\\Q inside a character class")
            return self.class_escape()
        self.pos += 1
        return ord(self.src[self.pos - 1])


def _char(code: int) -> str:
    char = chr(code)
    if char.isascii() and char.isalnum():
        return char
    if 0x20 < code < 0x7F:
        return "\\" + char
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _bracket(ranges: Ranges) -> str:
    """An ARE bracket for the set, or its negation when that is shorter."""
    ranges = _intersect(_normal(ranges), _UNIVERSE)
    outside = _complement(ranges)
    if not ranges:
        return "(?:(?=a)b)"  # matches nothing, as RE2's empty class
    negated = len(outside) < len(ranges)
    shown = outside if negated else ranges
    body = "".join(
        _class_char(low) if low == high else f"{_class_char(low)}-{_class_char(high)}"
        for low, high in shown
    )
    return f"[^{body}]" if negated else f"[{body}]"


def _class_char(code: int) -> str:
    char = chr(code)
    if char.isascii() and char.isalnum():
        return char
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _normal(ranges: Iterable[tuple[int, int]]) -> Ranges:
    merged: Ranges = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _complement(ranges: Ranges) -> Ranges:
    """The characters (of any string PostgreSQL can hold) not in `ranges`."""
    gaps: Ranges = []
    start = 0
    for low, high in _normal(ranges):
        if low > start:
            gaps.append((start, low - 1))
        start = high + 1
    if start <= 0x10FFFF:
        gaps.append((start, 0x10FFFF))
    return _intersect(gaps, _UNIVERSE)


def _intersect(ranges: Ranges, other: Ranges) -> Ranges:
    return [(max(a, c), min(b, d)) for a, b in ranges for c, d in other if max(a, c) <= min(b, d)]


def _fold(ranges: Ranges) -> Ranges:
    """The set plus every character RE2's `(?i)` makes equivalent to a member."""
    ranges = _normal(ranges)
    extra = [
        (other, other)
        for code, orbit in _fold_orbits().items()
        if _contains(ranges, code)
        for other in orbit
    ]
    return _normal(ranges + extra)


def _contains(ranges: Ranges, code: int) -> bool:
    return any(low <= code <= high for low, high in ranges)


@functools.cache
def _fold_orbits() -> dict[int, tuple[int, ...]]:
    """Characters equal under Unicode simple case folding, as RE2 matches them with `(?i)`:
    keyed by a one-character `casefold()`, else `lower()` (ß and ẞ), else the character."""
    groups: dict[str, list[int]] = {}
    for code in range(0x1E944):  # no character above U+1E943 has a case mapping
        char = chr(code)
        key = next((f for f in (char.casefold(), char.lower()) if len(f) == 1), char)
        groups.setdefault(key, []).append(code)
    return {code: tuple(group) for group in groups.values() if len(group) > 1 for code in group}
