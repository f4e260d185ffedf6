"""A tiny TermMap for entity-model tests: core @vocab plus a few explicit terms."""

from __future__ import annotations

from typing import ClassVar

DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
CORE = "https://uri.etsi.org/ngsi-ld/"
SDM = "https://smartdatamodels.org/dataModel.Environment/"
NOW = "2026-01-01T00:00:00.000000Z"
LATER = "2026-01-02T00:00:00.000000Z"


class Terms:
    """Same interface as madina.context.jsonld's TermMap, with a fixed context."""

    explicit: ClassVar[dict[str, str]] = {
        "location": CORE + "location",
        "observationSpace": CORE + "observationSpace",
        "operationSpace": CORE + "operationSpace",
        "AirQualityObserved": SDM + "AirQualityObserved",
        "NO2": SDM + "NO2",
    }

    def expand(self, term: str) -> str:
        if ":" in term:
            return term
        return self.explicit.get(term, DEFAULT + term)

    def compact(self, iri: str) -> str:
        for term, full in self.explicit.items():
            if full == iri:
                return term
        return iri.removeprefix(DEFAULT)

    def expand_vocab(self, value: str) -> str:
        return self.expand(value)

    def compact_vocab(self, iri: str) -> str:
        return self.compact(iri)


TERMS = Terms()


def d(name: str) -> str:
    return TERMS.expand(name)


def prop(value, **extra):
    return {"type": "Property", "value": value, **extra}


def rel(obj, **extra):
    return {"type": "Relationship", "object": obj, **extra}


def point(lon=24.9, lat=60.1):
    return {"type": "Point", "coordinates": [lon, lat]}
