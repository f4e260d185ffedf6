"""City configuration for domain services: frozen dataclasses built from a dict or a TOML table.

Thresholds and parameters are the city's to choose, so each domain keeps them in a frozen
dataclass with documented defaults; this module turns an operator's mapping (parsed TOML, JSON,
or a dict in code) into one, refusing keys it does not know: a misspelt threshold must fail at
start-up, not silently leave the default in force.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def from_mapping(
    cls: type[T],
    data: Mapping[str, Any],
    convert: Mapping[str, Callable[[Any], Any]] | None = None,
) -> T:
    """An instance of the dataclass `cls` from `data`; `convert` turns raw values of the named
    fields (lists, nested tables) into what the field holds. Unknown keys raise ValueError."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{cls.__name__}: expected a table, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}")
    converters = convert or {}
    kwargs = {
        key: converters[key](raw) if key in converters else raw for key, raw in data.items()
    }
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise ValueError(f"{cls.__name__}: {error}") from None


def load_toml_table(path: str | Path, table: str) -> dict[str, Any]:
    """The `[table]` of a TOML file (dotted for nested tables, e.g. "domains.traffic"); empty
    when the file has no such table, so a city configures only the domains it runs."""
    with open(path, "rb") as handle:
        document: Any = tomllib.load(handle)
    for part in table.split("."):
        if not isinstance(document, dict) or part not in document:
            return {}
        document = document[part]
    if not isinstance(document, dict):
        raise ValueError(f"[{table}] in {path} is not a table")
    return document
