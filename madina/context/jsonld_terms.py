"""Term maps: a resolved JSON-LD @context reduced to what NGSI-LD names need.

Brokers cannot afford the full JSON-LD algorithms on every request, so a request's @context is
turned once into a `TermMap` (term -> IRI, prefixes, @vocab) and every attribute, type and
sub-attribute name is expanded or compacted with a dictionary lookup. Only the parts of JSON-LD
that NGSI-LD payloads rely on are honoured: simple and expanded term definitions, compact IRIs,
`@vocab`, keyword aliases (`id` -> `@id`). `@base`, `@language`, `@import`, scoped contexts and
similar keys are accepted and ignored, because names in NGSI-LD never depend on them.

The NGSI-LD core context is "on top" (ETSI GS CIM 009 clause 5.5.7; it is `@protected`): its
term definitions override any user definition of the same term, and its prefixes are visible
while user terms are defined. A user `@vocab` still replaces the core `@vocab`
(`https://uri.etsi.org/ngsi-ld/default-context/`), because `@vocab` is not a term and clients set
it precisely to move their unknown names out of the default context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from madina.context.errors import BadRequestData

# IRIs ending with one of these make a term usable as a compact-IRI prefix (JSON-LD 1.1, 4.1.4).
_GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")
# Above this many memoised names a TermMap stops memoising: names come from clients, so an
# unbounded memo would let one client grow the broker's memory without limit.
_MEMO_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class TermDefinition:
    """One term of a context: its IRI (None = explicitly unmapped) and JSON-LD coercions."""

    iri: str | None
    type: str | None = None
    container: Any = None
    prefix: bool = False


class _Memo(dict[str, str]):
    """A dict that computes and (boundedly) remembers missing names, so a hit is one lookup."""

    __slots__ = ("_compute",)

    def __init__(self, seed: Mapping[str, str], compute: Any) -> None:
        super().__init__(seed)
        self._compute = compute

    def __missing__(self, key: str) -> str:
        value: str = self._compute(key)
        if len(self) < _MEMO_LIMIT:
            self[key] = value
        return value


class TermMap:
    """Expands short NGSI-LD names to IRIs and compacts IRIs back, for one resolved @context.

    Immutable once built; safe to share between requests and tasks.
    """

    __slots__ = ("_compacted", "_definitions", "_expanded", "_iri_of", "_prefixes", "vocab")

    def __init__(self, definitions: Mapping[str, TermDefinition], vocab: str | None) -> None:
        self._definitions = dict(definitions)
        self.vocab = vocab
        self._iri_of = {t: d.iri for t, d in self._definitions.items() if d.iri is not None}
        # Compaction picks, like JSON-LD's inverse context, the shortest then least term.
        inverse: dict[str, str] = {}
        for term in sorted(self._iri_of, key=lambda t: (len(t), t)):
            inverse.setdefault(self._iri_of[term], term)
        self._prefixes = sorted(
            (d.iri, t)
            for t, d in self._definitions.items()
            if d.prefix and d.iri is not None and ":" not in t
        )
        self._expanded = _Memo(self._iri_of, self._expand_uncached)
        self._compacted = _Memo(inverse, self._compact_uncached)

    def expand(self, term: str) -> str:
        """The IRI of an attribute, type or sub-attribute name (JSON-LD IRI expansion, vocab)."""
        return self._expanded[term]

    def compact(self, iri: str) -> str:
        """The shortest name this context gives `iri`, or `iri` itself when it has none."""
        return self._compacted[iri]

    # Values of `"@type": "@vocab"` terms (VocabProperty `vocab`, `objectType`, ...) undergo the
    # same vocabulary-relative IRI expansion and compaction as names do (JSON-LD 1.1, 5.2.2 and
    # 6.2.2), so they share the algorithms and the memo.
    expand_vocab = expand
    compact_vocab = compact

    def definition(self, term: str) -> TermDefinition | None:
        """The definition of `term` (e.g. to see its `@type` coercion), None if undefined."""
        return self._definitions.get(term)

    def _expand_uncached(self, term: str) -> str:
        if term.startswith("@"):
            return term
        definition = self._definitions.get(term)
        if definition is not None and definition.iri is None:
            # Explicitly unmapped in JSON-LD would drop the member; a broker cannot drop an
            # attribute, so it falls back to @vocab like any undefined name.
            return self.vocab + term if self.vocab else term
        prefix, colon, suffix = term.partition(":")
        if colon:
            if prefix == "_" or suffix.startswith("//"):
                return term
            base = self._iri_of.get(prefix)
            if base is not None and not base.startswith("@"):
                return base + suffix
            return term
        return self.vocab + term if self.vocab else term

    def _compact_uncached(self, iri: str) -> str:
        if self.vocab and iri.startswith(self.vocab):
            suffix = iri[len(self.vocab) :]
            if suffix and self.expand(suffix) == iri:
                return suffix
        best: str | None = None
        for base, term in self._prefixes:
            if len(base) < len(iri) and iri.startswith(base):
                candidate = f"{term}:{iri[len(base) :]}"
                if (best is None or (len(candidate), candidate) < (len(best), best)) and (
                    self.expand(candidate) == iri
                ):
                    best = candidate
        return best if best is not None else iri


def build_term_map(layers: Iterable[Mapping[str, Any]], core: Mapping[str, Any]) -> TermMap:
    """Fold local context definitions (already de-referenced, in order) under the core context.

    `layers` and `core` are the JSON objects found under "@context" (term -> definition).
    """
    core_definitions, core_vocab = _process_layer(core, {}, None)
    definitions = dict(core_definitions)
    user_vocab: str | None = None
    for layer in layers:
        if not isinstance(layer, Mapping):
            raise BadRequestData(f"a local @context must be a JSON object, not {layer!r}")
        layer_definitions, layer_vocab = _process_layer(
            layer, definitions, user_vocab or core_vocab
        )
        if "@vocab" in layer:
            user_vocab = layer_vocab
        definitions.update(layer_definitions)
        definitions.update(core_definitions)  # protected: core terms win at every step
    return TermMap(definitions, user_vocab or core_vocab)


def _vocab_value(value: Any, active: Mapping[str, TermDefinition], vocab: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestData(f"@vocab must be a string or null, not {value!r}")
    prefix, colon, suffix = value.partition(":")
    if colon and prefix in active and active[prefix].iri and not suffix.startswith("//"):
        return f"{active[prefix].iri}{suffix}"
    if not colon and value and vocab:
        return vocab + value
    return value


def _process_layer(
    layer: Mapping[str, Any], active: Mapping[str, TermDefinition], vocab: str | None
) -> tuple[dict[str, TermDefinition], str | None]:
    """Define every term of one context object; terms may refer to each other in any order."""
    if "@vocab" in layer:
        vocab = _vocab_value(layer["@vocab"], active, vocab)
    defined: dict[str, TermDefinition] = {}
    pending: set[str] = set()

    def lookup(name: str) -> TermDefinition | None:
        if name in layer and not name.startswith("@"):
            return define(name)
        return active.get(name)

    def expand_id(value: str, term: str) -> str:
        if value.startswith("@"):
            return value
        if value != term:
            found = lookup(value)
            if found is not None and found.iri is not None:
                return found.iri
        prefix, colon, suffix = value.partition(":")
        if colon:
            if prefix == "_" or suffix.startswith("//") or prefix == term:
                return value
            found = lookup(prefix)
            if found is not None and found.iri is not None and not found.iri.startswith("@"):
                return found.iri + suffix
            return value
        return vocab + value if vocab else value

    def define(term: str) -> TermDefinition:
        if term in defined:
            return defined[term]
        if term in pending:
            raise BadRequestData(f"cyclic IRI mapping for term {term!r} in @context")
        pending.add(term)
        definition = _definition(term, layer[term], expand_id)
        pending.discard(term)
        defined[term] = definition
        return definition

    for term in layer:
        if not term.startswith("@") and term:
            define(term)
    return defined, vocab


def _definition(term: str, value: Any, expand_id: Any) -> TermDefinition:
    if value is None:
        return TermDefinition(None)
    if isinstance(value, str):
        iri = expand_id(value, term)
        return TermDefinition(iri, prefix=iri.endswith(_GEN_DELIMS))
    if not isinstance(value, Mapping):
        raise BadRequestData(f"invalid definition of term {term!r} in @context: {value!r}")
    raw = value.get("@id", value.get("@reverse", term))
    if raw is None:
        return TermDefinition(None)
    if not isinstance(raw, str):
        raise BadRequestData(f"@id of term {term!r} in @context must be a string")
    iri = expand_id(raw, term)
    kind = value.get("@type")
    if isinstance(kind, str):
        kind = expand_id(kind, "")
    explicit_prefix = value.get("@prefix")
    prefix = explicit_prefix if isinstance(explicit_prefix, bool) else iri.endswith(_GEN_DELIMS)
    return TermDefinition(iri, kind, value.get("@container"), prefix)
