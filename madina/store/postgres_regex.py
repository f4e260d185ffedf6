"""RE2 patterns (what `qlang.evaluate` runs) rewritten as PostgreSQL AREs (what `~` runs).

Client regexes in `q` (`~=`, `!~=`), `scopeQ` patterns and `idPattern` must select the same
entities on both engines; `regex` translates one, or refuses it with `PatternError` when ARE
cannot say the same thing, so the client gets a 400 rather than a different regex.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from madina.store import filters

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
