"""The NGSI-LD entity model's public face: parse input, render output, apply updates.

The work lives in entity_parse (validation, both input forms), representation (normalized,
concise, keyValues) and entity_update (the spec's update rules); callers import from here.
"""

from madina.context.entity_model import NGSI_LD_NULL, TermMap
from madina.context.entity_parse import parse_attribute, parse_attributes, parse_entity
from madina.context.entity_update import (
    Result,
    append_attributes,
    delete_attribute,
    merge_entity,
    partial_update_attribute,
    replace_attribute,
    replace_entity,
    update_attributes,
)
from madina.context.representation import best_language, render_attribute, render_entity

__all__ = [
    "NGSI_LD_NULL",
    "Result",
    "TermMap",
    "append_attributes",
    "best_language",
    "delete_attribute",
    "merge_entity",
    "parse_attribute",
    "parse_attributes",
    "parse_entity",
    "partial_update_attribute",
    "render_attribute",
    "render_entity",
    "replace_attribute",
    "replace_entity",
    "update_attributes",
]
