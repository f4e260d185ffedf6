"""The @context documents shipped inside the package, keyed by the URL clients use for them.

Air-gapped cities are common and ETSI's server is not always reachable, so every published
NGSI-LD core context (and the Smart Data Models context, when shipped) resolves from
`madina/data/contexts/`, never from the network.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import orjson

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"
SMART_DATA_MODELS_URL = (
    "https://raw.githubusercontent.com/smart-data-models/data-models/master/context.jsonld"
)

_ETSI = "https://uri.etsi.org/ngsi-ld/v1/"
SHIPPED_CONTEXTS: dict[str, str] = {
    _ETSI + "ngsi-ld-core-context.jsonld": "ngsi-ld-core-context.jsonld",
    **{
        f"{_ETSI}ngsi-ld-core-context-v1.{minor}.jsonld": f"ngsi-ld-core-context-v1.{minor}.jsonld"
        for minor in range(3, 10)
    },
}


@cache
def shipped_files() -> dict[str, str]:
    """URL -> file name for the shipped contexts actually present in the package."""
    folder = resources.files("madina") / "data" / "contexts"
    present = {url: name for url, name in SHIPPED_CONTEXTS.items() if (folder / name).is_file()}
    if (folder / "smart-data-models-context.jsonld").is_file():
        present[SMART_DATA_MODELS_URL] = "smart-data-models-context.jsonld"
    return present


def load_shipped(url: str) -> dict[str, Any] | None:
    """The shipped document for `url`, None if not shipped. Shared: callers must not mutate it."""
    name = shipped_files().get(url)
    return None if name is None else _read(name)


@cache
def _read(name: str) -> dict[str, Any]:
    data = (resources.files("madina") / "data" / "contexts" / name).read_bytes()
    document: dict[str, Any] = orjson.loads(data)
    return document
